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
from urllib.parse import unquote, urljoin

import yaml

from connectql.builder.media import MULTIPART_TYPE, binary_media, is_file_schema
from connectql.builder.naming import Namer, camel, connector_name, pascal, short_name, words
from connectql.connectors.egress import EgressPolicy
from connectql.connectors.http import HttpRequest, send
from connectql.errors import BadResponse, ConfigError, ControlError, SpecErrors
from connectql.spec.checks import default_problem
from connectql.spec.loader import Positions, TextLimits, check_text, load_json, validate_data
from connectql.spec.naming import enum_value_name
from connectql.spec.paths import key_path
from connectql.spec.typeref import BINARY, BUILTIN_SCALARS, FILE_INPUT, FILE_TYPES

METHODS = ("get", "put", "post", "delete", "patch", "head")
JSON_TYPES = re.compile(r"^application/([\w.+-]*\+)?json\b|^\*/\*$")
FORM_TYPE = "application/x-www-form-urlencoded"
ARRAY_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
"""An array index in a JSON pointer (RFC 6901: no leading zeros)."""
POINTER_STRUCTURE = frozenset(
    {
        *("components", "schemas", "definitions", "paths", "parameters", "responses"),
        *("requestBody", "content", "schema", "items", "properties", "additionalProperties"),
        *("allOf", "oneOf", "anyOf", "not", "get", "put", "post", "delete", "patch", "head"),
    }
)
"""Pointer tokens that say where a schema sits, not what it is: left out of its name."""
SUCCESS_STATUSES = ("200", "201", "202", "203", "2XX", "2xx", "default")
UNIMPORTED_METHODS = {
    "options": "OPTIONS describes what the API allows; it has no data to return",
    "trace": "TRACE echoes the request back; it has no data to return",
}
_LOCATIONS = {"path": 0, "query": 1, "header": 2, "cookie": 3}
SIZE_PARAMS = ("per_page", "limit", "page_size", "pageSize", "perPage", "count", "size")
CURSOR_PARAMS = (
    *("cursor", "after", "page_token", "pageToken", "starting_after", "next_token"),
    *("nextToken", "continuation", "page"),
)
"""Parameters that carry an opaque cursor (`page` only when it is a string)."""
NEXT_CURSOR_FIELDS = (
    *("next_cursor", "nextCursor", "next_page_token", "nextPageToken", "next_token"),
    *("nextToken", "next_page", "nextPage", "continuation", "cursor"),
)
"""Body fields (top level, or one object below) that give the next page's cursor."""
LAST_ID_PARAMS = ("starting_after", "after")
"""Parameters that take the last record's id when the body only says `has_more` (Stripe)."""
HAS_MORE_FIELDS = ("has_more", "hasMore", "has_next", "hasNext", "has_next_page", "hasNextPage")
NEXT_URL_FIELDS = (
    *("next_url", "nextUrl", "next_link", "nextLink", "@odata.nextLink", "nextRecordsUrl"),
    *("next_page_url", "nextPageUrl"),
)
"""Body fields that give the next page's URL; a bare `next` only when its format is a URI."""
URI_FORMATS = ("uri", "url", "uri-reference")
TOTAL_PAGES_FIELDS = ("total_pages", "totalPages", "last_page", "lastPage", "page_count")
TOTAL_FIELDS = ("total", "total_count", "totalCount", "total_results", "totalResults")
OFFSET_PARAMS = ("offset", "skip", "start")
RESERVED_TYPES = frozenset({"Query", "Mutation", "PageInfo", *BUILTIN_SCALARS, *FILE_TYPES})
MAX_DESCRIPTION = 500
MAX_ENUM_NAME = 40
WIDE_INTEGER = re.compile(r"(Bytes|Size|Length|Id|Ids)(Item)?$")
"""A type hint naming an integer without a format that outgrows 32 bits: a count of bytes
(`ArtifactSizeInBytes`) or an id (`RunId`: GitHub's run ids passed 2^31 long ago)."""
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
    pagination_why: dict[str, str] = field(default_factory=dict)
    """operation → what in the description made that strategy evident"""
    files: dict[str, str] = field(default_factory=dict)
    """operation → how it moves files (multipart upload parts, a Binary result)"""

    def text(self) -> str:
        lines = [f"imported {self.operations} operations and {self.types} types"]
        if self.pagination:
            lines.append(f"pagination proposed for {len(self.pagination)} operations:")
            lines += [
                f"  {op}: {how} ({self.pagination_why.get(op, 'by its parameters')})"
                for op, how in sorted(self.pagination.items())
            ]
        if self.files:
            lines.append(f"files in {len(self.files)} operations:")
            lines += [f"  {op}: {how}" for op, how in sorted(self.files.items())]
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
        self.named_enums: dict[str, str] = {}
        """The values of each enum declared by a named schema → its type"""
        self.pagination_why: dict[str, str] = {}
        """operation (`GET /path`) → why its pagination was proposed"""
        self.default_scheme: str | None = None
        """The security scheme that became `source.auth`"""
        self.scheme_auths: dict[str, dict[str, Any] | None] = {}
        """security scheme → its spec auth (None: not applicable)"""
        self.auth_schemes: dict[str, dict[str, Any]] = {}
        """`source.auth_schemes`: the schemes some operations need besides `source.auth`"""
        self.alternative_names: dict[str, str] = {}
        """security scheme → its name in `source.auth_schemes`"""
        self.operations: dict[str, dict[str, Any]] = {}
        self.config: dict[str, dict[str, Any]] = {}
        self.files: dict[str, list[str]] = {}
        """operation (`POST /path`) → how it moves files, for the report"""

    # --- top level ----------------------------------------------------------------------

    def run(self, progress: Progress) -> ImportResult:
        source = self._source()
        found: list[tuple[str, str, dict[str, Any]]] = []
        for path, item in sorted((self.doc.get("paths") or {}).items()):
            if not isinstance(item, dict):
                continue
            if "$ref" in item:
                try:
                    target, _ = self._resolve(item)
                except _Skip as skip:
                    self._skip(f"paths.{path}", skip.reason)
                    continue
                item = {**target, **{k: v for k, v in item.items() if k != "$ref"}}
            found += [(path, method, item) for method in METHODS if method in item]
            for method, reason in UNIMPORTED_METHODS.items():
                if isinstance(item.get(method), dict):
                    self._skip(f"{method.upper()} {path}", reason)
        for path, method, item in progress(found, f"importing {len(found)} operations"):
            self._operation(path, method, item, item[method])
        if self.auth_schemes:
            source["auth_schemes"] = dict(sorted(self.auth_schemes.items()))
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
        for where, notes in self.files.items():
            op_name = self.op_names.chosen.get(f"op:{where}", "")
            if op_name in spec["operations"]:
                self.report.files[op_name] = "; ".join(notes)
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
        """`source.auth`: the first scheme of the document's `security` that connectql can
        apply (else the first declared one); operations needing another get their own."""
        schemes = self._security_schemes()
        wanted = [
            name
            for requirement in self.doc.get("security") or []
            if isinstance(requirement, dict) and len(requirement) == 1
            for name in requirement
            if name in schemes
        ]
        for name in [*wanted, *([] if wanted else sorted(schemes))]:
            auth = self._scheme_auth(name)
            if auth is not None:
                self.default_scheme = name
                return auth
        return None

    def _security_schemes(self) -> dict[str, Any]:
        return dict((self.doc.get("components") or {}).get("securitySchemes") or {})

    def _scheme_auth(self, name: str) -> dict[str, Any] | None:
        """The spec's auth for the security scheme `name` (None, reported once, if connectql
        cannot apply it). The first scheme's config keys are `token`, `api_key`…; another's
        are prefixed with its name when those are taken (`admin_token`)."""
        if name in self.scheme_auths:
            return self.scheme_auths[name]
        self.scheme_auths[name] = None
        try:
            scheme, _ = self._resolve(self._security_schemes().get(name))
        except _Skip as skip:
            self._skip(f"security.{name}", skip.reason)
            return None
        auth = self._convert_scheme(name, scheme, f"{_scheme_name(name)}_")
        self.scheme_auths[name] = auth
        return auth

    def _config_key(self, prefix: str, key: str, spec: dict[str, Any]) -> str:
        """A config key for a credential; prefixed only when the plain key is taken."""
        name = key if key not in self.config else f"{prefix}{key}"
        n = 2
        while name in self.config:
            name, n = f"{prefix}{key}_{n}", n + 1
        self.config[name] = spec
        return name

    def _convert_scheme(
        self, name: str, scheme: Mapping[str, Any], prefix: str
    ) -> dict[str, Any] | None:
        kind = str(scheme.get("type", "")).lower()
        secret = {"required": True, "secret": True}
        http = str(scheme.get("scheme", "")).lower()
        if kind == "http" and http == "bearer":
            token = self._config_key(prefix, "token", secret)
            return {"type": "bearer", "token": f"{{config.{token}}}"}
        if kind == "http" and http == "basic":
            user = self._config_key(prefix, "username", {"required": True})
            password = self._config_key(prefix, "password", secret)
            return {
                "type": "basic",
                "username": f"{{config.{user}}}",
                "password": f"{{config.{password}}}",
            }
        if kind == "apikey" and scheme.get("in") in ("header", "query"):
            key = self._config_key(prefix, "api_key", secret)
            return {
                "type": "api_key",
                "key": f"{{config.{key}}}",
                "name": scheme.get("name", "X-API-Key"),
                "in": scheme["in"],
            }
        if kind == "oauth2":
            flows = scheme.get("flows") or {}
            if "clientCredentials" in flows:
                client_id = self._config_key(prefix, "client_id", {"required": True})
                client_secret = self._config_key(prefix, "client_secret", secret)
                return {
                    "type": "oauth2",
                    "grant": "client_credentials",
                    "token_url": flows["clientCredentials"].get("tokenUrl", ""),
                    "client_id": f"{{config.{client_id}}}",
                    "client_secret": f"{{config.{client_secret}}}",
                }
            token = self._config_key(
                prefix, "token", {**secret, "description": "An OAuth2 access token."}
            )
            self._skip(f"security.{name}", "interactive OAuth2 flows: configure an access token")
            return {"type": "bearer", "token": f"{{config.{token}}}"}
        where = f" in {scheme.get('in')}" if kind == "apikey" else ""
        self._skip(f"security.{name}", f"security scheme type {kind!r}{where} is not supported")
        return None

    def _operation_auth(self, op: Mapping[str, Any], where: str, built: dict[str, Any]) -> None:
        """Give `built` the auth its `security` asks for, when that is not `source.auth`: a
        named scheme (`auth: NAME`, declared in `source.auth_schemes`). An operation whose
        requirement connectql cannot meet is reported and marked deprecated."""
        requirements = op.get("security") if "security" in op else self.doc.get("security")
        if not isinstance(requirements, list) or not requirements:
            return  # none declared, or anonymous: source.auth does no harm
        found = [r for r in requirements if isinstance(r, dict)]
        if any(not r or set(r) == {self.default_scheme} for r in found):
            return
        for requirement in found:
            if len(requirement) != 1:
                continue  # several schemes at once: connectql applies one
            (scheme,) = requirement
            if scheme in self._security_schemes() and self._scheme_auth(scheme) is not None:
                built["auth"] = self._alternative(scheme)
                return
        needs = " or ".join(" and ".join(sorted(r)) for r in found)
        self._skip(where, f"needs security {needs}, which connectql cannot apply: deprecated")
        built["deprecated"] = f"needs security {needs}, which this connector does not apply"

    def _alternative(self, scheme: str) -> str:
        """The name in `source.auth_schemes` of the security scheme `scheme`."""
        if scheme not in self.alternative_names:
            taken = set(self.alternative_names.values())
            name, n = _scheme_name(scheme), 2
            while name in taken:
                name, n = f"{_scheme_name(scheme)}_{n}", n + 1
            self.alternative_names[scheme] = name
            auth = self.scheme_auths[scheme]
            assert auth is not None
            self.auth_schemes[name] = auth
        return self.alternative_names[scheme]

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
            node = _pointer(self.doc, ref)
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
        kind = self.kinds.get(name) or ("query" if method in ("get", "head") else "mutation")
        built["kind"] = kind
        built = {"kind": kind, **{k: v for k, v in built.items() if k != "kind"}}
        if built.get("pagination") and kind == "mutation":
            del built["pagination"]
        if built.get("pagination"):
            self.report.pagination[name] = built["pagination"]["strategy"]
            self.report.pagination_why[name] = self.pagination_why.get(where, "")
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
        by_name = {n: p for (n, loc), p in params.items() if loc == "query"}
        pagination, page_params = self._pagination(op, by_name, where)
        plain = _plain_names(params)
        op_hint = pascal(str(op.get("operationId") or where))
        for (pname, location), param in sorted(params.items()):
            if location == "cookie":
                if param.get("required"):
                    raise _Skip(f"required cookie parameter {pname!r}")
                self._skip(f"{where} parameter {pname}", "cookie parameters are not supported")
                continue
            if location == "query" and pname in page_params:
                continue
            wanted = camel(pname if plain[pname] == location else f"{pname} {location}")
            arg = arg_names.name(f"{location}:{pname}", wanted)
            try:
                gql = self._type_of(
                    param.get("schema") or {"type": "string"},
                    pascal(arg),
                    input_=True,
                    qualified=op_hint + pascal(arg),
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
                problem = default_problem(gql, default, self._enum_values)
                if problem is None:
                    spec["default"] = default
                else:
                    self._skip(f"{where} parameter {pname}", f"{problem}: default left out")
            spec.update(_serialization(param, location))
            args[arg] = spec if len(spec) > 1 else spec["type"]
            placeholder = f"{{args.{arg}}}"
            if location == "path":
                template_path = template_path.replace("{" + pname + "}", placeholder)
            elif location == "query":
                query[pname] = placeholder
            elif location == "header":
                if pname.lower() in ("authorization", "content-type"):
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
        media = self._negotiated(op)
        if media is not None:  # asked for by its media type, parsed as JSON whatever comes
            built["response"]["format"] = "json"
            if media != "application/json" and not any(h.lower() == "accept" for h in headers):
                request["headers"] = {**headers, "Accept": media}
        if pagination is not None and response.startswith("["):
            built["pagination"] = pagination
        if op.get("deprecated"):
            built["deprecated"] = "deprecated upstream"
        self._operation_auth(op, where, built)
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
        if media is None and MULTIPART_TYPE in content:
            schema = (content[MULTIPART_TYPE] or {}).get("schema") or {}
            self._multipart_body(schema, op, request, args, arg_names, where, body)
            return
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

    def _multipart_body(
        self,
        schema: Any,
        op: Mapping[str, Any],
        request: dict[str, Any],
        args: dict[str, Any],
        arg_names: Namer,
        where: str,
        body: Mapping[str, Any],
    ) -> None:
        """multipart/form-data: each property is an argument and a part of that name; a file
        property (`format: binary`, 3.1 `contentMediaType`/`contentEncoding`) takes a
        FileInput, an array of them [FileInput!]; objects travel as JSON parts."""
        resolved, _, _ = self._strip_null(schema)
        if "allOf" in resolved:
            resolved = _merge_all_of(self, resolved)
        required = set(resolved.get("required") or []) if body.get("required") else set()
        hint = pascal(str(op.get("operationId") or where))
        parts: dict[str, str] = {}
        files: list[str] = []
        for prop, prop_schema in (resolved.get("properties") or {}).items():
            try:
                inner, _, nullable = self._strip_null(prop_schema)
                items = inner.get("items") if inner.get("type") == "array" else None
                if is_file_schema(inner):
                    gql = FILE_INPUT
                elif isinstance(items, dict) and is_file_schema(self._strip_null(items)[0]):
                    gql = f"[{FILE_INPUT}!]"
                else:
                    gql = self._type_of(prop_schema, hint + pascal(str(prop)), input_=True)
            except _Skip as skip:
                if prop in required:
                    raise
                self._skip(f"{where} body {prop}", skip.reason)
                continue
            if FILE_INPUT in gql:
                files.append(str(prop))
            arg = arg_names.name(f"body:{prop}", camel(str(prop)) or "part")
            bang = "!" if prop in required and not nullable else ""
            spec: dict[str, Any] = {"type": gql + bang}
            description = _short(inner.get("description"))
            if description:
                spec["description"] = description
            args[arg] = spec if len(spec) > 1 else spec["type"]
            parts[str(prop)] = f"{{args.{arg}}}"
        if not parts:
            raise _Skip("a multipart body without properties")
        request["body"] = parts
        request["body_format"] = "multipart"
        note = f"multipart upload, file parts: {', '.join(files)}" if files else "multipart form"
        self.files.setdefault(where, []).append(note)

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
        binary = binary_media(content) if media is None else None
        if binary is not None:  # audio, images, archives: bytes, not data to parse
            self.files.setdefault(where, []).append(f"Binary result ({binary})")
            return BINARY, None
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
            if len(arrays) == 1 and arrays[0][0] != "*":
                key, items = arrays[0]
                inner = self._type_of(items, hint + pascal(key))
                return inner if inner.startswith("[") else f"[{inner}]", key_path(key)
        return self._type_of(schema, hint), None

    def _negotiated(self, op: Mapping[str, Any]) -> str | None:
        """The JSON media type chosen when the success response offers several (Swagger 2
        `produces` may list XML first), else None: nothing to negotiate."""
        responses = op.get("responses") or {}
        status = next((s for s in SUCCESS_STATUSES if s in responses), None)
        if status is None:
            return None
        try:
            response, _ = self._resolve(responses[status])
        except _Skip:
            return None
        content = response.get("content") or {}
        media = next((m for m in content if JSON_TYPES.match(m) and m != "*/*"), None)
        return media if media is not None and len(content) > 1 else None

    def _is_array(self, schema: Any) -> bool:
        try:
            resolved, _, _ = self._strip_null(schema)
        except _Skip:
            return False
        return resolved.get("type") == "array"

    def _pagination(
        self, op: Mapping[str, Any], params: Mapping[str, Any], where: str
    ) -> tuple[dict[str, Any] | None, set[str]]:
        """A pagination section if the response's shape makes one evident (the parameters
        alone do not), and the parameters it takes over (they leave the GraphQL arguments).
        Why it was chosen goes to the report."""
        size = next((p for p in SIZE_PARAMS if p in params), None)
        base: dict[str, Any] = {"size_param": size} if size else {}
        taken = {size} if size else set()
        page_size = self._max_of(params[size]) if size else None
        if page_size:
            base["page_size"] = page_size
        sized = f"; `{size}` sets the page size" if size else ""
        if self._link_header(op):
            page = "page" if "page" in params else None
            self.pagination_why[where] = "the response declares a Link header" + sized
            return {"strategy": "link_header", **base}, taken | ({page} if page else set())
        body = self._body_fields(op)
        more = _find(body, HAS_MORE_FIELDS, lambda s: s.get("type") == "boolean")
        ends = f"; `{_path_text(more)}` false ends the list" if more else ""
        ending = {"has_more_path": _path_text(more)} if more else {}
        cursor = next(
            (p for p in CURSOR_PARAMS if p in params and self._is_opaque(params[p], p)), None
        )
        next_cursor = _find(body, NEXT_CURSOR_FIELDS, lambda s: s.get("type") != "boolean")
        if cursor and next_cursor:
            self.pagination_why[where] = (
                f"`{cursor}` takes the cursor the response gives in "
                f"`{_path_text(next_cursor)}`{ends}{sized}"
            )
            pagination = {"strategy": "cursor", "cursor_param": cursor}
            pagination["cursor_path"] = _path_text(next_cursor)
            return {**pagination, **ending, **base}, taken | {cursor}
        last = next((p for p in LAST_ID_PARAMS if p in params), None)
        if last and more and "id" in self._record_props(op):
            self.pagination_why[where] = (
                f"`{last}` takes the last record's `id` (Stripe style){ends}{sized}"
            )
            pagination = {"strategy": "cursor", "cursor_param": last, "cursor_from_last": "id"}
            return {**pagination, **ending, **base}, taken | {last}
        next_url = _find(body, NEXT_URL_FIELDS, lambda s: s.get("type") in (None, "string"))
        next_url = next_url or _find(body, ("next",), lambda s: s.get("format") in URI_FORMATS)
        if next_url:
            self.pagination_why[where] = (
                f"the response gives the next page's URL in `{_path_text(next_url)}`{sized}"
            )
            return {"strategy": "next_url", "next_url_path": _path_text(next_url), **base}, taken
        if "page" in params and size and not self._is_opaque(params["page"], "page"):
            total = _find(body, TOTAL_PAGES_FIELDS, lambda s: s.get("type") == "integer")
            if total:
                base["total_pages_path"] = _path_text(total)
            counted = f"; `{_path_text(total)}` counts the pages" if total else ""
            self.pagination_why[where] = f"`page` is a page number{sized}{counted}"
            return {"strategy": "page", **base}, taken | {"page"}
        offset = next((p for p in OFFSET_PARAMS if p in params), None)
        if offset and size:
            total = _find(body, TOTAL_FIELDS, lambda s: s.get("type") == "integer")
            if total:
                base["total_path"] = _path_text(total)
            counted = f"; `{_path_text(total)}` counts the records" if total else ""
            self.pagination_why[where] = f"`{offset}` is a record offset{sized}{counted}"
            named = {"offset_param": offset} if offset != "offset" else {}
            return {"strategy": "offset", **named, **base}, taken | {offset}
        return None, set()

    def _is_opaque(self, param: Mapping[str, Any], name: str) -> bool:
        """Whether a paging parameter holds an opaque cursor: a string (a `page` that is a
        number counts pages instead)."""
        try:
            schema, _, _ = self._strip_null(param.get("schema") or {})
        except _Skip:
            return False
        kind = schema.get("type")
        return kind == "string" if name == "page" else kind in (None, "string")

    def _success_schema(self, op: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body schema of the operation's success response, resolved; {} if none."""
        responses = op.get("responses") or {}
        status = next((s for s in SUCCESS_STATUSES if s in responses), None)
        try:
            response, _ = self._resolve(responses[status]) if status else ({}, None)
            content = response.get("content") or {}
            media = next((m for m in content if JSON_TYPES.match(m)), None)
            schema, _, _ = self._strip_null((content.get(media) or {}).get("schema") or {})
        except _Skip:
            return {}
        return _merge_all_of(self, schema) if "allOf" in schema else schema

    def _body_fields(self, op: Mapping[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
        """The success body's fields by key path: the top level's and one object below
        (`response_metadata.next_cursor`), top level first."""
        top = self._object_props(self._success_schema(op))
        fields: dict[tuple[str, ...], dict[str, Any]] = {(k,): v for k, v in top.items()}
        for key, schema in top.items():
            fields.update({(key, k): v for k, v in self._object_props(schema).items()})
        return fields

    def _object_props(self, schema: Any) -> dict[str, dict[str, Any]]:
        """The properties of an object schema, each resolved (without null)."""
        try:
            resolved, _, _ = self._strip_null(schema)
        except _Skip:
            return {}
        if "allOf" in resolved:
            resolved = _merge_all_of(self, resolved)
        out = {}
        for key, prop in (resolved.get("properties") or {}).items():
            try:
                out[str(key)] = self._strip_null(prop)[0]
            except _Skip:
                continue
        return out

    def _record_props(self, op: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The properties of the records of a list response (the body, or its one array)."""
        schema = self._success_schema(op)
        if schema.get("type") != "array":
            arrays = [s for s in self._object_props(schema).values() if s.get("type") == "array"]
            if len(arrays) != 1:
                return {}
            schema = arrays[0]
        return self._object_props(schema.get("items") or {})

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

    # --- schemas → types ------------------------------------------------------------------

    def _type_of(
        self, schema: Any, hint: str, *, input_: bool = False, qualified: str | None = None
    ) -> str:
        """The GraphQL type reference (without the outer `!`) for a schema. `qualified`: the
        name of an inline enum whose `hint` is taken by other values (a parameter's)."""
        resolved, ref, _ = self._strip_null(schema)
        kind = resolved.get("type")
        if isinstance(kind, list):
            return "JSON"  # several types at once
        if "allOf" in resolved:
            return self._object(_merge_all_of(self, resolved), ref, hint, input_)
        if "oneOf" in resolved or "anyOf" in resolved:
            return "JSON" if input_ else self._union(resolved, ref, hint)
        if "enum" in resolved and kind in (None, "string"):
            return self._enum(resolved, ref, hint, qualified)
        if kind is None and isinstance(resolved.get("const"), str):
            return "String"  # 3.1 `const: cat`, often a discriminator's value
        if kind == "array":
            items = resolved.get("items") or {}
            inner = self._type_of(
                items, hint + "Item", input_=input_, qualified=qualified and qualified + "Item"
            )
            nullable = bool(items) and self._strip_null(items)[2]
            return f"[{inner}{'' if nullable or inner == 'JSON' else '!'}]"
        if kind == "object" or (kind is None and "properties" in resolved):
            if not resolved.get("properties"):
                return "JSON"
            return self._object(resolved, ref, hint, input_)
        if kind == "integer":
            fmt = str(resolved.get("format", ""))
            if fmt == "int64" or (fmt != "int32" and WIDE_INTEGER.search(hint)):
                return "Long"  # GraphQL's Int has 32 bits: ids and byte counts outgrow it
            return "Int"
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
        base = _ref_name(ref) if ref else hint
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
            if prop == "*":
                self._skip(f"types.{where}", "a property named '*' cannot be selected by a path")
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
                spec["from"] = key_path(str(prop))  # `["a.b"]` for keys a path can't hold
            desc = _short(outer.get("description") or inner.get("description"))
            if desc:
                spec["description"] = desc
            entry["fields"][field_name] = spec if len(spec) > 1 else spec["type"]
        if not entry["fields"]:
            del self.types[name]
            self.type_names.chosen[key] = "JSON"
            return "JSON"
        return name

    def _pinned(self, schema: Mapping[str, Any], prop: str) -> Any:
        """The one value `schema` allows for property `prop` (`const: x`, `enum: [x]`, also
        through a `$ref`), else None."""
        try:
            spec, _, _ = self._strip_null((schema.get("properties") or {}).get(prop) or {})
        except _Skip:
            return None
        if "const" in spec:
            return spec["const"]
        values = [v for v in spec.get("enum") or [] if v is not None]
        return values[0] if len(values) == 1 else None

    def _enum_values(self, name: str) -> list[Any] | None:
        """The upstream values of the enum type `name` built so far, None if not an enum."""
        entry = self.types.get(name) or {}
        if entry.get("kind") != "enum":
            return None
        values = entry["values"]
        return list(values.values()) if isinstance(values, dict) else list(values)

    def _enum(
        self, schema: Mapping[str, Any], ref: str | None, hint: str, qualified: str | None
    ) -> str:
        """An enum is its values: inline enums with the same values are one type, named
        after the first place they appear (`Sort`); when other values have that name, after
        the place and its values (`SortCreatedUpdated`), or `qualified` (`ListUsersSort`)
        when that is too long. A named schema is its own type."""
        values = list(dict.fromkeys(v for v in schema.get("enum") or [] if v is not None))
        if not values or not all(isinstance(v, str) for v in values):
            return "String"
        same_values = json.dumps(sorted(values), ensure_ascii=False)
        key = f"enum:{ref}" if ref else f"enum:{same_values}"
        if key in self.type_names.chosen:
            return self.type_names.chosen[key]
        if ref is None and same_values in self.named_enums:
            return self.named_enums[same_values]
        wanted = _ref_name(ref) if ref else hint
        if ref is None and (wanted in self.type_names.taken or wanted in RESERVED_TYPES):
            by_values = hint + "".join(pascal(v) for v in values)  # `SortCreatedUpdated`
            wanted = by_values if len(by_values) <= MAX_ENUM_NAME else qualified or hint
        name = self.type_names.name(key, wanted, RESERVED_TYPES)
        if ref is not None:
            self.named_enums.setdefault(same_values, name)
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
        if not isinstance(discriminator, dict):  # Swagger 2 names only the property
            discriminator = {"propertyName": str(discriminator)}
        field_name = discriminator.get("propertyName")
        mapping: dict[str, str] = {}
        if field_name:
            explicit = discriminator.get("mapping") or {}
            by_ref = {m_ref: t for t, _, m_ref in members if m_ref}
            for value, target in explicit.items():
                target = str(target)  # a reference, or a schema's name
                target = target if target.startswith("#") else f"#/components/schemas/{target}"
                if target in by_ref:
                    mapping[str(value)] = by_ref[target]
            for type_name, resolved, m_ref in members:
                if type_name in mapping.values():
                    continue
                pinned = self._pinned(resolved, str(field_name))
                if pinned is not None:  # the member says its own value
                    mapping[str(pinned)] = type_name
                elif m_ref:
                    mapping[_ref_tokens(m_ref)[-1]] = type_name  # the implicit mapping
        else:
            field_name, mapping = _inline_discriminator(members, self._pinned)
        if not field_name or len(set(mapping.values())) != len(members) or field_name == "*":
            self._skip(f"types.{hint}", "a oneOf/anyOf without a usable discriminator becomes JSON")
            return "JSON"
        name = self.type_names.name(key, _ref_name(ref) if ref else hint, RESERVED_TYPES)
        self.types[name] = {
            "kind": "union",
            "types": sorted({t for t, _, _ in members}),
            "discriminator": {
                "field": key_path(str(field_name)),
                "mapping": dict(sorted(mapping.items())),
            },
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


def _ref_tokens(ref: str) -> list[str]:
    """The reference tokens of a local `$ref`: its URI fragment percent-decoded (RFC 3986),
    then split as a JSON pointer (RFC 6901: `~1` → `/`, `~0` → `~`, in that order)."""
    pointer = unquote(ref[1:])
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _Skip(f"reference {ref!r} is not a JSON pointer")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _pointer(doc: Any, ref: str) -> Any:
    """What a local `$ref` points at, through objects and arrays (`…/parameters/0`)."""
    target = doc
    for token in _ref_tokens(ref):
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and ARRAY_INDEX.match(token) and int(token) < len(target):
            target = target[int(token)]
        else:
            raise _Skip(f"reference {ref!r} points nowhere")
    return target


def _ref_name(ref: str) -> str:
    """A type name for what `ref` points at: the schema's own name (`#/components/schemas/
    Pet` → `Pet`), else the meaningful words of a deeper pointer (`…/User/properties/address`
    → `UserAddress`)."""
    tokens = _ref_tokens(ref)
    if len(tokens) == 3 and tokens[:2] == ["components", "schemas"]:
        return pascal(tokens[2])
    meaningful = [t for t in tokens if t not in POINTER_STRUCTURE and not ARRAY_INDEX.match(t)]
    return pascal(" ".join(meaningful[-3:]))


def _find(
    fields: Mapping[tuple[str, ...], dict[str, Any]],
    names: Sequence[str],
    fits: Callable[[dict[str, Any]], bool],
) -> tuple[str, ...] | None:
    """The first field (top level first, then by the order of `names`) that is named one of
    `names` and whose schema `fits`."""
    for depth in (1, 2):
        for name in names:
            found = next(
                (p for p, s in fields.items() if len(p) == depth and p[-1] == name and fits(s)),
                None,
            )
            if found is not None:
                return found
    return None


def _path_text(keys: Sequence[str]) -> str:
    """A path of keys in the `from` path language (`meta.next`, `["@odata.nextLink"]`)."""
    return "".join(
        ("." if i and not p.startswith("[") else "") + p
        for i, p in enumerate(key_path(k) for k in keys)
    )


def _scheme_name(name: str) -> str:
    """A security scheme's name as a spec name (`bearerAuth` → `bearer_auth`)."""
    return connector_name(name) or "scheme"


def _plain_names(params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The location that keeps each parameter's plain name when several share it
    (`/proxy/{name}?name=…`): path, query, header, cookie in that order; the others are
    named after their location (`nameQuery`)."""
    plain: dict[str, str] = {}
    for name, location in sorted(params, key=lambda p: (_LOCATIONS.get(p[1], 9), p[1])):
        plain.setdefault(name, location)
    return plain


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
    pinned: Callable[[Mapping[str, Any], str], Any],
) -> tuple[str | None, dict[str, str]]:
    """A property every member pins to one value (`enum: [x]` or `const: x`)."""
    candidates: set[str] | None = None
    for _, schema, _ in members:
        props = {str(k) for k in schema.get("properties") or {}}
        candidates = props if candidates is None else candidates & props
    for prop in sorted(candidates or ()):
        mapping = {}
        for type_name, schema, _ in members:
            value = pinned(schema, prop)
            if value is None:
                break
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
                new_op["requestBody"] = {
                    "required": bool(body.get("required")),
                    "content": {
                        media: {"schema": body.get("schema") or {}}
                        for media in op.get("consumes") or consumes
                    },
                }
            elif forms:
                props = {
                    p["name"]: {
                        k: v for k, v in p.items() if k in ("type", "format", "items", "enum")
                    }
                    for p in forms
                }
                for prop in props.values():
                    if prop.get("type") == "file":  # Swagger 2's file upload
                        prop.update(type="string", format="binary")
                files = any(p.get("type") == "file" for p in forms)
                takes = op.get("consumes") or consumes
                multipart = files or (MULTIPART_TYPE in takes and FORM_TYPE not in takes)
                form_type = MULTIPART_TYPE if multipart else FORM_TYPE
                required = [p["name"] for p in forms if p.get("required")]
                new_op["requestBody"] = {
                    "required": bool(required),  # optional only when every field is
                    "content": {
                        form_type: {
                            "schema": {"type": "object", "properties": props, "required": required}
                        }
                    },
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
    converted = {
        k: v for k, v in param.items() if k in ("name", "in", "required", "description")
    } | {"schema": schema}
    if param.get("type") == "array" and param.get("in") == "query":
        # Swagger 2 joins arrays with commas unless collectionFormat says otherwise
        form = str(param.get("collectionFormat") or "csv")
        style, explode = COLLECTION_FORMATS.get(form, ("form", False))
        converted |= {"style": style, "explode": explode}
    return converted


COLLECTION_FORMATS = {
    "multi": ("form", True),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
}
"""Swagger 2 `collectionFormat`s as OpenAPI 3 query styles; csv (the default) and tsv,
which has no style, are `form` without explode."""

PARAM_STYLES = {
    "query": ("form", {"form", "spaceDelimited", "pipeDelimited", "deepObject"}),
    "path": ("simple", {"simple", "label", "matrix"}),
    "header": ("simple", {"simple"}),
}
"""Each location's default style and the styles it takes."""


def _serialization(param: Mapping[str, Any], location: str) -> dict[str, Any]:
    """A parameter's `style` and `explode` for its argument, where they differ from
    OpenAPI's defaults (a style the location does not take is left at the default)."""
    default, allowed = PARAM_STYLES.get(location, ("form", set()))
    style = param.get("style")
    style = style if style in allowed else default
    explode = param.get("explode")
    out: dict[str, Any] = {"style": style} if style != default else {}
    if isinstance(explode, bool) and explode != (style == "form"):
        out["explode"] = explode
    return out


def _response2(response: Any, produces: list[str]) -> dict[str, Any]:
    if not isinstance(response, dict) or "$ref" in response:
        return dict(response) if isinstance(response, dict) else {}
    out: dict[str, Any] = {"description": response.get("description", "")}
    if "schema" in response:  # every type offered: the importer picks JSON when there is one
        out["content"] = {media: {"schema": response["schema"]} for media in produces}
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
