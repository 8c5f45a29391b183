"""Turn errors raised while resolving into safe GraphQL errors (a schema extension).

ConnectorErrors carry their own safe message and `extensions {code, connector, operation,
httpStatus, retryable}`; any other exception is a bug and is masked as INTERNAL. GraphQL
validation errors pass through untouched. `log_errors` logs what happened, once: a bug at
ERROR with its traceback, the client's mistakes and expected upstream failures at INFO in
one line (their documents and variables never reach the log).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

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
            message, extensions = "Internal server error", {"code": "INTERNAL"}
        return GraphQLError(
            message, error.nodes, error.source, error.positions, error.path, None, extensions
        )


def log_errors(errors: Iterable[GraphQLError]) -> None:
    """Log a request's errors before they are masked (strawberry's `process_errors`)."""
    for error in errors:
        original = error.original_error
        where = ".".join(str(p) for p in error.path) if error.path else "-"
        if original is None or isinstance(original, GraphQLError):
            log.info("request refused: %s", error.message)
        elif isinstance(original, ConnectorError):
            log.info("%s at %s: %s", original.code, where, original.message)
        elif isinstance(original, ConnectqlError):
            log.info("%s at %s: %s", original.code, where, original)
        else:
            log.error("unexpected error at %s", where, exc_info=original)
