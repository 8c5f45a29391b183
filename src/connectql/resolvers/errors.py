"""Turn errors raised while resolving into safe GraphQL errors (a schema extension).

ConnectorErrors carry their own safe message and `extensions {code, connector, operation,
httpStatus, retryable}`; any other exception is a bug and is masked as INTERNAL, except a
connector's value that does not fit its declared type: `ShapingExecutor` makes that
BAD_RESPONSE (`extensions.field`). GraphQL validation errors pass through untouched.
`log_errors` logs what happened, once: a bug at ERROR with its traceback, the client's
mistakes and expected upstream failures at INFO in one line (their documents and variables
never reach the log, only a hash of the document).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from typing import Any

from graphql import GraphQLError, GraphQLOutputType, GraphQLSyntaxError
from graphql.pyutils import Path
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from connectql.errors import BadResponse, ConnectorError, ConnectqlError

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


def needs_rewrite(error: GraphQLError) -> bool:
    """Masked, or given a code: raised by us or a bug, or graphql-core's own without one."""
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        return True
    return not (error.extensions or {}).get("code")


_COERCION = re.compile(
    r"^Variable '\$[^']+' (got invalid value|has invalid value|of required type .* was not "
    r"provided|of non-null type .* must not be null)"
)
"""graphql-core's messages for variables that do not fit their types (the validation rules
say other things about variables)."""


def graphql_code(error: GraphQLError) -> str:
    """The code of an error graphql-core raised itself: a document that does not parse or
    validate, variables or arguments that do not fit (the client's mistakes); any other while
    executing is ours (a connector's values that do not fit are BAD_RESPONSE before here)."""
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:
        return "BAD_USER_INPUT" if _COERCION.match(error.message) else INVALID
    return "BAD_USER_INPUT" if error.message.startswith("Argument '") else "INTERNAL"


def safe_error(error: GraphQLError) -> GraphQLError:
    """What a client sees of an error that `needs_rewrite`: a connector's or connectql's own
    message and code, graphql-core's message with its code, or a masked INTERNAL."""
    original = error.original_error
    if isinstance(original, ConnectorError):
        message, extensions = original.message, original.extensions()
    elif isinstance(original, ConnectqlError):
        message, extensions = str(original), {"code": original.code}
    elif isinstance(original, REQUEST_ERRORS):
        message, extensions = _request_error(original), {"code": "BAD_USER_INPUT"}
    elif original is None or isinstance(original, GraphQLError):
        message, extensions = error.message, {**(error.extensions or {})}
        extensions["code"] = graphql_code(error)
    else:
        message, extensions = "Internal server error", {"code": "INTERNAL"}
    return GraphQLError(
        message, error.nodes, error.source, error.positions, error.path, None, extensions
    )


def safe_errors(errors: Iterable[GraphQLError]) -> list[GraphQLError]:
    """A result's errors as clients see them (what `SafeErrors` does to strawberry's)."""
    return [safe_error(e) if needs_rewrite(e) else e for e in errors]


class SafeErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=needs_rewrite, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return safe_error(error)


def client_view(error: GraphQLError) -> dict[str, Any]:
    """`error` as a client receives it (after SafeErrors): message, locations, path and
    extensions."""
    return dict((safe_error(error) if needs_rewrite(error) else error).formatted)


class ShapingExecutor(StrawberryGraphQLCoreExecutionContext):
    """Upstream data that does not fit a connector's declared type (a non-null field missing
    or null, a string where an Int is declared, an Int beyond 32 bits, a record no union
    member matches) is the upstream's fault: BAD_RESPONSE with the field, not a bug.

    graphql-core finds these while completing values and reports them as a TypeError or a
    bare GraphQLError; for fields of a connector's types (marked in their `extensions`) they
    become BadResponse before graphql-core locates them, then null propagation runs as
    usual. Only failures reach `handle_field_error`, so the happy path pays nothing."""

    def handle_field_error(
        self,
        raw_error: Exception,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        path: Path,
    ) -> None:
        bad = _bad_value(self.schema, raw_error, return_type, field_details_list, path)
        super().handle_field_error(bad or raw_error, return_type, field_details_list, path)


def bad_value(connector: str, field: str, declared: str, where: str, reason: str) -> BadResponse:
    """The error for an upstream value at `where` (a response path) that does not fit a
    connector type's `field` (`Type.field`), declared as `declared`."""
    error = BadResponse(
        f"the upstream's value at {where} does not fit {field} ({declared}): {reason}",
        connector=connector,
    )
    error.extra["field"] = field
    return error


def _bad_value(
    schema: Any, error: Exception, return_type: GraphQLOutputType, fields: Any, path: Path
) -> BadResponse | None:
    """The BadResponse for a completion error of a connector type's field, else None."""
    if isinstance(error, TypeError) and str(error).startswith("Cannot return null"):
        reason = "it is missing or null"
    elif isinstance(error, GraphQLError) and error.path is None and error.original_error is None:
        # graphql-core's messages end with the value itself, which stays upstream
        reason = error.message.partition(": ")[0].split(". ")[0].rstrip(".")
    else:
        return None
    owner: Path | None = path
    while owner is not None and not isinstance(owner.key, str):
        owner = owner.prev  # a list item: the list field's owner
    parent = schema.type_map.get(owner.typename) if owner and owner.typename else None
    connector = (getattr(parent, "extensions", None) or {}).get("connector")
    if parent is None or connector is None:
        return None
    field = f"{parent.name}.{fields[0].node.name.value}"
    where = ".".join(str(key) for key in path.as_list())
    return bad_value(connector, field, str(return_type), where, reason)


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


def drop_tracebacks(errors: Iterable[GraphQLError] | None) -> None:
    """Once a request's errors are logged and answered: an error's traceback holds the
    frames of the execution that raised it, and they hold the executor that holds the error,
    a reference cycle that keeps the request's objects until the cyclic GC runs."""
    for error in errors or ():
        error.__traceback__ = None
        if error.original_error is not None:
            error.original_error.__traceback__ = None
