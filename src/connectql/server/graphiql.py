"""The GraphiQL page: vendored assets (no CDN) and a default query that runs against the
connectors being served."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import orjson
from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Undefined

from connectql.server import assets

MAX_LEAVES = 8
FALLBACK_QUERY = "{\n  schemaVersion\n  connectors {\n    name\n    state\n  }\n}\n"
HINT = """\
# An example query of {name}: run it with Ctrl-Enter or ▶.
# Send an API key from the Headers tab below
# (mutations need an admin key):
# {{"Authorization": "Bearer YOUR_KEY"}}

"""


def render(root_path: str, default_query: str) -> str:
    tags = [
        assets.stylesheet(root_path, "graphiql", "graphiql.min.css"),
        assets.script(root_path, "react", "react.production.min.js"),
        assets.script(root_path, "react-dom", "react-dom.production.min.js"),
        assets.script(root_path, "graphiql", "graphiql.min.js"),
    ]
    # `<` escaped so that nothing in the query can close the <script> holding it
    config = orjson.dumps({"defaultQuery": default_query}).decode().replace("<", "\\u003c")
    page = _template().replace("{{ assets }}", "\n    ".join(tags))
    return page.replace("{{ config }}", config)


def example_query(schema: GraphQLSchema, namespaces: Iterable[str]) -> str:
    """A query of the first connector (by name) that has a field callable without arguments,
    selecting its scalar fields (through `nodes` for a Relay connection)."""
    query_type = schema.query_type
    assert query_type is not None
    for name in sorted(namespaces):
        namespace = query_type.fields.get(name)
        holder = get_named_type(namespace.type) if namespace else None
        if not isinstance(holder, GraphQLObjectType):
            continue
        for field_name, field in holder.fields.items():
            if not _callable_bare(field):
                continue
            selection = _selection(get_named_type(field.type), "    ")
            if selection is None:
                continue
            args = "(first: 5)" if "first" in field.args else ""
            body = f"  {name} {{\n    {field_name}{args}{selection}\n  }}\n"
            return HINT.format(name=name) + "{\n" + body + "}\n"
    return FALLBACK_QUERY


def _callable_bare(field: GraphQLField) -> bool:
    return not any(
        is_non_null_type(arg.type) and arg.default_value is Undefined for arg in field.args.values()
    )


def _selection(named: GraphQLNamedType, indent: str) -> str | None:
    """` { leaf … }` for an object type, "" for a leaf, None if nothing simple to select."""
    if is_leaf_type(named):
        return ""
    if not isinstance(named, GraphQLObjectType):
        return None  # interfaces and unions need fragments: not an example's job
    nodes = named.fields.get("nodes")
    if nodes is not None and "pageInfo" in named.fields:
        inner = _selection(get_named_type(nodes.type), indent + "  ")
        return None if not inner else f" {{\n{indent}  nodes{inner}\n{indent}}}"
    leaves = [
        name
        for name, field in named.fields.items()
        if is_leaf_type(get_named_type(field.type)) and _callable_bare(field)
    ][:MAX_LEAVES]
    if not leaves:
        return None
    return " {\n" + "".join(f"{indent}  {leaf}\n" for leaf in leaves) + indent + "}"


@cache
def _template() -> str:
    return (Path(__file__).parent / "graphiql.html").read_text(encoding="utf-8")
