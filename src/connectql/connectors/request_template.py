"""A request template compiled once: a `RequestSpec` as literal parts and getters.

The requester compiles each request spec it is asked to build the first time (`compile`):
the path into literal text and getters that percent-encode a value in its argument's style,
each query parameter and header into its pairs or text (a constant when the template holds
no placeholder), the body into a renderer (its encoded bytes, when it holds none), and the
root URL, the Accept header and the timeout once. `RequestTemplate.render` then only fills in
a call's values: no template is parsed and no spec model is read per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from multidict import CIMultiDict

from connectql.connectors.codecs import encode_body
from connectql.connectors.http import HttpRequest
from connectql.connectors.styles import header_text, path_text, query_pairs
from connectql.errors import ConnectorError
from connectql.spec.models import ArgSpec, RequestSpec
from connectql.spec.templates import (
    Placeholder,
    compile_value,
    is_literal_value,
    lone_placeholder,
    parse_template,
    placeholder_arg,
    to_text,
)

Scope = Mapping[str, Any]
PathFill = Callable[[Scope, str], str]
"""A path placeholder's text for a scope, percent-encoded; its lists joined by the str."""
QueryFill = Callable[[Scope, str | None], list[tuple[str, str]]]
"""A query parameter's pairs for a scope; `{keys}` lists joined by the str (None: repeated)."""
HeaderFill = tuple[str, Callable[[Scope], str | None]]
"""A header's name and its value for a scope (None: the header is not set)."""


def source_header_fills(headers: Mapping[str, Any]) -> list[HeaderFill]:
    """`source.headers` that vary per call (they read caller headers); one that renders
    empty is not sent."""

    def fill(raw: Any) -> Callable[[Scope], str | None]:
        render = compile_value(raw)

        def text(scope: Scope) -> str | None:
            value = render(scope)
            return None if value in (None, "") else to_text(value)

        return text

    return [(name, fill(raw)) for name, raw in headers.items()]


class RequestTemplate:
    def __init__(
        self,
        connector: str,
        op_name: str,
        spec: RequestSpec,
        *,
        args: Mapping[str, ArgSpec],
        root: str,
        headers: Mapping[str, str],
        header_fills: list[HeaderFill],
        accept: str | None,
        timeout: float,
    ) -> None:
        """`headers`: the connector's fixed headers; `header_fills`: those it renders per
        call; `accept`: the Accept header sent unless a template sets one."""
        self.spec = spec
        self._connector = connector
        self._op_name = op_name
        self._method = spec.method
        self._root = root
        self._timeout = timeout
        self._path: list[str | tuple[Placeholder, PathFill]] = [
            part if isinstance(part, str) else (part, _path_fill(part, args))
            for part in parse_template(spec.path).parts
        ]
        self._query = [_query_fill(name, raw, args) for name, raw in spec.query.items()]
        fixed: CIMultiDict[str] = CIMultiDict(headers)
        fills = list(header_fills)
        for name, raw in spec.headers.items():
            arg = args.get(placeholder_arg(lone_placeholder(raw)) or "")
            explode = bool(arg is not None and arg.explode)
            if is_literal_value(raw):  # set last of all so far: nothing before it can win
                fills = [(n, f) for n, f in fills if n.lower() != name.lower()]
                fixed[name] = header_text(compile_value(raw)({}), explode) or ""
            else:
                fills.append((name, _header_fill(raw, explode)))
        self._accept: str | None = None
        if accept is not None and "Accept" not in fixed:
            if any(n.lower() == "accept" for n, _ in fills):
                self._accept = accept  # decided per call, after the templates
            else:
                fixed["Accept"] = accept
        self._headers = fixed
        self._header_fills = fills
        self._body = _body_fill(spec)

    def render(self, scope: Scope, list_join: str | None = ",") -> HttpRequest:
        """The request for `scope`: path values percent-encoded, code never run. An argument
        used whole is written in its OpenAPI `style`; `{keys}` lists are joined by
        `list_join` (repeated when None)."""
        join = list_join or ","
        segments: list[str] = []
        for part in self._path:
            if isinstance(part, str):
                segments.append(part)
                continue
            placeholder, fill = part
            filled = fill(scope, join)
            if not filled:  # `/users//repos` reaches another resource, or none
                raise ConnectorError(
                    f"{placeholder.text} is empty (or a name with an empty, . or .. segment), "
                    "and it fills a path segment",
                    connector=self._connector,
                    operation=self._op_name,
                    code="BAD_USER_INPUT",
                )
            segments.append(filled)
        params: list[tuple[str, str]] = []
        for query in self._query:
            params.extend(query(scope, list_join))
        headers = self._headers.copy()
        for name, header in self._header_fills:
            text = header(scope)
            if text is not None:
                headers[name] = text
        if self._accept is not None and "Accept" not in headers:
            headers["Accept"] = self._accept
        body: bytes | None = None
        if self._body is not None:
            body, content_type = self._body(scope)
            if content_type is None:  # an optional body left out: no body, no Content-Type
                headers.popall("Content-Type", None)
            else:
                headers.setdefault("Content-Type", content_type)
        return HttpRequest(
            self._method, self._root + "".join(segments), params, headers, body, self._timeout
        )


def _path_fill(placeholder: Placeholder, args: Mapping[str, ArgSpec]) -> PathFill:
    """One path placeholder, percent-encoded: an argument in its style (default `simple`)."""
    get = placeholder.get
    name = placeholder_arg(placeholder)
    arg = args.get(name) if name is not None else None
    if name is None or arg is None:
        return lambda scope, join: quote(to_text(get(scope), join), safe="")
    if arg.allow_reserved:  # a resource name: its `/` stays, no segment may climb or vanish

        def reserved(scope: Scope, join: str) -> str:
            segments = to_text(get(scope), join).split("/")
            if any(s in ("", ".", "..") for s in segments):
                return ""
            return "/".join(quote(s, safe="") for s in segments)

        return reserved
    arg_name, style, explode = name, arg.style or "simple", arg.explode
    return lambda scope, join: path_text(arg_name, get(scope), style, explode)


def _query_fill(name: str, raw: Any, args: Mapping[str, ArgSpec]) -> QueryFill:
    render = compile_value(raw)
    lone = lone_placeholder(raw)
    arg = args.get(placeholder_arg(lone) or "")
    style = arg.style if arg is not None and arg.style else "form"
    explode = arg.explode if arg else None
    if lone is not None and lone.namespace == "keys":

        def keys(scope: Scope, list_join: str | None) -> list[tuple[str, str]]:
            value = render(scope)
            if not isinstance(value, list):
                return query_pairs(name, value, style, explode)
            if list_join is None:
                return [(name, to_text(v, ",")) for v in value]
            return [(name, to_text(value, list_join))]

        return keys
    if is_literal_value(raw):
        pairs = query_pairs(name, render({}), style, explode)
        return lambda scope, list_join: pairs
    return lambda scope, list_join: query_pairs(name, render(scope), style, explode)


def _header_fill(raw: str, explode: bool) -> Callable[[Scope], str | None]:
    render = compile_value(raw)
    return lambda scope: header_text(render(scope), explode)


BodyFill = Callable[[Scope], tuple[bytes | None, str | None]]
"""The encoded body and its Content-Type for a scope; (None, None) when it is left out."""


def _body_fill(spec: RequestSpec) -> BodyFill | None:
    if spec.body is None:
        return None
    render = compile_value(spec.body)
    fmt, xml_root = spec.body_format, spec.xml_root

    def body(scope: Scope) -> tuple[bytes | None, str | None]:
        rendered = render(scope)
        if _absent(rendered):
            return None, None
        return encode_body(_without_nulls(rendered), fmt, xml_root)

    if fmt != "multipart" and is_literal_value(spec.body):  # a multipart boundary is per call
        encoded = body({})
        return lambda scope: encoded
    return body


def _absent(body: Any) -> bool:
    """An optional body left out: it rendered to null, or it is a mapping whose every value
    is absent (each optional argument it names was left out). A literal `{}` is sent."""
    if body is None:
        return True
    return isinstance(body, dict) and bool(body) and all(_absent(v) for v in body.values())


def _without_nulls(value: Any) -> Any:
    """A rendered body without the keys whose template rendered to null (unset arguments),
    as query parameters are left out: the upstream sees its own defaults."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
