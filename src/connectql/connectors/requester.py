"""The requester: a connector's request templates, rendered into requests to send.

It holds what every request is built from: the rendering scope (`config`, plus a call's own
`args` and `keys`), the base URL and `source.headers`, and the auth strategies operations
choose between. Their secrets are known here, so anything printed can be redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from multidict import CIMultiDict

from connectql.connectors.auth import AuthContext, AuthHooks, AuthStrategy, build_auth
from connectql.connectors.callers import (
    CallerAuth,
    Forwarded,
    Forwarding,
    NeedsCaller,
    current_call,
)
from connectql.connectors.clock import Clock
from connectql.connectors.codecs import FORM_TYPE, JSON_TYPE, XML_TYPE, encode_body
from connectql.connectors.http import HttpRequest, Send
from connectql.connectors.request_template import RequestTemplate, source_header_fills
from connectql.errors import ConfigError
from connectql.spec.forwarding import headers_read
from connectql.spec.models import ConnectorSpec, Operation, RequestSpec
from connectql.spec.templates import parse_template, to_text
from connectql.spec.typeref import BINARY, parse_type_ref


class Requester:
    def __init__(
        self,
        spec: ConnectorSpec,
        config: Mapping[str, Any],
        *,
        clock: Clock,
        hooks: AuthHooks,
        send: Send,
    ) -> None:
        """`send` is the raw exchange (no auth, retry or limits) auth uses for tokens."""
        self.spec = spec
        self.name = spec.name
        self.config = config
        self.base_url = str(self.render(spec.source.base_url)).rstrip("/")
        if not urlsplit(self.base_url).scheme.startswith("http"):
            raise ConfigError(f"connector {self.name!r}: base_url must be an http(s) URL")
        per_call = {k: v for k, v in spec.source.headers.items() if headers_read(v)}
        self._caller_headers = source_header_fills(per_call)
        """Source headers that read caller headers: rendered for each call."""
        rendered = {k: self.render(v) for k, v in spec.source.headers.items() if k not in per_call}
        # a header whose value renders empty (an optional config key) is not sent
        self._headers = {k: to_text(v) for k, v in rendered.items() if v not in (None, "")}
        self._templates: dict[tuple[str, int], RequestTemplate] = {}
        """Request specs compiled, by operation and spec (`RequestTemplate.spec` is it)."""
        auth_context = AuthContext(connector=self.name, render=self.render, send=send, clock=clock)
        self.forwarding = Forwarding(spec)
        self._caller_auth: dict[str | None, CallerAuth] = {}
        """Schemes that read caller headers (None: `source.auth`): a strategy per caller."""
        schemes: list[tuple[str | None, Any]] = [(None, spec.source.auth)]
        schemes.extend(spec.source.auth_schemes.items())
        for scheme_name, scheme in schemes:
            if self.forwarding.auth_reads.get(scheme_name):
                self._caller_auth[scheme_name] = CallerAuth(
                    self._caller_strategy(scheme, send, clock, hooks)
                )
        self.auth: AuthStrategy = (
            NeedsCaller(self.name)
            if None in self._caller_auth
            else build_auth(spec.source.auth, auth_context, hooks)
        )
        self.auth_schemes: dict[str, AuthStrategy] = {
            name: NeedsCaller(self.name)
            if name in self._caller_auth
            else build_auth(scheme, auth_context, hooks)
            for name, scheme in spec.source.auth_schemes.items()
        }
        """The named alternatives to `auth`, for operations that choose one."""

    # --- templating ----------------------------------------------------------------------

    def scope(
        self, values: Mapping[str, Any] | None = None, forwarded: Forwarded | None = None
    ) -> dict[str, Any]:
        """What templates may name: `config`, a call's own namespaces (`args`, `keys`), and
        the caller headers it forwards (`request`)."""
        scope = {"config": self.config, **(values or {})}
        if forwarded is not None:
            scope["request"] = forwarded.namespace
        return scope

    def render(self, text: str) -> Any:
        """Render a template of the connector's own (`{config.token}` → value)."""
        return parse_template(text).render(self.scope())

    # --- auth and secrets ----------------------------------------------------------------

    def auth_for(self, op: Operation, forwarded: Forwarded | None = None) -> AuthStrategy:
        """How `op` authenticates: its own scheme (`auth: NAME`), else `source.auth`; for a
        scheme that reads caller headers, the strategy of this caller."""
        per_caller = self._caller_auth.get(op.auth)
        if per_caller is not None and forwarded is not None:
            return per_caller.for_caller(forwarded)
        return self.auth if op.auth is None else self.auth_schemes[op.auth]

    def _caller_strategy(
        self, scheme: Any, send: Send, clock: Clock, hooks: AuthHooks
    ) -> Callable[[Forwarded], AuthStrategy]:
        """How a scheme reading caller headers is built for one caller."""

        def build(forwarded: Forwarded) -> AuthStrategy:
            def render(text: str) -> Any:
                return parse_template(text).render(self.scope(forwarded=forwarded))

            context = AuthContext(connector=self.name, render=render, send=send, clock=clock)
            return build_auth(scheme, context, hooks)

        return build

    def secrets(self) -> set[str]:
        values = {str(self.config[k]) for k in self.spec.secret_keys() if self.config.get(k)}
        for strategy in (self.auth, *self.auth_schemes.values()):
            values.update(s for s in strategy.secrets() if s)
        call = current_call()
        if call is not None:  # the caller headers of the call running now, and its tokens
            values.update(v for v in call.secrets() if v)
            for per_caller in self._caller_auth.values():
                held = per_caller.held(call)
                values.update(s for s in (held.secrets() if held else []) if s)
        return values

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets(), key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "[redacted]")
        return text

    # --- request building ----------------------------------------------------------------

    def build_request(
        self,
        op_name: str,
        spec: RequestSpec,
        scope: Mapping[str, Any],
        *,
        list_join: str | None = ",",
        forwarded: Forwarded | None = None,
    ) -> HttpRequest:
        """Render a request template; path values are percent-encoded, code never runs.
        An argument used whole is written in its OpenAPI `style` (connectors/styles.py);
        `{keys}` lists are joined by `list_join` (repeated when None)."""
        template = self._templates.get((op_name, id(spec)))
        if template is None or template.spec is not spec:
            template = self._compile(op_name, spec)
        return template.render(self.scope(scope, forwarded), list_join)

    def _compile(self, op_name: str, spec: RequestSpec) -> RequestTemplate:
        """`spec` compiled for `op_name`, kept for its later calls."""
        op = self.spec.operations.get(op_name)
        template = RequestTemplate(
            self.name,
            op_name,
            spec,
            args=op.args if op is not None else {},
            root=self.root(spec),
            headers=self._headers,
            header_fills=self._caller_headers,
            accept=_accept(op) if op is not None else None,
            timeout=(op.timeout if op else None) or self.spec.source.timeouts.total,
        )
        self._templates[op_name, id(spec)] = template
        return template

    def root(self, spec: RequestSpec) -> str:
        """The API root `spec` is appended to: its own `base_url`, else the source's."""
        if spec.base_url is None:
            return self.base_url
        return to_text(self.render(spec.base_url)).rstrip("/")

    def hosts(self) -> set[str]:
        """Every host the spec's request templates reach (`base_url`s), for the egress check."""
        roots = {self.base_url}
        for op in self.spec.operations.values():
            for spec in (op.request, op.batch.request if op.batch else None):
                if spec is not None and spec.base_url is not None:
                    roots.add(self.root(spec))
        return {urlsplit(root).netloc for root in roots}

    def build_call(
        self,
        op: Operation,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        forwarded: Forwarded | None = None,
    ) -> HttpRequest:
        """The request of an operation hook's call (`Connector.call`), no template involved:
        `url` is a path under base_url or a full URL."""
        full = url if url.startswith(("http://", "https://")) else self.base_url + url
        sent = self._source_headers(self.scope(forwarded=forwarded))
        sent.update(headers or {})
        request = HttpRequest(
            method,
            full,
            [(k, to_text(v)) for k, v in (params or {}).items() if v is not None],
            sent,
            None,
            op.timeout or self.spec.source.timeouts.total,
        )
        if "Accept" not in request.headers and (accept := _accept(op)):
            request.headers["Accept"] = accept
        if json is not None or form is not None:
            fmt, value = ("json", json) if json is not None else ("form", form)
            request.body, content_type = encode_body(value, fmt)
            request.headers["Content-Type"] = content_type
        elif data is not None:
            request.body = data
            request.headers.setdefault("Content-Type", "application/octet-stream")
        return request

    def _source_headers(self, scope: Mapping[str, Any]) -> CIMultiDict[str]:
        """`source.headers`: the fixed ones, and those reading caller headers rendered now."""
        headers: CIMultiDict[str] = CIMultiDict(self._headers)
        for name, fill in self._caller_headers:
            text = fill(scope)
            if text is not None:
                headers[name] = text
        return headers


ACCEPT = {"json": JSON_TYPE, "xml": XML_TYPE, "form": FORM_TYPE, "text": "text/plain"}
ACCEPT_DEFAULT = f"{JSON_TYPE}, */*;q=0.8"
"""Without `response.format` the body is parsed by its Content-Type: JSON preferred."""


def _accept(op: Operation) -> str | None:
    """The Accept header for the media type the spec chose; None (aiohttp's `*/*`) for a
    Binary result, which takes any body."""
    if op.response.format is not None:
        return ACCEPT[op.response.format]
    if parse_type_ref(op.response.type).base == BINARY:
        return None
    return ACCEPT_DEFAULT
