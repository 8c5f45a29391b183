"""Turn errors raised while resolving into safe GraphQL errors (a schema extension).

ConnectorErrors carry their own safe message and `extensions {code, connector, operation,
httpStatus, retryable}`; any other exception is a bug and is masked as INTERNAL. GraphQL
validation errors pass through untouched. `log_errors` logs what happened, once: a bug at
ERROR with its traceback, the client's mistakes and expected upstream failures at INFO in
one line (their documents and variables never reach the log, only a hash of the document).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from connectql.errors import ConnectorError, ConnectqlError

log = logging.getLogger("connectql.graphql")
INVALID = "GRAPHQL_VALIDATION_FAILED"
"""How the log names a refusal without a code of its own (graphql-core's)."""


REQUEST_ERRORS = (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError)
"""strawberry's refusals of a request (no operation to run, or not of an allowed type): the
client's mistake, which its WebSocket path reports as a bare exception."""


def _request_error(error: Exception) -> str:
    if isinstance(error, CannotGetOperationTypeError):
        return error.as_http_error_reason()
    if isinstance(error, InvalidOperationTypeError):
        return f"{error.operation_type.value} operations are not allowed here"
    return str(error)


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
        elif isinstance(original, REQUEST_ERRORS):
            message, extensions = _request_error(original), {"code": "BAD_USER_INPUT"}
        else:
            message, extensions = "Internal server error", {"code": "INTERNAL"}
        return GraphQLError(
            message, error.nodes, error.source, error.positions, error.path, None, extensions
        )


def log_errors(errors: Iterable[GraphQLError]) -> None:
    """Log a request's errors before they are masked (strawberry's `process_errors`). A
    refused request (a document or variables in error) is one line of codes and the
    document's hash: the messages may quote the document and the variables."""
    refused: list[GraphQLError] = []
    for error in errors:
        original = error.original_error
        where = ".".join(str(p) for p in error.path) if error.path else "-"
        if original is None or isinstance(original, (GraphQLError, *REQUEST_ERRORS)):
            refused.append(error)
        elif isinstance(original, ConnectorError):
            log.info("%s at %s: %s", original.code, where, original.message)
        elif isinstance(original, ConnectqlError):
            log.info("%s at %s: %s", original.code, where, original)
        else:
            log.error("unexpected error at %s", where, exc_info=original)
    if refused:
        codes = sorted({str((e.extensions or {}).get("code", INVALID)) for e in refused})
        source = next((e.source.body for e in refused if e.source is not None), None)
        digest = hashlib.sha256(source.encode()).hexdigest()[:12] if source else "-"
        log.info("request refused: %s (document %s)", ", ".join(codes), digest)
