"""The compiled executor against graphql-core (the reference) on queries chosen to be hard:
upstream values that do not fit their types, null propagation through non-null lists,
errors inside list items, unions, aliases, fragments, `__typename`, @skip/@include and
failing upstreams. Each query runs once per executor, on fresh request contexts, and the
client-visible results must be equal; the plan must have run (not a fallback). The
differential mode must catch a wrong plan, and the compiled plan makes the reference's
upstream calls."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectql.graph.execution import CompiledPlans, attach_plans, plans_of
from connectql.graph.plan import PlanRun
from connectql.resolvers.fields import RequestContext
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from connectql.testing.upstream import Fault
from tests.support import bookstore_runtime

ZOO = """\
spec_version: 1
connector: {name: zoo}
config:
  base_url: {required: true}
source:
  base_url: "{config.base_url}"
types:
  Animal:
    fields:
      id: ID!
      name: String!
      lives: Int
      tags: "[String!]"
      size: Size
      pet: {type: Pet, from: "."}
      owner:
        type: User
        resolve: {operation: user, args: {id: "{parent.owner}"}}
  Size: {kind: enum, values: [small, large]}
  Cat: {fields: {name: String, lives: Int}}
  Dog: {fields: {name: String, barks: Boolean}}
  Pet:
    kind: union
    types: [Cat, Dog]
    discriminator: {field: type, mapping: {cat: Cat, dog: Dog}}
  User: {fields: {id: ID!, name: String}}
operations:
  animals:
    request: {path: /animals}
    response: {type: "[Animal!]!"}
  loose:
    request: {path: /animals}
    response: {type: "[Animal]"}
  animal:
    args: {id: ID!}
    request: {path: "/animals/{args.id}"}
    response: {type: Animal}
    errors: {"404": null}
  user:
    expose: false
    args: {id: ID!}
    request: {path: "/users/{args.id}"}
    response: {type: User}
    errors: {"404": null}
"""

ANIMALS: list[dict[str, Any]] = [
    {"id": "1", "name": "Tom", "type": "cat", "lives": 9, "owner": "u1", "tags": ["a", "b"]},
    {"id": "2", "name": None, "type": "dog", "barks": True, "owner": "u2", "tags": ["x", None]},
    {"id": "3", "name": "Nemo", "type": "fish", "owner": "u404", "size": "tiny"},
    {"id": "4", "name": "Rex", "type": "dog", "barks": "loud", "lives": 2**40, "owner": "u500"},
    {"id": "5", "name": "Kit", "type": "cat", "lives": 7.5, "owner": "u1", "size": "small"},
]


def zoo_app() -> web.Application:
    async def animals(request: web.Request) -> web.Response:
        return web.json_response(ANIMALS)

    async def animal(request: web.Request) -> web.Response:
        for record in ANIMALS:
            if record["id"] == request.match_info["id"]:
                return web.json_response(record)
        return web.json_response({"error": "no such animal"}, status=404)

    async def user(request: web.Request) -> web.Response:
        login = request.match_info["id"]
        if login == "u404":
            return web.json_response({"error": "no such user"}, status=404)
        if login == "u500":
            return web.json_response({"error": "down"}, status=500)
        return web.json_response({"id": login, "name": f"User {login}"})

    app = web.Application()
    app.router.add_get("/animals", animals)
    app.router.add_get("/animals/{id}", animal)
    app.router.add_get("/users/{id}", user)
    return app


@pytest.fixture
async def zoo(tmp_path: Path) -> AsyncIterator[tuple[Runtime, FakeUpstream]]:
    path = tmp_path / "zoo.yaml"
    path.write_text(ZOO)
    async with FakeUpstream(zoo_app()) as upstream:
        runtime = Runtime()
        runtime.add(load_spec(path), {"base_url": upstream.url})
        await runtime.start()
        try:
            yield runtime, upstream
        finally:
            await runtime.stop()


async def run(runtime: Runtime, mode: str, query: str, variables: Any = None) -> dict[str, Any]:
    plans = plans_of(runtime.schema.graphql_schema)
    assert plans is not None
    plans.mode = mode
    context = RequestContext(connectors=runtime.connectors)
    result = await runtime.schema.schema.execute(
        query, variable_values=variables, context_value=context
    )
    return {"data": result.data, "errors": [e.formatted for e in result.errors or ()]}


async def same(runtime: Runtime, query: str, variables: Any = None) -> dict[str, Any]:
    """The result of `query`, after checking that both executors give it and that the
    compiled one ran its plan."""
    plans = plans_of(runtime.schema.graphql_schema)
    assert plans is not None
    compiled_before = plans.compiled
    reference = await run(runtime, "reference", query, variables)
    compiled = await run(runtime, "compiled", query, variables)
    assert plans.compiled == compiled_before + 1, "the query ran through graphql-core"
    assert compiled == reference
    return compiled


ZOO_CASES = [
    pytest.param(
        """{ zoo { loose { id name lives tags size owner { id name }
                   pet { __typename ... on ZooCat { lives } ... on ZooDog { barks } } } } }""",
        None,
        id="errors-inside-list-items",
    ),
    pytest.param("{ zoo { animals { id name } } }", None, id="null-through-non-null-list"),
    pytest.param(
        "{ zoo { animals { id } loose { tags } } }", None, id="non-null-item-errors-in-sibling"
    ),
    pytest.param(
        """{ zoo { a: animal(id: "1") { name } b: animal(id: "2") { id }
                   c: animal(id: "1") { id lives } none: animal(id: "99") { id } } }""",
        None,
        id="aliases-with-different-arguments",
    ),
    pytest.param(
        """{ __typename zoo { __typename animal(id: "5") { __typename
             pet { __typename } owner { __typename } } } }""",
        None,
        id="typename-everywhere",
    ),
    pytest.param(
        """query Q($owner: Boolean = true, $id: ID = "1") { zoo { animal(id: $id) {
             id owner @include(if: $owner) { name } name @skip(if: $owner) } } }""",
        {},
        id="variable-defaults",
    ),
    pytest.param(
        """query Q($owner: Boolean = true, $id: ID = "1") { zoo { animal(id: $id) {
             id owner @include(if: $owner) { name } name @skip(if: $owner) } } }""",
        {"owner": False, "id": "4"},
        id="variables-given",
    ),
    pytest.param(
        """{ zoo { loose { ...Named pet { ...Pets } } } }
           fragment Named on ZooAnimal { id name owner { ...Who } }
           fragment Who on ZooUser { id name }
           fragment Pets on ZooPet { ... on ZooCat { name lives } ... on ZooDog { name } }""",
        None,
        id="fragments-on-unions",
    ),
    pytest.param(
        """{ zoo { animal(id: "1") { id ... { name } ... on ZooAnimal { name lives }
             name } } }""",
        None,
        id="field-merging",
    ),
]


@pytest.mark.parametrize(("query", "variables"), ZOO_CASES)
async def test_compiled_equals_graphql_core(
    zoo: tuple[Runtime, FakeUpstream], query: str, variables: Any
) -> None:
    runtime, _ = zoo
    result = await same(runtime, query, variables)
    assert result["data"] is not None


async def test_the_hard_cases_are_hard(zoo: tuple[Runtime, FakeUpstream]) -> None:
    """The list case does meet what it is named for: partial items, located errors."""
    runtime, _ = zoo
    result = await same(
        runtime,
        """{ zoo { loose { id name lives owner { name }
                   pet { ... on ZooCat { lives } ... on ZooDog { barks } } } } }""",
    )
    items = result["data"]["zoo"]["loose"]
    assert items[0]["owner"] == {"name": "User u1"}
    assert items[1] is None  # name: String! was null
    assert items[2]["pet"] is None
    assert items[2]["owner"] is None
    assert items[3]["lives"] is None
    assert items[3]["owner"] is None
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in result["errors"]}
    assert codes[("zoo", "loose", 1, "name")] == "BAD_RESPONSE"
    assert codes[("zoo", "loose", 2, "pet")] == "BAD_RESPONSE"
    assert codes[("zoo", "loose", 3, "lives")] == "BAD_RESPONSE"
    assert codes[("zoo", "loose", 3, "owner")] != "BAD_RESPONSE"
    assert [e["path"] for e in result["errors"]] == sorted(
        (e["path"] for e in result["errors"]), key=lambda p: (p[2], p[3])
    )  # response order


async def test_a_failing_upstream_gives_the_same_partial_data(
    zoo: tuple[Runtime, FakeUpstream],
) -> None:
    runtime, upstream = zoo
    upstream.faults.add(
        Fault(status=503, body=b'{"error": "busy"}', match=lambda r: r.path == "/users/u1"),
        times=None,
    )
    result = await same(runtime, '{ zoo { animal(id: "1") { id owner { name } } loose { id } } }')
    assert result["data"]["zoo"]["animal"] == {"id": "1", "owner": None}
    assert result["errors"][0]["path"] == ["zoo", "animal", "owner"]


async def test_what_is_not_compiled_runs_through_graphql_core(
    zoo: tuple[Runtime, FakeUpstream],
) -> None:
    runtime, _ = zoo
    plans = plans_of(runtime.schema.graphql_schema)
    assert plans is not None
    before = plans.fallbacks
    result = await run(runtime, "compiled", '{ connectorNames zoo { animal(id: "1") { id } } }')
    assert result == {
        "data": {"connectorNames": ["zoo"], "zoo": {"animal": {"id": "1"}}},
        "errors": [],
    }
    assert plans.fallbacks == before + 1


@pytest.mark.executor_mismatch
async def test_the_differential_mode_catches_a_wrong_plan(
    zoo: tuple[Runtime, FakeUpstream], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    runtime, _ = zoo
    honest = PlanRun.execute_fields

    def wrong(self: PlanRun, fields: Any, source: Any, path: Any) -> Any:
        value = honest(self, fields, source, path)
        if isinstance(value, dict) and "name" in value:
            value["name"] = "a wrong name"
        return value

    monkeypatch.setattr(PlanRun, "execute_fields", wrong)
    with caplog.at_level(logging.ERROR, logger="connectql.execution"):
        result = await run(runtime, "differential", '{ zoo { animal(id: "1") { id name } } }')
    assert result["data"] == {"zoo": {"animal": {"id": "1", "name": "a wrong name"}}}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "EXECUTOR_MISMATCH"
    assert "zoo.animal.name" in error["message"]
    assert "zoo.animal.name" in caplog.text


@pytest.mark.parametrize("mode", ["reference", "compiled", "differential"])
async def test_the_nested_query_makes_two_upstream_calls(
    bookstore: FakeUpstream, mode: str
) -> None:
    runtime = bookstore_runtime(bookstore)
    await runtime.start()
    try:
        result = await run(
            runtime,
            mode,
            "{ bookstore { books(first: 50) { nodes { id title author { id name } } } } }",
        )
    finally:
        await runtime.stop()
    assert result["errors"] == []
    nodes = result["data"]["bookstore"]["books"]["nodes"]
    assert len(nodes) == 50
    assert all(n["author"]["name"] for n in nodes)
    assert len(bookstore.requests) == 2


async def test_plans_are_kept_per_document_and_bounded(
    zoo: tuple[Runtime, FakeUpstream],
) -> None:
    runtime, _ = zoo
    schema = runtime.schema.graphql_schema
    plans = CompiledPlans(mode="compiled", maxsize=2)
    attach_plans(schema, plans)
    for n in range(3):
        await run(runtime, "compiled", f'{{ zoo {{ animal(id: "{n}") {{ id }} }} }}')
        await run(runtime, "compiled", f'{{ zoo {{ animal(id: "{n}") {{ id }} }} }}')
    assert plans.compiled == 6
    assert len(plans) == 2
