"""Generated connector docs: a byte-exact snapshot, valid example queries, safe escaping.

Refresh the snapshot after an intended change with
`UPDATE_SNAPSHOTS=1 pytest -n0 tests/builder/test_docs.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import graphql
import pytest
import yaml

from connectql.builder.docs import generate_docs
from connectql.config import AppConfig
from connectql.connectors.builtin import builtin_names, builtin_spec
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.graph.types import type_prefix
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec, load_spec_text
from connectql.spec.models import ConnectorSpec
from tests.graph.shape_specs import ROOT_TRACKER, write

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SNAPSHOT = HERE / "snapshots" / "bookstore.md"
SECRET_DEFAULT = "s3cr3t-default-token"

PLACEHOLDERS: dict[str, Any] = {
    "string": "https://placeholder.invalid",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
}


def bookstore_spec() -> ConnectorSpec:
    """The demo spec with tests: unrecorded, recorded, and one whose fixture is out of bounds."""
    data = yaml.safe_load(Path(BOOKSTORE_SPEC).read_text(encoding="utf-8"))
    data["tests"] = [
        {"name": "unrecorded", "operation": "book", "args": {"id": "1"}, "fixture": "none.json"},
        {
            "name": "one book",
            "operation": "book",
            "args": {"id": "1"},
            "fixture": "bookstore-book.json",
        },
        {"name": "first page", "operation": "books", "first": 5, "fixture": "bookstore-books.json"},
        {
            "name": "escapes",
            "operation": "author",
            "args": {"id": "1"},
            "fixture": "../test_docs.py",
        },
    ]
    return load_spec_text(yaml.safe_dump(data, sort_keys=False), "bookstore.yaml")


def prebuilt_specs() -> list[ConnectorSpec]:
    return [load_spec(builtin_spec(name)) for name in builtin_names()]


def all_specs() -> list[ConnectorSpec]:
    return [bookstore_spec(), *prebuilt_specs()]


def blocks(docs: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)\n```$", docs, flags=re.DOTALL | re.MULTILINE)


def cells(row: str) -> list[str]:
    """The cells of a Markdown table row, splitting only on unescaped pipes."""
    found, current, i = [], "", 0
    while i < len(row):
        if row[i] == "\\":
            current += row[i : i + 2]
            i += 2
            continue
        if row[i] == "|":
            found.append(current)
            current = ""
        else:
            current += row[i]
        i += 1
    found.append(current)
    return found[1:-1]


def placeholder_config(spec: ConnectorSpec) -> dict[str, Any]:
    return {name: PLACEHOLDERS[key.type] for name, key in spec.config.items()}


# --- snapshot and determinism --------------------------------------------------------------


def test_bookstore_docs_match_the_snapshot() -> None:
    docs = generate_docs(bookstore_spec(), fixtures_dir=FIXTURES)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_bytes(docs.encode("utf-8"))
    assert docs.encode("utf-8") == SNAPSHOT.read_bytes(), (
        "the docs changed; if intended, rerun with UPDATE_SNAPSHOTS=1"
    )


def test_regenerating_gives_identical_docs() -> None:
    first = generate_docs(bookstore_spec(), fixtures_dir=FIXTURES)
    assert generate_docs(bookstore_spec(), fixtures_dir=FIXTURES) == first


def test_sections_come_in_order() -> None:
    docs = generate_docs(bookstore_spec(), fixtures_dir=FIXTURES)
    headings = [line for line in docs.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Setup",
        "## Authentication",
        "## Operations",
        "## Types",
        "## Errors",
    ]
    operations = re.findall(r"^#### `(\w+)`$", docs, flags=re.MULTILINE)
    assert operations == ["author", "book", "books", "booksByAuthor", "createBook"]


def test_example_responses_come_from_the_first_recorded_test() -> None:
    docs = generate_docs(bookstore_spec(), fixtures_dir=FIXTURES)
    book = docs.split("#### `book`")[1].split("#### ")[0]
    assert "from the test `one book`, HTTP 200" in book
    assert '"author_id": "2"' in book
    books = docs.split("#### `books`")[1].split("#### ")[0]
    shown = blocks(books, "json")[0]
    assert len(shown.splitlines()) == 40
    assert "(Shortened:" in books
    author = docs.split("#### `author`")[1].split("#### ")[0]
    assert "No example response" in author  # its fixture lies outside the fixtures folder


def test_without_a_fixtures_dir_no_operation_has_an_example_response() -> None:
    docs = generate_docs(bookstore_spec())
    assert docs.count("No example response") == 5
    assert not blocks(docs, "json")


# --- every spec ----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", prebuilt_specs(), ids=builtin_names())
def test_every_prebuilt_connector_has_docs(spec: ConnectorSpec) -> None:
    docs = generate_docs(spec)
    assert docs.startswith(f"# {spec.connector.title or spec.name}\n")
    for name in spec.operations:
        assert f"#### `{name}`" in docs
    for name in spec.types:
        assert f"`{type_prefix(spec.name)}{name}`" in docs  # google_genai: GoogleGenai…


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_every_example_query_validates_against_the_schema(spec: ConnectorSpec) -> None:
    runtime = Runtime()
    runtime.add(spec, placeholder_config(spec))
    queries = blocks(generate_docs(spec), "graphql")
    assert len(queries) == len(spec.operations)
    for query in queries:
        errors = graphql.validate(runtime.schema.graphql_schema, graphql.parse(query))
        assert not errors, f"{query}\n{errors}"


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_the_config_snippet_is_a_valid_connectql_yaml(spec: ConnectorSpec) -> None:
    (snippet,) = blocks(generate_docs(spec), "yaml")
    config = AppConfig.model_validate(yaml.safe_load(snippet))
    required = {name for name, key in spec.config.items() if key.required}
    assert set(config.connectors[0].config) == required
    for name in spec.secret_keys() & required:
        assert config.connectors[0].config[name].startswith("{env.")


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_every_table_row_has_as_many_cells_as_its_header(spec: ConnectorSpec) -> None:
    assert_tables_are_whole(generate_docs(spec, fixtures_dir=FIXTURES))


def assert_tables_are_whole(docs: str) -> None:
    width = 0
    for line in docs.splitlines():
        if not line.startswith("|"):
            width = 0
        elif width == 0:
            width = len(cells(line))
        else:
            assert len(cells(line)) == width, line


# --- hostile specs -------------------------------------------------------------------------

HOSTILE = f"""
connector:
  name: hostile
  title: "Evil | title\\n# injected heading"
  description: "Line one\\n\\n# Not a heading\\n<script>alert(1)</script>
    `tick` [x](javascript:alert(1))"
  docs_url: "javascript:alert(1)"
config:
  base_url: {{required: true, description: "a | b\\n| --- | --- |"}}
  token:
    secret: true
    default: {SECRET_DEFAULT}
    description: "Defaults to {SECRET_DEFAULT} | <b>bold</b>"
source:
  base_url: "{{config.base_url}}"
  auth: {{type: bearer, token: "{{config.token}}"}}
types:
  Thing:
    description: "<img src=x onerror=alert(1)>"
    fields:
      id: ID!
      name: {{type: String, from: "odd|path", description: "pipe | here\\n``` fence"}}
      mood: Mood
  Mood:
    kind: enum
    values: {{HAPPY: "a|b", SAD: "<script>", CALM: "{SECRET_DEFAULT}"}}
operations:
  thing:
    description: "```\\nan unclosed fence"
    args:
      id: {{type: ID!, description: "x | y\\n| --- |"}}
      mode: {{type: String, default: "{SECRET_DEFAULT}"}}
    request: {{path: "/things/{{args.id}}"}}
    response: {{type: Thing}}
    errors:
      "418": {{code: TEAPOT, message: "<script>no</script> | {SECRET_DEFAULT}"}}
tests:
  - {{name: "t|<script>", operation: thing, args: {{id: "1"}}, fixture: hostile.json}}
"""


@pytest.fixture
def hostile_docs(tmp_path: Path) -> str:
    body = f"```\n# not a heading\n<script>{SECRET_DEFAULT}</script>\n"
    exchange = {"request": {}, "response": {"status": 200, "headers": {}, "body": body}}
    (tmp_path / "hostile.json").write_text(json.dumps({"exchanges": [exchange]}))
    return generate_docs(load_spec_text(HOSTILE, "hostile.yaml"), fixtures_dir=tmp_path)


def test_a_secret_default_is_never_printed(hostile_docs: str) -> None:
    assert SECRET_DEFAULT not in hostile_docs
    assert "| `token` | string, secret | no | (hidden) |" in hostile_docs
    assert '"{env.HOSTILE_TOKEN}"' in hostile_docs


def outside_code_blocks(docs: str) -> str:
    return re.sub(r"^(`{3,})\w*\n.*?^\1$", "", docs, flags=re.DOTALL | re.MULTILINE)


def test_hostile_text_cannot_inject_html_or_links(hostile_docs: str) -> None:
    text = outside_code_blocks(hostile_docs)
    for unsafe in ("<script", "<img", "<b>", "<javascript"):
        assert unsafe not in text
    assert not re.search(r"(?<!\\)\]\(javascript", text)
    assert "&lt;script&gt;" in text


def test_hostile_text_cannot_break_tables_or_blocks(hostile_docs: str) -> None:
    assert_tables_are_whole(hostile_docs)
    text = outside_code_blocks(hostile_docs)
    headings = [line for line in text.splitlines() if line.startswith("# ")]
    assert headings == ["# Evil \\| title # injected heading"]
    fences = [line for line in hostile_docs.splitlines() if line.startswith("```")]
    assert fences == [
        "```yaml",
        "```",
        "```graphql",
        "```",
        "````text",  # the body holds ``` itself, so its fence is longer
        "```",
        "````",
    ]


# --- every kind of type, pagination and auth ---------------------------------------------

KITCHEN_SINK = """
connector: {name: kitchen_sink}
config:
  base_url: {required: true}
  client_id: {required: true}
  client_secret: {required: true, secret: true}
  retries: {type: integer, default: 3}
source:
  base_url: "{config.base_url}"
  auth:
    type: oauth2
    grant: client_credentials
    token_url: "{config.base_url}/token"
    client_id: "{config.client_id}"
    client_secret: "{config.client_secret}"
    scopes: [read, write]
types:
  Kind: {kind: enum, values: [small-thing, bigThing]}
  Cat: {fields: {id: ID!, name: String, kind: {type: Kind, from: type}}}
  Dog: {fields: {id: Int!, barks: Boolean}}
  Pet:
    kind: union
    types: [Cat, Dog]
    discriminator: {field: type, mapping: {cat: Cat, dog: Dog}}
  Filter: {kind: input, fields: {kind: Kind!, tags: "[String!]!", inner: Inner!, limit: Int}}
  Inner: {kind: input, fields: {enabled: Boolean!, weight: Float!, extra: JSON!}}
operations:
  pets:
    args: {filter: Filter!}
    request: {path: /pets}
    response: {type: "[Pet!]!"}
    pagination: {strategy: page}
  cats:
    request: {path: /cats}
    response: {type: "[Cat!]!"}
    pagination: {strategy: offset, total_path: total}
  dogs:
    request: {path: /dogs}
    response: {type: "[Dog!]!"}
    pagination: {strategy: cursor, cursor_path: next}
  more:
    request: {path: /more}
    response: {type: "[Cat!]!"}
    pagination: {strategy: next_url, next_url_path: links.next}
  pet:
    args: {id: ID!, kind: Kind!}
    request: {path: "/pets/{args.id}"}
    response: {type: Pet}
  names:
    request: {path: /names}
    response: {type: "[String!]!"}
"""


def test_every_type_kind_and_pagination_gives_valid_examples() -> None:
    spec = load_spec_text(KITCHEN_SINK, "kitchen_sink.yaml")
    docs = generate_docs(spec)
    runtime = Runtime()
    runtime.add(spec, placeholder_config(spec))
    for query in blocks(docs, "graphql"):
        errors = graphql.validate(runtime.schema.graphql_schema, graphql.parse(query))
        assert not errors, f"{query}\n{errors}"
    assert 'pet(id: "1", kind: SMALL_THING)' in docs
    assert "... on KitchenSinkCat {" in docs
    assert "inner: {enabled: true, weight: 1.5, extra: {}}" in docs
    for strategy in ("page", "offset", "cursor", "next_url"):
        assert f"Pagination: `{strategy}`" in docs
    assert '| `SMALL_THING` | `"small-thing"` |' in docs
    assert '| `"dog"` | `KitchenSinkDog` |' in docs
    assert "      # retries: 3" in docs
    assert_tables_are_whole(docs)


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"type": "none"}, ["None: requests carry no credentials."]),
        (
            {"type": "api_key", "key": "{config.client_secret}", "in": "query", "name": "key"},
            ["the `key` query parameter", "Key: config `client_secret` (secret)"],
        ),
        (
            {
                "type": "basic",
                "username": "{config.client_id}",
                "password": "{config.client_secret}",
            },
            ["Username: config `client_id`", "Password: config `client_secret` (secret)"],
        ),
        (
            {
                "type": "aws_sigv4",
                "region": "eu-west-1",
                "service": "s3",
                "access_key_id": "{config.client_id}",
                "secret_access_key": "{config.client_secret}",
            },
            ["Region: fixed in the spec", "Session token: not used"],
        ),
        (
            None,
            ["grant `client_credentials`", "Scopes: `read`, `write`", "Token endpoint: config"],
        ),
    ],
)
def test_every_auth_type_is_explained(auth: dict[str, Any] | None, expected: list[str]) -> None:
    data = yaml.safe_load(KITCHEN_SINK)
    if auth is not None:
        data["source"]["auth"] = auth
    section = generate_docs(ConnectorSpec.model_validate(data)).split("## Authentication")[1]
    section = section.split("## Operations")[0]
    for text in expected:
        assert text in section


def test_docs_of_a_root_connector_call_root_fields_and_skip_hidden_operations(
    tmp_path: Path,
) -> None:
    spec = load_spec(write(tmp_path, ROOT_TRACKER))
    runtime = Runtime()
    runtime.add(spec, placeholder_config(spec))
    queries = blocks(generate_docs(spec), "graphql")
    exposed = [name for name, op in spec.operations.items() if op.expose]
    assert len(queries) == len(exposed) == 2  # issues, lockIssue; not user, usersIn
    assert any(q.startswith("query {\n  issues(") for q in queries)
    for query in queries:
        errors = graphql.validate(runtime.schema.graphql_schema, graphql.parse(query))
        assert not errors, f"{query}\n{errors}"
