"""The error handler: what an upstream answer that is not a plain success means.

A status goes through the `errors:` tables (the operation's, then the source's) to a result
(null, an empty list) or a typed error, shaped by a custom rule; an error reported inside a
2xx body (Slack's `{"ok": false}`) is read by `source.body_errors`. Whether to try again is
the exchange's to decide; these say what the spec asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from connectql.connectors.clock import Clock
from connectql.connectors.codecs import decode_body
from connectql.connectors.http import HttpResponse
from connectql.connectors.record_selector import compiled_path
from connectql.connectors.retry import retry_after_from
from connectql.errors import AuthError, BadResponse, ConnectorError, RateLimited, UpstreamError
from connectql.spec.models import BodyMatch, ConnectorSpec, CustomError, ErrorAction, Operation

MAX_UPSTREAM_MESSAGE = 500
"""Longest upstream error message passed on (a spec opts in with `message_path`)."""


@dataclass(frozen=True)
class Mapped:
    """A result chosen by the `errors:` table instead of a response body."""

    value: Any


class ErrorHandler:
    def __init__(self, spec: ConnectorSpec, clock: Clock, redact: Callable[[str], str]) -> None:
        """`redact` cleans a message taken from an upstream body of the connector's secrets."""
        self.spec = spec
        self.name = spec.name
        self.clock = clock
        self._redact = redact

    # --- errors inside a 2xx body ----------------------------------------------------------

    def body_error(self, response: HttpResponse) -> str | None:
        """`auth`, `rate_limit`, `not_found` or `error` for an error inside a 2xx body."""
        rules = self.spec.source.body_errors
        if rules is None:
            return None
        if rules.header is not None and rules.header not in response.headers:
            return None
        body = lenient_json(response)
        if rules.when is not None and (body is None or not _matches(rules.when, body)):
            return None
        code = compiled_path(rules.code_path).get(body)
        if code in rules.auth_codes:
            return "auth"
        if code in rules.rate_limit_codes:
            return "rate_limit"
        if code in rules.not_found_codes:
            return "not_found"
        return "error"

    def body_error_exception(
        self, op_name: str, response: HttpResponse, kind: str
    ) -> ConnectorError:
        rules = self.spec.source.body_errors
        assert rules is not None
        code = compiled_path(rules.code_path).get(lenient_json(response))
        where: dict[str, Any] = {"connector": self.name, "operation": op_name, "status": 200}
        error: ConnectorError
        if kind == "auth":
            error = AuthError(f"the upstream refused the credentials ({code})", **where)
        elif kind == "rate_limit":
            wait = retry_after_from(response.headers, self.clock.time())
            error = RateLimited(
                f"the upstream is rate limiting ({code})", retry_after=wait, **where
            )
        else:
            error = UpstreamError(f"the upstream reported an error: {code}", **where)
            if rules.code is not None:
                error.code = rules.code
        if rules.message_path is not None:
            found = compiled_path(rules.message_path).get(lenient_json(response))
            if isinstance(found, str) and found:
                error.message = self._redact(found)[:MAX_UPSTREAM_MESSAGE]
                error.args = (error.message,)
        error.extra["upstreamCode"] = code
        return error

    # --- error statuses ------------------------------------------------------------------

    def action_for(self, op: Operation, status: int, body: Any) -> ErrorAction | str:
        """The errors-table entry for `status` (operation's first), a rule list resolved by
        the body: the first rule whose `when` matches, else a plain error."""
        for table in (op.errors, self.spec.source.errors):
            for key in (str(status), f"{status // 100}xx", "default"):
                if key in table:
                    action = table[key]
                    if isinstance(action, list):
                        return next((r for r in action if _rule_applies(r, body)), "error")
                    if isinstance(action, CustomError) and not _rule_applies(action, body):
                        return "error"
                    return action
        return "error"

    def status_error(
        self,
        op_name: str,
        status: int,
        kind: int,
        action: ErrorAction | str,
        retry_after: float | None,
        body: Any,
    ) -> ConnectorError:
        """The typed error for a status (`kind`: the status it counts as, e.g. a rate-limit
        403 counts as 429), shaped further by a custom rule from the errors table."""
        where: dict[str, Any] = {"connector": self.name, "operation": op_name, "status": status}
        error: ConnectorError
        if kind == 429:
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            reset = self.clock.time() + retry_after if retry_after is not None else None
            error = RateLimited(
                f"the upstream is rate limiting (HTTP {status}){wait}",
                retry_after=retry_after,
                reset_at=reset,
                **where,
            )
        elif kind in (401, 403):
            error = AuthError(
                f"the upstream refused the credentials (HTTP {status})"
                if kind == 401
                else f"the upstream denied access (HTTP {status})",
                **where,
            )
        elif kind == 404:
            error = UpstreamError(
                "the upstream has no such resource (HTTP 404)", code="NOT_FOUND", **where
            )
        else:
            error = UpstreamError(
                f"the upstream answered HTTP {status}", retryable=status >= 500, **where
            )
        if isinstance(action, CustomError):
            self._apply_rule(error, action, body)
        return error

    def _apply_rule(self, error: ConnectorError, rule: CustomError, body: Any) -> None:
        """Apply a spec's error rule: code, message (maybe from the body), details."""
        if rule.code is not None:
            error.code = rule.code
        if rule.retryable is not None:
            error.retryable = rule.retryable
        message = rule.message
        if rule.message_path is not None:
            found = compiled_path(rule.message_path).get(body)
            if isinstance(found, str) and found:
                message = self._redact(found)[:MAX_UPSTREAM_MESSAGE]
        if message:
            error.message = message
            error.args = (message,)
        if rule.details_path is not None:
            details = compiled_path(rule.details_path).get(body)
            if details is not None:
                error.extra["details"] = details
        if rule.upstream_code_path is not None:
            code = compiled_path(rule.upstream_code_path).get(body)
            if code is not None:
                error.extra["upstreamCode"] = code


def retry_explicit(action: ErrorAction | str) -> bool:
    """An explicit `retry` in errors: is the spec author's word that retrying is safe."""
    return action == "retry" or (isinstance(action, CustomError) and action.retry)


def retry_by_policy(action: ErrorAction | str) -> bool:
    """Whether `source.retry` still decides: a plain error does, and so does a rule that only
    shapes the error, unless it says retryable: false."""
    return action == "error" or (isinstance(action, CustomError) and action.retryable is not False)


def mapped_result(action: ErrorAction | str) -> Mapped | None:
    """The result `errors:` gives the status instead of an error: null or an empty list."""
    if action is None or action == "null":
        return Mapped(None)
    if action == "empty":
        return Mapped([])
    return None


def lenient_json(response: HttpResponse) -> Any:
    """The body as JSON if it is JSON (or as XML decodes, if XML: S3's `<Error>`), else
    None: for matching error rules."""
    if response.body and "xml" in response.content_type:
        try:
            return decode_body(response.body, response.content_type, "xml")
        except BadResponse:
            return None
    if not response.body or "json" not in (response.content_type or "json"):
        return None
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return None


def _matches(test: BodyMatch, body: Any) -> bool:
    return body is not None and compiled_path(test.path).get(body) == test.equals


def _rule_applies(rule: CustomError, body: Any) -> bool:
    return rule.when is None or _matches(rule.when, body)
