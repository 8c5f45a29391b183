"""Markdown documentation of one connector, generated from its spec.

The output is deterministic: operations and types are sorted, nothing depends on the clock or
the machine. All text taken from a spec is untrusted: it is escaped so it cannot break a
table, open a code block or inject HTML, and the literal default of a secret config key is
never printed (it is hidden wherever it occurs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectql.connectors.builtin import builtin_names, builtin_spec
from connectql.graph.types import type_prefix
from connectql.spec.loader import load_spec
from connectql.spec.models import (
    ApiKeyAuth,
    Auth,
    AwsSigV4Auth,
    BasicAuth,
    Batch,
    BearerAuth,
    BodyErrors,
    ConfigKey,
    ConnectorSpec,
    CursorPagination,
    CustomAuth,
    CustomError,
    EnumType,
    ErrorAction,
    FieldSpec,
    InputType,
    LinkHeaderPagination,
    NextUrlPagination,
    NoAuth,
    NoPagination,
    OAuth2Auth,
    ObjectType,
    OffsetPagination,
    Operation,
    PagePagination,
    Pagination,
    SpecTest,
    UnionType,
)
from connectql.spec.naming import enum_value_name
from connectql.spec.templates import parse_template
from connectql.spec.typeref import BUILTIN_SCALARS, FILE_TYPES, TypeRef, parse_type_ref

STANDARD_ERRORS: tuple[tuple[str, str], ...] = (
    ("UPSTREAM_ERROR", "The upstream answered with an error status (retryable when 5xx)."),
    ("UPSTREAM_TIMEOUT", "The upstream did not answer in time; trying again may help."),
    ("UPSTREAM_UNAVAILABLE", "The upstream could not be reached (connection refused or reset)."),
    ("BAD_RESPONSE", "The upstream's body could not be parsed as declared."),
    ("NOT_FOUND", "The upstream has no such resource (an HTTP 404 not mapped to null)."),
    ("UNAUTHENTICATED", "The upstream refused the credentials, or they could not be obtained."),
    ("RATE_LIMITED", "The upstream, or connectql's own limiter, says wait (`retryAfter`)."),
    ("CIRCUIT_OPEN", "Recent calls failed, so the circuit breaker is open: no call was made."),
    ("BAD_USER_INPUT", "The arguments of the query are not valid for this operation."),
)
EXAMPLE_FIELDS = 8
EXAMPLE_PAGE = 5
EXAMPLE_LINES = 40
EXAMPLE_LINE_WIDTH = 200
HIDDEN = "(hidden)"

SCALAR_EXAMPLES = {
    "String": '"example"',
    "ID": '"1"',
    "Int": "1",
    "Long": "1",
    "Float": "1.5",
    "Boolean": "true",
    "JSON": "{}",
}

_WHITESPACE = re.compile(r"\s+")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`\[\]|])")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")
_BLOCK_STARTS = "#+-*=_~"
_UNSAFE_IN_CODE = re.compile(r"[`|\\<>]")
_SAFE_URL = re.compile(r"https?://[^\s<>\"'`\\|()\[\]{}@]+")
_BACKTICKS = re.compile(r"`+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def generate_docs(spec: ConnectorSpec, *, fixtures_dir: Path | None = None) -> str:
    """The Markdown documentation of `spec`.

    Example responses come from the spec's `tests:` whose fixture file lies under
    `fixtures_dir`; without it, no operation has one.
    """
    ctx = _Context(spec, fixtures_dir)
    blocks = [
        *_overview(ctx),
        *_setup(ctx),
        *_authentication(ctx),
        *_operations(ctx),
        *_types(ctx),
        *_errors(ctx),
    ]
    return "\n\n".join(blocks) + "\n"


# --- rendering untrusted text ----------------------------------------------------------


class _Context:
    def __init__(self, spec: ConnectorSpec, fixtures_dir: Path | None) -> None:
        self.spec = spec
        self.prefix = type_prefix(spec.name)
        self.fixtures_dir = fixtures_dir
        self._hidden = _secret_literals(spec.config)

    def scrub(self, text: str) -> str:
        for literal in self._hidden:
            text = text.replace(literal, HIDDEN)
        return text

    def text(self, text: str) -> str:
        """Spec text as one line of inline Markdown that can go anywhere, table cells too."""
        flat = _WHITESPACE.sub(" ", self.scrub(text)).strip()
        escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", flat).replace("<", "&lt;")
        escaped = escaped.replace(">", "&gt;")
        if escaped[:1] and escaped[0] in _BLOCK_STARTS:
            return "\\" + escaped
        return _LIST_NUMBER.sub(r"\1\\\2", escaped)

    def code(self, text: str) -> str:
        """Spec text as inline code, or as escaped text when code could not hold it safely."""
        flat = _WHITESPACE.sub(" ", self.scrub(text)).strip()
        if not flat or _UNSAFE_IN_CODE.search(flat):
            return self.text(flat) if flat else '`""`'
        return f"`{flat}`"

    def value(self, value: Any) -> str:
        return self.code(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def link(self, url: str) -> str:
        if _SAFE_URL.fullmatch(url) and self.scrub(url) == url:
            return f"<{url}>"
        return self.text(url)

    def named(self, base: str) -> str:
        return base if base in BUILTIN_SCALARS or base in FILE_TYPES else self.prefix + base

    def type_ref(self, ref: TypeRef) -> str:
        inner = f"[{self.type_ref(ref.of)}]" if ref.of is not None else self.named(ref.base)
        return inner + ("!" if ref.non_null else "")

    def gql(self, type_text: str, *, nullable: bool = False) -> str:
        ref = parse_type_ref(type_text)
        if nullable:
            ref = TypeRef(ref.name, ref.of, non_null=False)
        return f"`{self.type_ref(ref)}`"


def _secret_literals(config: Mapping[str, ConfigKey]) -> list[str]:
    found: set[str] = set()
    for key in config.values():
        if key.secret and key.default is not None and str(key.default) != "":
            found.update({str(key.default), json.dumps(key.default)})
    return sorted(found, key=lambda s: (-len(s), s))


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Cells must already be rendered by `_Context`: escaped, one line, no bare `|`."""
    lines = [_row(header), _row(["---"] * len(header))]
    lines += [_row(row) for row in rows]
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _fence(language: str, body: str) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body}\n{fence}"


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _config_keys(template: str | None) -> list[str]:
    if template is None:
        return []
    keys: list[str] = []
    for placeholder in parse_template(template).placeholders:
        steps = placeholder.path.steps
        if placeholder.namespace == "config" and steps and str(steps[0]) not in keys:
            keys.append(str(steps[0]))
    return keys


# --- overview and setup ------------------------------------------------------------------


def _overview(ctx: _Context) -> list[str]:
    info = ctx.spec.connector
    blocks = [f"# {ctx.text(info.title or info.name)}"]
    if info.description:
        blocks.append(ctx.text(info.description))
    facts = [
        f"Connector `{info.name}`: GraphQL namespace field `{info.name}`, "
        f"type prefix `{ctx.prefix}`",
    ]
    if info.docs_url:
        facts.append(f"Upstream documentation: {ctx.link(info.docs_url)}")
    facts.append(
        f"Connector version {ctx.code(info.version)}, spec version {ctx.spec.spec_version}"
    )
    blocks.append(_bullets(facts))
    return blocks


def _setup(ctx: _Context) -> list[str]:
    blocks = ["## Setup", "### Configuration"]
    if ctx.spec.config:
        rows = [_config_row(ctx, name, key) for name, key in ctx.spec.config.items()]
        blocks.append(_table(["Key", "Type", "Required", "Default", "Description"], rows))
        blocks.append("Secret values are never shown in logs, errors, results or these docs.")
    else:
        blocks.append("This connector has no configuration.")
    blocks.append("### connectql.yaml")
    blocks.append("Secrets come from environment variables (`{env.NAME}`):")
    blocks.append(_fence("yaml", _config_snippet(ctx)))
    return blocks


def _config_row(ctx: _Context, name: str, key: ConfigKey) -> list[str]:
    return [
        f"`{name}`",
        f"{key.type}, secret" if key.secret else key.type,
        "yes" if key.required else "no",
        _shown_default(ctx, key),
        ctx.text(key.description or ""),
    ]


def _shown_default(ctx: _Context, key: ConfigKey) -> str:
    if key.default is None:
        return ""
    if key.secret:
        return HIDDEN
    return ctx.value(key.default)


def _config_snippet(ctx: _Context) -> str:
    name = ctx.spec.name
    entry = f"builtin: {name}" if _is_builtin(ctx.spec) else f"spec: path/to/{name}.yaml"
    required = [(k, v) for k, v in ctx.spec.config.items() if v.required]
    optional = [(k, v) for k, v in ctx.spec.config.items() if not v.required]
    config = "    config:" if required else "    config: {}  # every key is optional"
    lines = ["connectors:", f"  - {entry}", config]
    lines += [f"      {key}: {_config_value(ctx, key, decl)}" for key, decl in required]
    if optional:
        lines.append("      # optional:")
        lines += [f"      # {key}: {_config_value(ctx, key, decl)}" for key, decl in optional]
    return "\n".join(lines)


def _config_value(ctx: _Context, key: str, decl: ConfigKey) -> str:
    if decl.secret or decl.default is None:
        return f'"{{env.{_env_name(ctx.spec.name, key)}}}"'
    literal = json.dumps(decl.default).replace("{", "{{").replace("}", "}}")
    return ctx.scrub(literal)


def _env_name(connector: str, key: str) -> str:
    """The environment variable for a config key: `github` + `apiKey` → `GITHUB_API_KEY`."""
    words = _CAMEL.sub("_", f"{connector}_{key}")
    return re.sub(r"_+", "_", words).strip("_").upper()


def _is_builtin(spec: ConnectorSpec) -> bool:
    return spec.name in builtin_names() and load_spec(builtin_spec(spec.name)) == spec


# --- authentication ----------------------------------------------------------------------


def _authentication(ctx: _Context) -> list[str]:
    auth = ctx.spec.source.auth
    intro, inputs = _auth_summary(ctx, auth)
    blocks = ["## Authentication", intro]
    if inputs:
        blocks.append(_bullets([f"{label}: {_fed_by(ctx, t)}" for label, t in inputs]))
    for name, scheme in ctx.spec.source.auth_schemes.items():
        users = sorted(n for n, op in ctx.spec.operations.items() if op.auth == name)
        intro, inputs = _auth_summary(ctx, scheme)
        blocks.append(f"### Scheme `{name}`")
        blocks.append(f"Used by {', '.join(f'`{u}`' for u in users) or 'no operation'}: {intro}")
        if inputs:
            blocks.append(_bullets([f"{label}: {_fed_by(ctx, t)}" for label, t in inputs]))
    return blocks


AuthInputs = list[tuple[str, str | None]]


def _auth_summary(ctx: _Context, auth: Auth) -> tuple[str, AuthInputs]:
    """One sentence on how calls authenticate, and which templates feed the credentials."""
    if isinstance(auth, ApiKeyAuth):
        where = "header" if auth.in_ == "header" else "query parameter"
        prefix = f", prefixed with {ctx.code(auth.prefix)}" if auth.prefix else ""
        return f"**API key**, sent in the {ctx.code(auth.name)} {where}{prefix}.", [
            ("Key", auth.key)
        ]
    if isinstance(auth, BearerAuth):
        return (
            f"**Bearer token**, sent in the {ctx.code(auth.header)} header "
            f"with scheme {ctx.code(auth.scheme)}.",
            [("Token", auth.token)],
        )
    if isinstance(auth, BasicAuth):
        return "**HTTP basic** authentication.", [
            ("Username", auth.username),
            ("Password", auth.password),
        ]
    if isinstance(auth, OAuth2Auth):
        return _oauth2_summary(ctx, auth)
    if isinstance(auth, AwsSigV4Auth):
        return "**AWS Signature Version 4**: every request is signed.", [
            ("Region", auth.region),
            ("Service", auth.service),
            ("Access key id", auth.access_key_id),
            ("Secret access key", auth.secret_access_key),
            ("Session token", auth.session_token),
        ]
    if isinstance(auth, CustomAuth):
        return (
            f"**Custom** authentication by the hook {ctx.code(auth.hook)} (prebuilt connectors "
            "register theirs; others need a hook module listed under `hooks:`).",
            [(f"Option {ctx.code(name)}", value) for name, value in auth.options.items()],
        )
    assert isinstance(auth, NoAuth)
    return "None: requests carry no credentials.", []


def _oauth2_summary(ctx: _Context, auth: OAuth2Auth) -> tuple[str, AuthInputs]:
    scopes = ", ".join(ctx.code(s) for s in auth.scopes)
    sentence = (
        f"**OAuth 2.0**, grant {ctx.code(auth.grant)}: access tokens come from the token "
        f"endpoint (client authentication: {auth.client_auth}) and are renewed "
        f"{auth.expiry_margin:g} s before they expire."
    )
    if scopes:
        sentence += f" Scopes: {scopes}."
    return sentence, [
        ("Token endpoint", auth.token_url),
        ("Client id", auth.client_id),
        ("Client secret", auth.client_secret),
        ("Refresh token", auth.refresh_token),
    ]


def _fed_by(ctx: _Context, template: str | None) -> str:
    if template is None:
        return "not used"
    keys = _config_keys(template)
    if not keys:
        return "fixed in the spec"
    secret = ctx.spec.secret_keys()
    named = [f"`{k}` (secret)" if k in secret else f"`{k}`" for k in keys]
    return "config " + ", ".join(named)


# --- operations --------------------------------------------------------------------------


def _operations(ctx: _Context) -> list[str]:
    blocks = ["## Operations"]
    for kind, title in (
        ("query", "Queries"),
        ("mutation", "Mutations"),
        ("subscription", "Subscriptions"),
    ):
        names = sorted(n for n, op in ctx.spec.operations.items() if op.kind == kind)
        if names:
            blocks.append(f"### {title}")
            for name in names:
                blocks += _operation(ctx, name, ctx.spec.operations[name])
    return blocks


def _operation(ctx: _Context, name: str, op: Operation) -> list[str]:
    blocks = [f"#### `{name}`"]
    if op.description:
        blocks.append(ctx.text(op.description))
    if op.deprecated:
        blocks.append(f"**Deprecated:** {ctx.text(op.deprecated)}")
    blocks.append(_bullets([f"Returns {_returns(ctx, op)}", f"Upstream: {_upstream(ctx, op)}"]))
    blocks.append(_arguments(ctx, op))
    if op.expose:  # a hidden operation has no field to call; links still use it
        blocks.append(_fence("graphql", _example_query(ctx, name)))
    behaviour = _behaviour(ctx, op)
    if behaviour:
        blocks.append(_bullets(behaviour))
    if op.errors:
        blocks.append("Error mapping (this operation's own; it wins over the connector's):")
        blocks.append(_error_table(ctx, op.errors))
    blocks += _example_response(ctx, name)
    return blocks


def _upstream(ctx: _Context, op: Operation) -> str:
    if op.hook is not None:
        return f"implemented by the hook {ctx.code(op.hook)}"
    if op.poll is not None:
        return (
            f"reads {ctx.code(op.poll.operation)} every {op.poll.every:g} s (or `intervalMs`) "
            f"until {ctx.code(op.poll.until)} holds, one event per read"
        )
    return ctx.code(f"{op.request.method} {op.request.path or '/'}")


def _behaviour(ctx: _Context, op: Operation) -> list[str]:
    facts = []
    if op.is_paginated and op.pagination is not None:
        facts.append(_pagination(ctx, op.pagination))
    if op.batch is not None:
        facts.append(_batching(ctx, op.batch))
    return facts


def _returns(ctx: _Context, op: Operation) -> str:
    if not op.is_paginated:
        return ctx.gql(op.response.type)
    item = ctx.named(parse_type_ref(op.response.type).base)
    return (
        f"`{_connection_name(ctx, op.response.type)}!`, a Relay connection of `{item}` "
        "(`edges { cursor node }`, `nodes`, `pageInfo`)"
    )


def _connection_name(ctx: _Context, type_text: str) -> str:
    return f"{ctx.prefix}{parse_type_ref(type_text).base}Connection"


def _arguments(ctx: _Context, op: Operation) -> str:
    rows = [
        [
            f"`{name}`",
            ctx.gql(arg.type, nullable=arg.default is not None),
            "" if arg.default is None else ctx.value(arg.default),
            ctx.text(arg.description or ""),
        ]
        for name, arg in op.args.items()
    ]
    if op.is_paginated:
        rows.append(["`first`", "`Int`", "", "How many items to return."])
        rows.append(["`after`", "`String`", "", "Cursor to continue after (`endCursor`)."])
    if not rows:
        return "No arguments."
    return _table(["Argument", "Type", "Default", "Description"], rows)


def _pagination(ctx: _Context, pagination: Pagination) -> str:
    assert not isinstance(pagination, NoPagination)
    if isinstance(pagination, PagePagination):
        how = f"page numbers in {ctx.code(pagination.page_param)}, from {pagination.start_page}"
    elif isinstance(pagination, OffsetPagination):
        how = f"offsets in {ctx.code(pagination.offset_param)}"
    elif isinstance(pagination, CursorPagination):
        source = (
            ctx.code(pagination.cursor_path)
            if pagination.cursor_path is not None
            else f"the last record's {ctx.code(pagination.cursor_from_last or '')}"
        )
        how = f"a cursor in {ctx.code(pagination.cursor_param)}, the next one read from {source}"
        if pagination.has_more_path:
            how += f"; {ctx.code(pagination.has_more_path)} false ends the list"
    elif isinstance(pagination, LinkHeaderPagination):
        how = f"the Link header's {ctx.code(pagination.rel)} link"
    else:
        assert isinstance(pagination, NextUrlPagination)
        how = f"the next page's URL read from {ctx.code(pagination.next_url_path)}"
    size = f"{pagination.page_size} items per upstream page"
    if pagination.size_param:
        size += f" (sent as {ctx.code(pagination.size_param)})"
    return (
        f"Pagination: `{pagination.strategy}` ({how}); {size}; "
        f"`first` may be at most {pagination.max_items}"
    )


def _batching(ctx: _Context, batch: Batch) -> str:
    if batch.mode == "request" and batch.request is not None:
        call = ctx.code(f"{batch.request.method} {batch.request.path or '/'}")
        text = (
            f"Batching: lookups by `{batch.key}` in one GraphQL request are combined into "
            f"multi-get calls ({call}) of at most {batch.max_batch} keys"
        )
    else:
        text = (
            f"Batching: lookups by `{batch.key}` in one GraphQL request are combined, one "
            f"upstream call per distinct key, at most {batch.max_concurrency} at a time"
        )
    if batch.warm is not None:
        text += f"; primed from the operation `{batch.warm.operation}`"
    return text


def _example_response(ctx: _Context, name: str) -> list[str]:
    found = _first_recording(ctx, name)
    if found is None:
        return ["No example response: no test of this operation has a recorded fixture."]
    test, response = found
    status = response.get("status")
    heading = f"Example upstream response (from the test {ctx.code(test.name)}"
    heading += f", HTTP {status}):" if isinstance(status, int) else "):"
    language, lines = _body_lines(ctx, response.get("body"))
    blocks = [heading, _fence(language, "\n".join(lines[:EXAMPLE_LINES]))]
    if len(lines) > EXAMPLE_LINES:
        blocks.append(f"(Shortened: {len(lines) - EXAMPLE_LINES} more lines.)")
    return blocks


def _first_recording(ctx: _Context, name: str) -> tuple[SpecTest, Mapping[str, Any]] | None:
    if ctx.fixtures_dir is None:
        return None
    for test in ctx.spec.tests:
        if test.operation == name:
            response = _recorded_response(ctx.fixtures_dir, test.fixture)
            if response is not None:
                return test, response
    return None


def _recorded_response(fixtures_dir: Path, fixture: str) -> Mapping[str, Any] | None:
    """The first exchange's response of a fixture file, which must lie inside the folder."""
    root = fixtures_dir.resolve()
    path = (root / fixture).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    exchanges = data.get("exchanges") if isinstance(data, dict) else None
    first = exchanges[0] if isinstance(exchanges, list) and exchanges else None
    response = first.get("response") if isinstance(first, dict) else None
    return response if isinstance(response, dict) else None


def _body_lines(ctx: _Context, body: Any) -> tuple[str, list[str]]:
    language, text = "json", ""
    if isinstance(body, str):
        try:
            text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            language, text = "text", body
    elif body is not None:
        text = json.dumps(body, indent=2, ensure_ascii=False)
    lines = ctx.scrub(text).splitlines() or [""]
    return language, [_clip(line) for line in lines]


def _clip(line: str) -> str:
    return line if len(line) <= EXAMPLE_LINE_WIDTH else line[:EXAMPLE_LINE_WIDTH] + " …"


# --- example queries ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    head: str
    children: tuple[_Selection, ...] = ()

    def lines(self, depth: int = 0) -> Iterator[str]:
        pad = "  " * depth
        if not self.children:
            yield pad + self.head
            return
        yield f"{pad}{self.head} {{"
        for child in self.children:
            yield from child.lines(depth + 1)
        yield pad + "}"


def example_query(spec: ConnectorSpec, op_name: str) -> str:
    """A GraphQL document calling `op_name` with example values for its required arguments."""
    return _example_query(_Context(spec, None), op_name)


def _example_query(ctx: _Context, op_name: str) -> str:
    op = ctx.spec.operations[op_name]
    field = _Selection(op_name + _call_arguments(ctx, op), _result_selection(ctx, op))
    root = op.kind
    if op.kind == "subscription" and ctx.spec.connector.namespace:  # a root field of its own
        field = _Selection(f"{ctx.spec.name}_{field.head}", field.children)
    if not ctx.spec.connector.namespace or op.kind == "subscription":
        return "\n".join(_Selection(root, (field,)).lines())
    document = _Selection(root, (_Selection(ctx.spec.name, (field,)),))
    return "\n".join(document.lines())


def _call_arguments(ctx: _Context, op: Operation) -> str:
    given = [
        f"{name}: {_literal(ctx, parse_type_ref(arg.type), frozenset())}"
        for name, arg in op.args.items()
        if arg.default is None and parse_type_ref(arg.type).non_null
    ]
    if op.is_paginated:
        given.append(f"first: {EXAMPLE_PAGE}")
    return f"({', '.join(given)})" if given else ""


def _literal(ctx: _Context, ref: TypeRef, seen: frozenset[str]) -> str:
    if ref.of is not None:
        return f"[{_literal(ctx, ref.of, seen)}]"
    base = ref.base
    if base in SCALAR_EXAMPLES:
        return SCALAR_EXAMPLES[base]
    declared = ctx.spec.types.get(base)
    if isinstance(declared, EnumType):
        names = _enum_values(declared)
        return next(iter(names), "null")
    if isinstance(declared, InputType) and base not in seen:
        fields = [
            f"{name}: {_literal(ctx, parse_type_ref(f.type), seen | {base})}"
            for name, f in declared.fields.items()
            if parse_type_ref(f.type).non_null
        ]
        return "{" + ", ".join(fields) + "}"
    return "null"


def _result_selection(ctx: _Context, op: Operation) -> tuple[_Selection, ...]:
    inner = _type_selection(ctx, parse_type_ref(op.response.type).base)
    return (_Selection("nodes", inner),) if op.is_paginated else inner


def _type_selection(ctx: _Context, base: str) -> tuple[_Selection, ...]:
    declared = ctx.spec.types.get(base)
    if isinstance(declared, ObjectType):
        leaves = [n for n, f in declared.fields.items() if _is_leaf_field(ctx, f)]
        return tuple(_Selection(n) for n in leaves[:EXAMPLE_FIELDS]) or (_Selection("__typename"),)
    if isinstance(declared, UnionType):
        first = declared.types[0]
        fragment = _Selection(f"... on {ctx.prefix}{first}", _type_selection(ctx, first))
        return (_Selection("__typename"), fragment)
    return ()


def _is_leaf_field(ctx: _Context, f: FieldSpec) -> bool:
    base = parse_type_ref(f.type).base
    return f.resolve is None and (
        base in BUILTIN_SCALARS or isinstance(ctx.spec.types.get(base), EnumType)
    )


# --- types -------------------------------------------------------------------------------


def _types(ctx: _Context) -> list[str]:
    blocks = ["## Types"]
    if not ctx.spec.types:
        blocks.append("This connector declares no types.")
    for name in sorted(ctx.spec.types):
        blocks.append(f"### `{ctx.prefix}{name}`")
        declared = ctx.spec.types[name]
        if isinstance(declared, ObjectType):
            blocks += _object_type(ctx, name, declared)
        elif isinstance(declared, InputType):
            blocks.append(f"Input object (spec type `{name}`).")
            blocks += _description(ctx, declared.description)
            blocks.append(_field_table(ctx, declared.fields))
        elif isinstance(declared, EnumType):
            blocks += _enum_type(ctx, name, declared)
        else:
            blocks += _union_type(ctx, name, declared)
    return blocks


def _description(ctx: _Context, text: str | None) -> list[str]:
    return [ctx.text(text)] if text else []


def _object_type(ctx: _Context, name: str, declared: ObjectType) -> list[str]:
    keys = [declared.key] if isinstance(declared.key, str) else declared.key or []
    key = f", key {', '.join(ctx.code(k) for k in keys)}" if keys else ""
    return [
        f"Object (spec type `{name}`{key}).",
        *_description(ctx, declared.description),
        _field_table(ctx, declared.fields),
    ]


def _field_table(ctx: _Context, fields: Mapping[str, FieldSpec]) -> str:
    rows = [_field_row(ctx, name, f) for name, f in fields.items()]
    return _table(["Field", "Type", "From", "Description"], rows)


def _field_row(ctx: _Context, name: str, f: FieldSpec) -> list[str]:
    notes = [ctx.text(f.description)] if f.description else []
    if f.deprecated:
        notes.append(f"Deprecated: {ctx.text(f.deprecated)}")
    if f.resolve is None:
        return [f"`{name}`", ctx.gql(f.type), ctx.code(f.from_ or name), " ".join(notes)]
    target = ctx.spec.operations.get(f.resolve.operation)
    link = f"→ operation `{f.resolve.operation}`"
    gql_type = ctx.gql(f.type)
    if target is not None and target.is_paginated:
        link += " (a connection: `first`, `after`)"
        gql_type = f"`{_connection_name(ctx, target.response.type)}!`"
    return [f"`{name}`", gql_type, "", ". ".join([link, *notes])]


def _enum_values(declared: EnumType) -> dict[str, str | int]:
    if isinstance(declared.values, list):
        return {enum_value_name(v): v for v in declared.values}
    return dict(declared.values)


def _enum_type(ctx: _Context, name: str, declared: EnumType) -> list[str]:
    rows = [[f"`{gql}`", ctx.value(raw)] for gql, raw in _enum_values(declared).items()]
    return [
        f"Enum (spec type `{name}`).",
        *_description(ctx, declared.description),
        _table(["Value", "Upstream value"], rows),
    ]


def _union_type(ctx: _Context, name: str, declared: UnionType) -> list[str]:
    members = ", ".join(f"`{ctx.prefix}{t}`" for t in declared.types)
    discriminator = declared.discriminator
    rows = [[ctx.value(raw), f"`{ctx.prefix}{t}`"] for raw, t in discriminator.mapping.items()]
    return [
        f"Union (spec type `{name}`) of {members}.",
        *_description(ctx, declared.description),
        f"The member is chosen by the upstream value at {ctx.code(discriminator.field)}:",
        _table(["Upstream value", "Type"], rows),
    ]


# --- errors ------------------------------------------------------------------------------


def _errors(ctx: _Context) -> list[str]:
    rows = [[f"`{code}`", meaning] for code, meaning in STANDARD_ERRORS]
    standard = {code for code, _ in STANDARD_ERRORS}
    for code, places in sorted(_custom_codes(ctx).items()):
        if code not in standard:
            rows.append([f"`{code}`", "Set by this connector for " + "; ".join(places) + "."])
    blocks = [
        "## Errors",
        "A failed call appears in the response's `errors`, with `extensions.code` one of:",
        _table(["Code", "Meaning"], rows),
    ]
    if ctx.spec.source.errors:
        blocks.append("### Status mapping")
        blocks.append("For every operation (an operation's own mapping wins):")
        blocks.append(_error_table(ctx, ctx.spec.source.errors))
    if ctx.spec.source.body_errors is not None:
        blocks += _body_errors(ctx, ctx.spec.source.body_errors)
    return blocks


def _rules(action: ErrorAction) -> list[CustomError]:
    if isinstance(action, CustomError):
        return [action]
    return action if isinstance(action, list) else []


def _custom_codes(ctx: _Context) -> dict[str, list[str]]:
    spec = ctx.spec
    tables: list[tuple[str | None, Mapping[str, ErrorAction]]] = [(None, spec.source.errors)]
    tables += [(name, spec.operations[name].errors) for name in sorted(spec.operations)]
    places: dict[str, list[str]] = {}
    for op_name, table in tables:
        for status in sorted(table):
            for rule in _rules(table[status]):
                if rule.code is not None:
                    where = f"HTTP {ctx.text(status)}" + (f" of `{op_name}`" if op_name else "")
                    if rule.when is not None:
                        where += f" when {_condition(ctx, rule)}"
                    if where not in places.setdefault(rule.code, []):
                        places[rule.code].append(where)
    return places


def _error_table(ctx: _Context, table: Mapping[str, ErrorAction]) -> str:
    rows: list[list[str]] = []
    for status in sorted(table):
        rows += _status_rows(ctx, ctx.code(status), table[status])
    return _table(["Status", "When", "Result"], rows)


def _status_rows(ctx: _Context, status: str, action: ErrorAction) -> list[list[str]]:
    rules = _rules(action)
    if not rules:
        return [[status, "always", _plain_action(action)]]
    rows = []
    for i, rule in enumerate(rules):
        when = _condition(ctx, rule) if rule.when else "otherwise" if i else "always"
        rows.append([status, when, _custom_action(ctx, rule)])
    if rules[-1].when is not None:
        rows.append([status, "otherwise", _plain_action("error")])
    return rows


def _plain_action(action: ErrorAction) -> str:
    if action is None or action == "null":
        return "The field resolves to null."
    if action == "empty":
        return "The field resolves to an empty list."
    if action == "retry":
        return "Retried as a transient failure (within the retry policy)."
    return "An error with the status's code."


def _condition(ctx: _Context, rule: CustomError) -> str:
    assert rule.when is not None
    return f"{ctx.code(rule.when.path)} = {ctx.value(rule.when.equals)}"


def _custom_action(ctx: _Context, rule: CustomError) -> str:
    parts = [f"error `{rule.code}`" if rule.code else "an error with the status's code"]
    if rule.retry:
        parts.append("retried first (within the retry policy)")
    if rule.message:
        parts.append(f"message {ctx.value(rule.message)}")
    if rule.message_path:
        parts.append(f"message from {ctx.code(rule.message_path)}")
    if rule.details_path:
        parts.append(f"`extensions.details` from {ctx.code(rule.details_path)}")
    if rule.upstream_code_path:
        parts.append(f"`extensions.upstreamCode` from {ctx.code(rule.upstream_code_path)}")
    if rule.retryable is not None:
        parts.append("retryable" if rule.retryable else "not retryable")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _body_errors(ctx: _Context, rules: BodyErrors) -> list[str]:
    def codes(values: list[str]) -> str:
        return ", ".join(ctx.code(v) for v in values) or "none"

    tests = []
    if rules.header is not None:
        tests.append(f"with a {ctx.code(rules.header)} header")
    if rules.when is not None:
        tests.append(f"whose {ctx.code(rules.when.path)} is {ctx.value(rules.when.equals)}")
    return [
        "### Errors in successful responses",
        f"A 2xx response {' and '.join(tests)} "
        f"is an error; its code at {ctx.code(rules.code_path)} is passed on as "
        "`extensions.upstreamCode`.",
        _bullets(
            [
                f"`UNAUTHENTICATED` (credentials refreshed once): {codes(rules.auth_codes)}",
                f"`RATE_LIMITED`: {codes(rules.rate_limit_codes)}",
                f"The field resolves to null: {codes(rules.not_found_codes)}",
                f"`{rules.code or 'UPSTREAM_ERROR'}`: any other code",
            ]
        ),
    ]
