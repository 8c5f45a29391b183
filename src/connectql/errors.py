"""The one error tree of connectql, grouped by what the caller should do.

    ConnectqlError
    ├── SpecError            a connector spec is wrong: fix the file (file, line, column, path)
    │   └── SpecErrors       several SpecErrors found in one pass
    ├── ConfigError          connectql.yaml or a connector's config is wrong or incomplete
    ├── SchemaBuildError     the running connectors cannot form one GraphQL schema
    │   └── FieldClash       two fields want one root name (also a SpecErrors: located)
    ├── ControlError         a management request cannot be carried out
    │   ├── NotFound         no such connector (or version)
    │   ├── Conflict         the name is taken, or the change would break clients
    │   ├── Forbidden        the caller's key does not allow this
    │   └── LinkInvalid      a join between connectors does not fit them (each problem)
    └── ConnectorError       a call through a connector failed
        ├── UpstreamError    the upstream failed or answered badly (status, retryable)
        │   ├── UpstreamTimeout
        │   ├── UpstreamUnavailable   connection refused or reset
        │   └── BadResponse           the body could not be parsed as declared
        ├── AuthError        credentials were refused or could not be obtained
        ├── RateLimited      the upstream (or our own limiter) said wait (retry_after)
        └── CircuitOpen      the breaker is open; no call was made

Every message is safe to show a client: no secret, no URL with credentials and no raw
upstream body is ever put into one. `code` is the GraphQL `extensions.code`.

This module imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


class ConnectqlError(Exception):
    """Root of every error connectql raises on purpose."""

    code = "INTERNAL"


@dataclass(frozen=True)
class SpecLocation:
    """Where a spec problem is: file, 1-based line and column, and the spec path."""

    file: str
    line: int | None
    column: int | None
    path: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where} {self.path}" if self.path else where


class SpecError(ConnectqlError):
    code = "SPEC_INVALID"

    def __init__(self, message: str, location: SpecLocation) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}")


class SpecErrors(SpecError):
    """Every problem found in one spec, reported at once."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        ConnectqlError.__init__(self, "\n".join(str(e) for e in self.errors))
        self.message = first.message
        self.location = first.location


class ConfigError(ConnectqlError):
    code = "CONFIG_INVALID"


class SchemaBuildError(ConnectqlError):
    code = "SCHEMA_BUILD_FAILED"


class FieldClash(SchemaBuildError, SpecErrors):
    """Root fields of several owners share a name (a connector mounted at the roots with
    `connector.namespace: false`): each error is at the spec line of a clashing operation,
    so callers that answer spec problems (createConnector, the CLI) answer these alike."""

    def __init__(self, errors: Sequence[SpecError], *, connector: str, operation: str) -> None:
        SpecErrors.__init__(self, errors)
        self.connector = connector
        self.operation = operation


class ControlError(ConnectqlError):
    code = "BAD_REQUEST"


class NotFound(ControlError):
    code = "NOT_FOUND"


class Conflict(ControlError):
    code = "CONFLICT"


class Forbidden(ControlError):
    code = "FORBIDDEN"


class LinkInvalid(ControlError):
    """A link (a join between connectors) does not fit them: every problem, each with the
    key of the link it is at (`operation`, `args.email`)."""

    code = "LINK_INVALID"

    def __init__(self, link: str, problems: Sequence[tuple[str, str]]) -> None:
        self.link = link
        self.problems = list(problems)
        super().__init__(
            f"link {link}: " + "; ".join(f"{path}: {message}" for path, message in problems)
        )


class ConnectorError(ConnectqlError):
    """A call through a connector failed; `retryable` says whether trying again may help."""

    code = "CONNECTOR_ERROR"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        connector: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.connector = connector
        self.operation = operation
        self.extra: dict[str, object] = {}
        """More extensions a spec's error rule chose (details, upstreamCode)."""
        self.status = status
        if retryable is not None:
            self.retryable = retryable
        if code is not None:
            self.code = code

    def extensions(self) -> dict[str, object]:
        """The GraphQL `extensions` of this error."""
        return {
            "code": self.code,
            "connector": self.connector,
            "operation": self.operation,
            "httpStatus": self.status,
            "retryable": self.retryable,
            **self.extra,
        }


class UpstreamError(ConnectorError):
    code = "UPSTREAM_ERROR"


class UpstreamTimeout(UpstreamError):
    code = "UPSTREAM_TIMEOUT"
    retryable = True


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"
    retryable = True


class BadResponse(UpstreamError):
    code = "BAD_RESPONSE"


class AuthError(ConnectorError):
    code = "UNAUTHENTICATED"


class RateLimited(ConnectorError):
    code = "RATE_LIMITED"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        reset_at: float | None = None,
        **kw: object,
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.reset_at = reset_at
        """Epoch seconds when the upstream's quota resets, if it said."""

    def extensions(self) -> dict[str, object]:
        ext = super().extensions()
        ext["retryAfter"] = self.retry_after
        if self.reset_at is not None:
            ext["resetAt"] = datetime.fromtimestamp(self.reset_at, UTC).isoformat()
        return ext


class CircuitOpen(ConnectorError):
    code = "CIRCUIT_OPEN"
    retryable = True
