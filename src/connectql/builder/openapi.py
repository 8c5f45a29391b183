"""Import an OpenAPI description (3.0, 3.1, or Swagger 2; JSON or YAML) as a connector spec.

Operations come from paths (GET → query, the rest → mutation, overridable), arguments from
parameters, request bodies become input types, schemas become object/enum/union types with
`$ref`s resolved. Names are readable and stable (operationId → camelCase) and recorded in a
lockfile so a re-import keeps them. Pagination is proposed where the description makes it
evident, security schemes become auth. Whatever cannot be imported is listed with the reason;
nothing is dropped silently. The result is checked by the spec loader, and anything it still
rejects is removed and reported, so the written spec always loads.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin

import yaml

from connectql.builder.naming import Namer, camel, pascal, short_name, words
from connectql.connectors.egress import EgressPolicy
from connectql.connectors.http import HttpRequest, send
from connectql.errors import BadResponse, ConfigError, ControlError, SpecErrors
from connectql.spec.loader import Positions, TextLimits, check_text, load_json, validate_data
from connectql.spec.naming import enum_value_name
from connectql.spec.typeref import BUILTIN_SCALARS

METHODS = ("get", "put", "post", "delete", "patch", "head")
JSON_TYPES = re.compile(r"^application/([\w.+-]*\+)?json\b|^\*/\*$")
FORM_TYPE = "application/x-www-form-urlencoded"
PATH_SAFE_KEY = re.compile(r"^[^.\[\]{}\s]+$")
SIZE_PARAMS = ("per_page", "limit", "page_size", "pageSize", "perPage", "count", "size")
CURSOR_PARAMS = ("cursor", "after", "page_token", "pageToken", "starting_after", "next_token")
CURSOR_FIELDS = (
    "next_cursor",
    "nextCursor",
    "next_page_token",
    "nextPageToken",
    "cursor",
    "response_metadata.next_cursor",
)
RESERVED_TYPES = frozenset({"Query", "Mutation", "PageInfo", *BUILTIN_SCALARS})
MAX_DESCRIPTION = 500
MAX_FIX_ROUNDS = 20
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
FETCH_TIMEOUT = 60.0
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CONNECTOR_KEY = "connector"
"""The lockfile's entry for the connector's name: a re-import keeps the namespace too."""
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml reads and writes the same data 3-4x faster (GitHub's spec as YAML: read in 10 s
instead of 36 s; the spec imported from it written in 0.8 s instead of 3.4 s)."""
_T = TypeVar("_T")


class Progress(Protocol):
    """Wraps a long loop of the import to show how far it is (the CLI's progress bar)."""

    def __call__(self, items: Sequence[_T], label: str) -> Iterable[_T]: ...


def no_progress(items: Sequence[_T], label: str) -> Iterable[_T]:
    return items


@dataclass(frozen=True)
class Skip:
    where: str
    reason: str


@dataclass
class ImportReport:
    operations: int = 0
    types: int = 0
    skipped: list[Skip] = field(default_factory=list)
    collisions: list[tuple[str, str, str]] = field(default_factory=list)
    pagination: dict[str, str] = field(default_factory=dict)
    """operation → the strategy proposed for it"""

    def text(self) -> str:
        lines = [f"imported {self.operations} operations and {self.types} types"]
        if self.pagination:
            lines.append(f"pagination proposed for {len(self.pagination)} operations:")
            lines += [f"  {op}: {how}" for op, how in sorted(self.pagination.items())]
        if self.collisions:
            lines.append(f"{len(self.collisions)} name collisions resolved:")
            lines += [f"  {wanted} ({key}) → {given}" for wanted, key, given in self.collisions]
        if self.skipped:
            lines.append(f"{len(self.skipped)} things skipped:")
            lines += [f"  {s.where}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


@dataclass
class ImportResult:
    spec: dict[str, Any]
    report: ImportReport
    lock: dict[str, str]

    def yaml(self) -> str:
        return yaml.dump(self.spec, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)

    def lock_json(self) -> str:
        return json.dumps({"version": 1, "names": self.lock}, indent=2, sort_keys=True) + "\n"


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


DOCUMENT_LIMITS = TextLimits(max_bytes=MAX_DOCUMENT_BYTES, max_scalar=MAX_DOCUMENT_BYTES)
"""Long values cost nothing later: descriptions are cut to MAX_DESCRIPTION on import."""


def load_document(text: str, filename: str = "<document>") -> dict[str, Any]:
    """Parse an OpenAPI/Swagger document (JSON or YAML); SpecErrors if it exceeds
    DOCUMENT_LIMITS (aliases, nesting, size)."""
    try:
        if text.lstrip().startswith("{"):
            doc = load_json(text, filename, DOCUMENT_LIMITS)
        else:
            check_text(text, filename, DOCUMENT_LIMITS)
            doc = _load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: bad JSON, or YAML's 2024-02-30
        raise ConfigError(f"the document is not valid JSON or YAML: {exc}") from None
    if not isinstance(doc, dict) or not ("openapi" in doc or "swagger" in doc):
        raise ConfigError("not an OpenAPI document: no `openapi` or `swagger` key at the top")
    return doc


def _load_yaml(text: str) -> Any:
    return yaml.load(text, _Loader)  # noqa: S506 - CSafeLoader or SafeLoader, both safe


def read_lock(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    data = json.loads(text)
    names = data.get("names", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in names.items()}


def import_openapi(
    doc: Mapping[str, Any],
    *,
    name: str | None = None,
    lock: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> ImportResult:
    """The connector spec for `doc`. `kinds` overrides query/mutation by operation name."""
    return _Importer(doc, name=name, lock=lock or {}, kinds=kinds or {}).run(progress)


class _Importer:
    def __init__(
        self,
        doc: Mapping[str, Any],
        *,
        name: str | None,
        lock: Mapping[str, str],
        kinds: Mapping[str, str],
    ) -> None:
        self.doc = _swagger_to_openapi(doc) if "swagger" in doc else copy.deepcopy(dict(doc))
        self.version = str(self.doc.get("openapi", "3.0"))
        self.report = ImportReport()
        self.name = name or lock.get(CONNECTOR_KEY) or self._connector_name()
        self.lock = lock
        self.kinds = kinds
        self.type_names = Namer(lock)
        self.op_names = Namer(lock)
        self.field_names: dict[str, Namer] = {}
        self.types: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.config: dict[str, dict[str, Any]] = {}

    # --- top level ----------------------------------------------------------------------

    def run(self, progress: Progress) -> ImportResult:
        source = self._source()
        found: list[tuple[str, str, dict[str, Any]]] = []
        for path, item in sorted((self.doc.get("paths") or {}).items()):
            if not isinstance(item, dict):
                continue
            if "$ref" in item:
                self._skip(f"paths.{path}", "path items by $ref are not supported")
                continue
            found += [(path, method, item) for method in METHODS if method in item]
        for path, method, item in progress(found, f"importing {len(found)} operations"):
            self._operation(path, method, item, item[method])
        if not self.operations:
            raise ConfigError("the document has no operation that could be imported")
        info = self.doc.get("info") or {}
        spec: dict[str, Any] = {
            "spec_version": 1,
            "connector": _drop_none(
                {
                    "name": self.name,
                    "version": str(info.get("version") or "0.1.0"),
                    "title": info.get("title"),
                    "description": _short(info.get("description")),
                    "docs_url": (self.doc.get("externalDocs") or {}).get("url"),
                }
            ),
            "config": self.config,
            "source": source,
            "types": dict(sorted(self.types.items())),
            "operations": dict(sorted(self.operations.items())),
        }
        spec = self._until_valid(spec)
        self.report.operations = len(spec["operations"])
        self.report.types = len(spec["types"])
        for namer in (self.type_names, self.op_names, *self.field_names.values()):
            self.report.collisions.extend(namer.collisions)
        names = {
            CONNECTOR_KEY: self.name,
            **self.type_names.chosen,
            **self.op_names.chosen,
            **{k: v for n in self.field_names.values() for k, v in n.chosen.items()},
        }
        return ImportResult(spec, self.report, dict(sorted(names.items())))

    def _skip(self, where: str, reason: str) -> None:
        self.report.skipped.append(Skip(where, reason))

    # --- source, auth ---------------------------------------------------------------------

    def _connector_name(self) -> str:
        title = str((self.doc.get("info") or {}).get("title") or "")
        return short_name(title, self._server_url())

    def _server_url(self) -> str:
        servers = self.doc.get("servers") or [{}]
        server = servers[0] if isinstance(servers[0], dict) else {}
        url = str(server.get("url") or "")
        for var, spec in (server.get("variables") or {}).items():
            url = url.replace("{" + var + "}", str((spec or {}).get("default", "")))
        return url

    def _source(self) -> dict[str, Any]:
        url = self._server_url()
        self.config["base_url"] = _drop_none(
            {
                "default": url if url.startswith("http") else None,
                "required": not url.startswith("http"),
                "description": "The API's base URL.",
            }
        )
        source: dict[str, Any] = {"base_url": "{config.base_url}"}
        auth = self._auth()
        if auth is not None:
            source["auth"] = auth
        return source

    def _auth(self) -> dict[str, Any] | None:
        schemes = (self.doc.get("components") or {}).get("securitySchemes") or {}
        chosen = None
        for requirement in self.doc.get("security") or []:
            for scheme_name in requirement or {}:
                if scheme_name in schemes:
                    chosen = scheme_name
                    break
            if chosen:
                break
        if chosen is None and schemes:
            chosen = sorted(schemes)[0]
        if chosen is None:
            return None
        scheme, _ = self._resolve(schemes[chosen])
        kind = str(scheme.get("type", "")).lower()
        secret = {"required": True, "secret": True}
        if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            self.config["token"] = secret
            return {"type": "bearer", "token": "{config.token}"}
        if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
            self.config["username"] = {"required": True}
            self.config["password"] = secret
            return {
                "type": "basic",
                "username": "{config.username}",
                "password": "{config.password}",
            }
        if kind == "apikey" and scheme.get("in") in ("header", "query"):
            self.config["api_key"] = secret
            return {
                "type": "api_key",
                "key": "{config.api_key}",
                "name": scheme.get("name", "X-API-Key"),
                "in": scheme["in"],
            }
        if kind == "oauth2":
            flows = scheme.get("flows") or {}
            if "clientCredentials" in flows:
                self.config["client_id"] = {"required": True}
                self.config["client_secret"] = secret
                return {
                    "type": "oauth2",
                    "grant": "client_credentials",
                    "token_url": flows["clientCredentials"].get("tokenUrl", ""),
                    "client_id": "{config.client_id}",
                    "client_secret": "{config.client_secret}",
                }
            self.config["token"] = {**secret, "description": "An OAuth2 access token."}
            self._skip(f"security.{chosen}", "interactive OAuth2 flows: configure an access token")
            return {"type": "bearer", "token": "{config.token}"}
        self._skip(f"security.{chosen}", f"security scheme type {kind!r} is not supported")
        return None

    # --- references -----------------------------------------------------------------------

    def _resolve(self, node: Any) -> tuple[dict[str, Any], str | None]:
        """Follow local `$ref`s; return the target and the last ref (None if inline)."""
        ref = None
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = str(node["$ref"])
            if not ref.startswith("#/"):
                raise _Skip(f"external reference {ref!r} is not supported")
            if ref in seen:
                raise _Skip(f"reference loop at {ref!r}")
            seen.add(ref)
            target: Any = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise _Skip(f"reference {ref!r} points nowhere")
                target = target[part]
            node = target
        if not isinstance(node, dict):
            raise _Skip("a schema that is not an object")
        return node, ref

    def _strip_null(self, node: Any) -> tuple[dict[str, Any], str | None, bool]:
        """Resolve a schema and take off what only allows null: 3.0 `nullable`, 3.1
        `type: [X, "null"]`, a `{type: "null"}` member of `anyOf`/`oneOf` (FastAPI's
        Optional). The schema of X, the ref it came from, and whether null is allowed."""
        resolved, ref = self._resolve(node)
        nullable = bool(resolved.get("nullable"))
        kind = resolved.get("type")
        if isinstance(kind, list):
            rest = [k for k in kind if k != "null"]
            nullable = nullable or len(rest) < len(kind)
            resolved = {**resolved, "type": rest[0] if len(rest) == 1 else rest}
        for key in ("anyOf", "oneOf"):
            members = resolved.get(key)
            if not isinstance(members, list):
                continue
            rest = [m for m in members if not (isinstance(m, dict) and m.get("type") == "null")]
            if len(rest) == len(members):
                continue
            if len(rest) == 1:
                inner, inner_ref, _ = self._strip_null(rest[0])
                return inner, inner_ref, True
            resolved, nullable = {**resolved, key: rest}, True
        return resolved, ref, nullable

    # --- operations -----------------------------------------------------------------------

    def _operation(self, path: str, method: str, item: Mapping[str, Any], op: Any) -> None:
        where = f"{method.upper()} {path}"
        if not isinstance(op, dict):
            return
        key = f"op:{where}"
        wanted = camel(str(op.get("operationId") or f"{method} {' '.join(words(path))}"))
        try:
            built = self._build_operation(path, method, item, op, where)
        except _Skip as skip:
            self._skip(where, skip.reason)
            return
        name = self.op_names.name(key, wanted)
        kind = self.kinds.get(name) or ("query" if method == "get" else "mutation")
        built["kind"] = kind
        built = {"kind": kind, **{k: v for k, v in built.items() if k != "kind"}}
        if built.get("pagination") and kind == "mutation":
            del built["pagination"]
        if built.get("pagination"):
            self.report.pagination[name] = built["pagination"]["strategy"]
        self.operations[name] = built

    def _build_operation(
        self, path: str, method: str, item: Mapping[str, Any], op: Mapping[str, Any], where: str
    ) -> dict[str, Any]:
        params: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
            param, _ = self._resolve(raw)
            params[(str(param.get("name")), str(param.get("in")))] = param
        args: dict[str, Any] = {}
        request: dict[str, Any] = {"method": method.upper(), "path": path}
        query: dict[str, str] = {}
        headers: dict[str, str] = {}
        arg_names = Namer()
        template_path = path
        by_name = {n: p for (n, _loc), p in params.items()}
        pagination, page_params = self._pagination(op, by_name, where)
        for (pname, location), param in sorted(params.items()):
            if location == "cookie":
                if param.get("required"):
                    raise _Skip(f"required cookie parameter {pname!r}")
                self._skip(f"{where} parameter {pname}", "cookie parameters are not supported")
                continue
            if pname in page_params:
                continue
            arg = arg_names.name(pname, camel(pname))
            try:
                gql = self._type_of(
                    param.get("schema") or {"type": "string"}, pascal(f"{arg}"), input_=True
                )
            except _Skip as skip:
                if location == "path" or param.get("required"):
                    raise
                self._skip(f"{where} parameter {pname}", skip.reason)
                continue
            required = bool(param.get("required")) or location == "path"
            spec: dict[str, Any] = {"type": gql + ("!" if required else "")}
            if param.get("description"):
                spec["description"] = _short(param["description"])
            default = (param.get("schema") or {}).get("default")
            if (
                default is not None
                and not required
                and isinstance(default, (str, int, float, bool))
            ):
                spec["default"] = default
            args[arg] = spec if len(spec) > 1 else spec["type"]
            placeholder = f"{{args.{arg}}}"
            if location == "path":
                template_path = template_path.replace("{" + pname + "}", placeholder)
            elif location == "query":
                query[pname] = placeholder
            elif location == "header":
                if pname.lower() in ("authorization", "accept", "content-type"):
                    args.pop(arg)
                    continue
                headers[pname] = placeholder
        if re.search(r"\{(?!args\.)[^}]*\}", template_path):
            raise _Skip("a path parameter is not declared")
        request["path"] = template_path
        if query:
            request["query"] = query
        if headers:
            request["headers"] = headers
        body = op.get("requestBody")
        if body is not None:
            self._request_body(body, op, request, args, arg_names, where)
        response, records = self._response(op, where, list_wanted=pagination is not None)
        built: dict[str, Any] = {}
        description = _short(op.get("summary") or op.get("description"))
        if description:
            built["description"] = description
        if args:
            built["args"] = args
        built["request"] = request
        built["response"] = _drop_none({"type": response, "records": records})
        if pagination is not None and response.startswith("["):
            built["pagination"] = pagination
        if op.get("deprecated"):
            built["deprecated"] = "deprecated upstream"
        return built

    def _request_body(
        self,
        body: Any,
        op: Mapping[str, Any],
        request: dict[str, Any],
        args: dict[str, Any],
        arg_names: Namer,
        where: str,
    ) -> None:
        body, _ = self._resolve(body)
        content = body.get("content") or {}
        media = next((m for m in content if JSON_TYPES.match(m)), None)
        fmt = "json"
        if media is None and FORM_TYPE in content:
            media, fmt = FORM_TYPE, "form"
        if media is None:
            kinds = ", ".join(sorted(content)) or "none"
            if body.get("required"):
                raise _Skip(f"request body of type {kinds} is not supported")
            self._skip(f"{where} body", f"request body of type {kinds} is not supported")
            return
        schema = (content[media] or {}).get("schema") or {}
        hint = pascal(str(op.get("operationId") or where)) + "Input"
        gql = self._type_of(schema, hint, input_=True)
        required = "!" if body.get("required") else ""
        arg = arg_names.name("__body__", "input")
        args[arg] = gql + required
        request["body"] = f"{{args.{arg}}}"
        if fmt != "json":
            request["body_format"] = fmt

    def _response(
        self, op: Mapping[str, Any], where: str, *, list_wanted: bool
    ) -> tuple[str, str | None]:
        responses = op.get("responses") or {}
        chosen = None
        for status in ("200", "201", "202", "203", "2XX", "2xx", "default"):
            if status in responses:
                chosen = status
                break
        if chosen is None:
            chosen = next((s for s in sorted(responses) if str(s).startswith("2")), None)
        if chosen is None:
            return "JSON", None
        response, _ = self._resolve(responses[chosen])
        content = response.get("content") or {}
        media = next((m for m in content if JSON_TYPES.match(m)), None)
        if media is None:
            return "JSON", None  # 204, or a body that is not JSON: the result is null
        schema = (content[media] or {}).get("schema")
        if not schema:
            return "JSON", None
        hint = pascal(str(op.get("operationId") or where)) + "Result"
        resolved, _, _ = self._strip_null(schema)
        if list_wanted and resolved.get("type") != "array":
            arrays = [
                (k, v) for k, v in (resolved.get("properties") or {}).items() if self._is_array(v)
            ]
            if len(arrays) == 1 and PATH_SAFE_KEY.match(arrays[0][0]):
                key, items = arrays[0]
                inner = self._type_of(items, hint + pascal(key))
                return inner if inner.startswith("[") else f"[{inner}]", key
        return self._type_of(schema, hint), None

    def _is_array(self, schema: Any) -> bool:
        try:
            resolved, _, _ = self._strip_null(schema)
        except _Skip:
            return False
        return resolved.get("type") == "array"

    def _pagination(
        self, op: Mapping[str, Any], params: Mapping[str, Any], where: str
    ) -> tuple[dict[str, Any] | None, set[str]]:
        """A pagination section if the description makes one evident, and the parameters it
        takes over (they leave the GraphQL arguments)."""
        size = next((p for p in SIZE_PARAMS if p in params), None)
        base: dict[str, Any] = {"size_param": size} if size else {}
        taken = {size} if size else set()
        page_size = self._max_of(params[size]) if size else None
        if page_size:
            base["page_size"] = page_size
        if self._link_header(op):
            taken |= {"page"} if "page" in params else set()
            return {"strategy": "link_header", **base}, taken
        cursor = next((p for p in CURSOR_PARAMS if p in params), None)
        if cursor:
            path = self._cursor_field(op)
            if path:
                return {
                    "strategy": "cursor",
                    "cursor_param": cursor,
                    "cursor_path": path,
                    **base,
                }, taken | {cursor}
        if "page" in params and size:
            return {"strategy": "page", **base}, taken | {"page"}
        if "offset" in params and size:
            return {"strategy": "offset", **base}, taken | {"offset"}
        return None, set()

    def _max_of(self, param: Mapping[str, Any]) -> int | None:
        """The page size a size parameter allows: its maximum (up to 1000), else its default."""
        outer = param.get("schema") or {}
        try:
            schema, _, _ = self._strip_null(outer)
        except _Skip:
            return None
        maximum = schema.get("maximum")
        if isinstance(maximum, int) and 1 <= maximum <= 1000:
            return maximum
        default = outer.get("default", schema.get("default"))
        return default if isinstance(default, int) and default >= 1 else None

    def _link_header(self, op: Mapping[str, Any]) -> bool:
        for status, response in (op.get("responses") or {}).items():
            if not str(status).startswith("2"):
                continue
            try:
                resolved, _ = self._resolve(response)
            except _Skip:
                continue
            if any(h.lower() == "link" for h in resolved.get("headers") or {}):
                return True
        return False

    def _cursor_field(self, op: Mapping[str, Any]) -> str | None:
        responses = op.get("responses") or {}
        for status in ("200", "201"):
            if status not in responses:
                continue
            try:
                resolved, _ = self._resolve(responses[status])
                media = next(
                    (m for m in resolved.get("content") or {} if JSON_TYPES.match(m)), None
                )
                schema, _, _ = self._strip_null(
                    ((resolved.get("content") or {}).get(media) or {}).get("schema") or {}
                )
            except _Skip:
                return None
            props = schema.get("properties") or {}
            for candidate in CURSOR_FIELDS:
                head, _, rest = candidate.partition(".")
                if head in props and (not rest or rest in (self._props(props[head]))):
                    return candidate
        return None

    def _props(self, schema: Any) -> dict[str, Any]:
        try:
            resolved, _, _ = self._strip_null(schema)
        except _Skip:
            return {}
        return dict(resolved.get("properties") or {})

    # --- schemas → types ------------------------------------------------------------------

    def _type_of(self, schema: Any, hint: str, *, input_: bool = False) -> str:
        """The GraphQL type reference (without the outer `!`) for a schema."""
        resolved, ref, _ = self._strip_null(schema)
        kind = resolved.get("type")
        if isinstance(kind, list):
            return "JSON"  # several types at once
        if "allOf" in resolved:
            return self._object(_merge_all_of(self, resolved), ref, hint, input_)
        if "oneOf" in resolved or "anyOf" in resolved:
            return "JSON" if input_ else self._union(resolved, ref, hint)
        if "enum" in resolved and kind in (None, "string"):
            return self._enum(resolved, ref, hint)
        if kind == "array":
            items = resolved.get("items") or {}
            inner = self._type_of(items, hint + "Item", input_=input_)
            nullable = bool(items) and self._strip_null(items)[2]
            return f"[{inner}{'' if nullable or inner == 'JSON' else '!'}]"
        if kind == "object" or (kind is None and "properties" in resolved):
            if not resolved.get("properties"):
                return "JSON"
            return self._object(resolved, ref, hint, input_)
        if kind == "integer":
            fmt = str(resolved.get("format", ""))
            return "Float" if fmt == "int64" and not hint.lower().endswith("id") else "Int"
        if kind == "number":
            return "Float"
        if kind == "boolean":
            return "Boolean"
        if kind == "string":
            if resolved.get("format") == "binary":
                raise _Skip("binary strings (file contents) are not supported")
            return "String"
        return "JSON"

    def _type_name(self, ref: str | None, hint: str, input_: bool) -> tuple[str, str]:
        key = f"{'input' if input_ else 'type'}:{ref or hint}"
        base = pascal(ref.rsplit("/", 1)[-1]) if ref else hint
        wanted = base + ("Input" if input_ and not base.endswith("Input") else "")
        return key, wanted

    def _object(self, schema: Mapping[str, Any], ref: str | None, hint: str, input_: bool) -> str:
        key, wanted = self._type_name(ref, hint, input_)
        if key in self.type_names.chosen:
            return self.type_names.chosen[key]
        name = self.type_names.name(key, wanted, RESERVED_TYPES)
        entry: dict[str, Any] = {"fields": {}}
        if input_:
            entry = {"kind": "input", "fields": {}}
        description = _short(schema.get("description"))
        if description:
            entry["description"] = description
        self.types[name] = entry  # registered before its fields: recursion ends here
        required = set(schema.get("required") or [])
        names = self.field_names.setdefault(name, Namer(self.lock))
        for prop, prop_schema in (schema.get("properties") or {}).items():
            where = f"{name}.{prop}"
            if not PATH_SAFE_KEY.match(str(prop)):
                self._skip(
                    f"types.{where}",
                    "the property name cannot be a path (it has '.', '[', ']', braces or spaces)",
                )
                continue
            field_name = names.name(f"field:{name}.{prop}", camel(str(prop)))
            try:
                gql = self._type_of(prop_schema, name + pascal(str(prop)), input_=input_)
                outer, _ = self._resolve(prop_schema)
                inner, _, nullable = self._strip_null(prop_schema)
            except _Skip as skip:
                self._skip(f"types.{where}", skip.reason)
                continue
            bang = "!" if prop in required and not nullable and gql != "JSON" else ""
            spec: dict[str, Any] = {"type": gql + bang}
            if field_name != prop:
                spec["from"] = str(prop)
            desc = _short(outer.get("description") or inner.get("description"))
            if desc:
                spec["description"] = desc
            entry["fields"][field_name] = spec if len(spec) > 1 else spec["type"]
        if not entry["fields"]:
            del self.types[name]
            self.type_names.chosen[key] = "JSON"
            return "JSON"
        return name

    def _enum(self, schema: Mapping[str, Any], ref: str | None, hint: str) -> str:
        values = [v for v in schema.get("enum") or [] if v is not None]
        if not values or not all(isinstance(v, str) for v in values):
            return "String"
        key = f"enum:{ref or hint}"
        if key in self.type_names.chosen:
            return self.type_names.chosen[key]
        name = self.type_names.name(
            key, pascal(ref.rsplit("/", 1)[-1]) if ref else hint, RESERVED_TYPES
        )
        mapping: dict[str, str] = {}
        for value in values:
            graphql = enum_value_name(value)
            candidate, n = graphql, 2
            while candidate in mapping:
                candidate, n = f"{graphql}_{n}", n + 1
            mapping[candidate] = value
        same = all(enum_value_name(v) == k for k, v in mapping.items())
        self.types[name] = {"kind": "enum", "values": values if same else mapping}
        return name

    def _union(self, schema: Mapping[str, Any], ref: str | None, hint: str) -> str:
        members_raw = schema.get("oneOf") or schema.get("anyOf") or []
        key = f"union:{ref or hint}"
        if key in self.type_names.chosen:
            return self.type_names.chosen[key]
        members: list[tuple[str, dict[str, Any], str | None]] = []
        for i, member in enumerate(members_raw):
            resolved, member_ref = self._resolve(member)
            if "allOf" in resolved:
                resolved = _merge_all_of(self, resolved)
            if resolved.get("type") not in (None, "object") or not resolved.get("properties"):
                self._skip(f"types.{hint}", "a oneOf/anyOf with non-object members becomes JSON")
                return "JSON"
            type_name = self._object(resolved, member_ref, f"{hint}Option{i + 1}", False)
            if type_name == "JSON":
                return "JSON"
            members.append((type_name, resolved, member_ref))
        discriminator = schema.get("discriminator") or {}
        field_name = discriminator.get("propertyName")
        mapping: dict[str, str] = {}
        if field_name:
            explicit = discriminator.get("mapping") or {}
            by_ref = {m_ref: t for t, _, m_ref in members if m_ref}
            for value, target in explicit.items():
                if target in by_ref:
                    mapping[str(value)] = by_ref[target]
            for type_name, _, m_ref in members:
                if m_ref and type_name not in mapping.values():
                    mapping[m_ref.rsplit("/", 1)[-1]] = type_name  # the implicit mapping
        else:
            field_name, mapping = _inline_discriminator(members)
        if not field_name or len(set(mapping.values())) != len(members):
            self._skip(f"types.{hint}", "a oneOf/anyOf without a usable discriminator becomes JSON")
            return "JSON"
        name = self.type_names.name(
            key, pascal(ref.rsplit("/", 1)[-1]) if ref else hint, RESERVED_TYPES
        )
        self.types[name] = {
            "kind": "union",
            "types": sorted({t for t, _, _ in members}),
            "discriminator": {"field": field_name, "mapping": dict(sorted(mapping.items()))},
        }
        return name

    # --- the safety net ---------------------------------------------------------------

    def _until_valid(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Load the spec; drop what the loader still rejects (reported) until it loads."""
        for _ in range(MAX_FIX_ROUNDS):
            try:
                validate_data(spec, Positions(), f"{self.name}.yaml")
                return spec
            except SpecErrors as exc:
                changed = False
                for error in exc.errors:
                    changed |= self._drop(spec, error.location.path, error.message)
                if not changed:
                    raise
        raise ConfigError("the imported spec could not be made valid")

    def _drop(self, spec: dict[str, Any], path: str, message: str) -> bool:
        parts = path.split(".")
        if len(parts) >= 2 and parts[0] == "operations" and parts[1] in spec["operations"]:
            del spec["operations"][parts[1]]
            self._skip(f"operation {parts[1]}", message)
            return True
        if len(parts) >= 4 and parts[0] == "types" and parts[2] == "fields":
            fields = spec["types"].get(parts[1], {}).get("fields", {})
            if parts[3] in fields:
                del fields[parts[3]]
                self._skip(f"types.{parts[1]}.{parts[3]}", message)
                return True
        if len(parts) >= 2 and parts[0] == "types" and parts[1] in spec["types"]:
            del spec["types"][parts[1]]
            self._skip(f"types.{parts[1]}", message)
            return True
        return False


# --- helpers ------------------------------------------------------------------------------


def _merge_all_of(importer: _Importer, schema: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in schema.get("allOf") or []:
        resolved, _ = importer._resolve(part)
        if "allOf" in resolved:
            resolved = _merge_all_of(importer, resolved)
        merged["properties"].update(resolved.get("properties") or {})
        merged["required"].extend(resolved.get("required") or [])
    merged["properties"].update(schema.get("properties") or {})
    merged["required"].extend(schema.get("required") or [])
    if schema.get("description"):
        merged["description"] = schema["description"]
    return merged


def _inline_discriminator(
    members: list[tuple[str, dict[str, Any], str | None]],
) -> tuple[str | None, dict[str, str]]:
    """A property every member pins to one value (`enum: [x]` or `const: x`)."""
    candidates: set[str] | None = None
    for _, schema, _ in members:
        pinned = {
            k
            for k, v in (schema.get("properties") or {}).items()
            if isinstance(v, dict) and (len(v.get("enum") or []) == 1 or "const" in v)
        }
        candidates = pinned if candidates is None else candidates & pinned
    for prop in sorted(candidates or ()):
        mapping = {}
        for type_name, schema, _ in members:
            spec = schema["properties"][prop]
            value = spec["const"] if "const" in spec else spec["enum"][0]
            mapping[str(value)] = type_name
        if len(mapping) == len(members):
            return prop, mapping
    return None, {}


def _short(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_DESCRIPTION else flat[: MAX_DESCRIPTION - 1] + "…"


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _swagger_to_openapi(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a Swagger 2 document the importer reads, in OpenAPI 3 form."""
    raw = copy.deepcopy(dict(doc))
    text = (
        json.dumps(raw)
        .replace("#/definitions/", "#/components/schemas/")
        .replace("#/parameters/", "#/components/parameters/")
        .replace("#/responses/", "#/components/responses/")
    )
    raw = json.loads(text)
    scheme = (raw.get("schemes") or ["https"])[0]
    host = raw.get("host")
    servers = [{"url": f"{scheme}://{host}{raw.get('basePath', '')}"}] if host else []
    consumes = raw.get("consumes") or ["application/json"]
    produces = raw.get("produces") or ["application/json"]
    out: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": raw.get("info") or {},
        "servers": servers,
        "security": raw.get("security") or [],
        "components": {
            "schemas": raw.get("definitions") or {},
            "parameters": raw.get("parameters") or {},
            "responses": {
                k: _response2(v, produces) for k, v in (raw.get("responses") or {}).items()
            },
            "securitySchemes": {
                k: _security2(v) for k, v in (raw.get("securityDefinitions") or {}).items()
            },
        },
        "paths": {},
    }
    for path, item in (raw.get("paths") or {}).items():
        new_item: dict[str, Any] = {}
        shared = [p for p in item.get("parameters") or [] if p.get("in") != "body"]
        if shared:
            new_item["parameters"] = [_param2(p) for p in shared]
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            new_op = {k: v for k, v in op.items() if k not in ("parameters", "responses")}
            params = op.get("parameters") or []
            body = next((p for p in params if p.get("in") == "body"), None)
            forms = [p for p in params if p.get("in") == "formData"]
            new_op["parameters"] = [
                _param2(p) for p in params if p.get("in") not in ("body", "formData")
            ]
            if body is not None:
                media = (op.get("consumes") or consumes)[0]
                new_op["requestBody"] = {
                    "required": bool(body.get("required")),
                    "content": {media: {"schema": body.get("schema") or {}}},
                }
            elif forms:
                props = {
                    p["name"]: {
                        k: v for k, v in p.items() if k in ("type", "format", "items", "enum")
                    }
                    for p in forms
                }
                required = [p["name"] for p in forms if p.get("required")]
                new_op["requestBody"] = {
                    "content": {
                        FORM_TYPE: {
                            "schema": {"type": "object", "properties": props, "required": required}
                        }
                    }
                }
            new_op["responses"] = {
                k: _response2(v, op.get("produces") or produces)
                for k, v in (op.get("responses") or {}).items()
            }
            new_item[method] = new_op
        out["paths"][path] = new_item
    return out


def _param2(param: Mapping[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        return dict(param)
    schema = {
        k: v
        for k, v in param.items()
        if k in ("type", "format", "items", "enum", "default", "maximum", "minimum")
    }
    return {k: v for k, v in param.items() if k in ("name", "in", "required", "description")} | {
        "schema": schema
    }


def _response2(response: Any, produces: list[str]) -> dict[str, Any]:
    if not isinstance(response, dict) or "$ref" in response:
        return dict(response) if isinstance(response, dict) else {}
    out: dict[str, Any] = {"description": response.get("description", "")}
    if "schema" in response:
        out["content"] = {produces[0]: {"schema": response["schema"]}}
    if "headers" in response:
        out["headers"] = {k: {"schema": v} for k, v in response["headers"].items()}
    return out


def _security2(scheme: Mapping[str, Any]) -> dict[str, Any]:
    kind = scheme.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "apiKey":
        return {"type": "apiKey", "in": scheme.get("in"), "name": scheme.get("name")}
    if kind == "oauth2":
        flow = scheme.get("flow")
        if flow == "application":
            return {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": scheme.get("tokenUrl", "")}},
            }
        return {"type": "oauth2", "flows": {}}
    return dict(scheme)


async def fetch_document(
    url: str, policy: EgressPolicy, max_bytes: int = MAX_DOCUMENT_BYTES
) -> str:
    """Fetch a document at `url` under `policy`: every hop of a redirect must pass it too
    (each connection is checked as it opens), and at most `max_bytes` are read."""
    for _ in range(MAX_REDIRECTS + 1):
        await policy.check_url(url)  # a clear refusal before connecting
        async with policy.session() as session:
            try:
                response = await send(
                    session, HttpRequest("GET", url, timeout=FETCH_TIMEOUT), max_body=max_bytes
                )
            except BadResponse:
                raise ControlError(
                    f"the document is larger than {max_bytes // 2**20} MiB"
                ) from None
        location = response.headers.get("Location")
        if response.status in REDIRECTS and location:
            url = urljoin(url, location)
            continue
        if response.status != 200:
            raise ControlError(f"fetching the document gave HTTP {response.status}")
        return response.body.decode("utf-8", "replace")
    raise ControlError(f"fetching the document took more than {MAX_REDIRECTS} redirects")


def read_source(source: str, fetch: Callable[[str], str] | None = None) -> str:
    """The text of a file path or (with `fetch`) an http(s) URL."""
    if source.startswith(("http://", "https://")):
        if fetch is None:
            raise ConfigError("fetching URLs is not available here")
        return fetch(source)
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}") from None
