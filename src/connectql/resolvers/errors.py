"""Turn errors raised while resolving into safe GraphQL errors (a schema extension).

ConnectorErrors carry their own safe message and `extensions {code, connector, operation,
httpStatus, retryable}`; any other exception is a bug and is masked as INTERNAL (and logged
with its traceback). GraphQL validation errors pass through untouched.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from connectql.errors import ConnectorError, ConnectqlError

log = logging.getLogger("connectql.graphql")


def _needs_rewrite(error: GraphQLError) -> bool:
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


class SafeErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_needs_rewrite, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, ConnectorError):
            message, extensions = original.message, original.extensions()
        elif isinstance(original, ConnectqlError):
            message, extensions = str(original), {"code": original.code}
        else:
            log.error("unexpected error in resolver at %s", error.path, exc_info=original)
            message, extensions = "Internal server error", {"code": "INTERNAL"}
        return GraphQLError(
            message, error.nodes, error.source, error.positions, error.path, None, extensions
        )
