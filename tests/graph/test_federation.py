"""The served schema as a federation subgraph: off by default; when on, `_service { sdl }`
holds the connectors' part only, with `@key` and `@shareable` added through the AST, and
`_entities` answers representations through the connectors' dataloaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from graphql import (
    DocumentNode,
    ObjectTypeDefinitionNode,
    SchemaExtensionNode,
    parse,
    print_ast,
    value_from_ast_untyped,
)

from connectql.config import load_config
from connectql.errors import ConfigError
from connectql.graph.federation import FEDERATION_URL
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec, load_spec_text
from connectql.testing import FakeUpstream
from tests.fakes.chat import CHAT_TOKEN, ChatState, create_chat_app
from tests.fakes.tracker import TRACKER_TOKEN, create_tracker_app
from tests.support import execute, serving

DATA = Path(__file__).parent.parent / "fakes" / "data"
SDL = "{ _service { sdl } }"


@pytest.fixture
async def upstreams() -> AsyncIterator[tuple[FakeUpstream, FakeUpstream]]:
    async with (
        FakeUpstream(create_tracker_app()) as tracker,
        FakeUpstream(create_chat_app(ChatState.seeded())) as chat,
    ):
        yield tracker, chat


def _runtime(
    tracker: FakeUpstream, chat: FakeUpstream, *, federation: bool = True, chat_lookup: bool = True
) -> Runtime:
    chat_spec = yaml.safe_load((DATA / "chat.yaml").read_text())
    if not chat_lookup:
        del chat_spec["types"]["Profile"]["lookup"]
    runtime = Runtime(federation=federation)
    runtime.set_connectors(
        [
            (
                load_spec(DATA / "tracker.yaml"),
                {"base_url": tracker.url, "token": TRACKER_TOKEN},
            ),
            (
                load_spec_text(yaml.safe_dump(chat_spec), "chat.yaml"),
                {"base_url": chat.url, "token": CHAT_TOKEN},
            ),
        ]
    )
    return runtime


def _objects(document: DocumentNode) -> dict[str, ObjectTypeDefinitionNode]:
    return {
        d.name.value: d for d in document.definitions if isinstance(d, ObjectTypeDefinitionNode)
    }


def _directives(node: ObjectTypeDefinitionNode) -> list[tuple[str, dict[str, Any]]]:
    return [
        (d.name.value, {a.name.value: value_from_ast_untyped(a.value) for a in d.arguments or ()})
        for d in node.directives or ()
    ]


async def test_federation_is_off_by_default(upstreams: tuple[FakeUpstream, FakeUpstream]) -> None:
    runtime = _runtime(*upstreams, federation=False)
    types = runtime.schema.graphql_schema.type_map
    assert "_service" not in runtime.schema.graphql_schema.query_type.fields  # type: ignore[union-attr]
    assert "_Any" not in types
    assert "_Entity" not in types


async def test_the_schema_gains_what_a_gateway_asks_for(
    upstreams: tuple[FakeUpstream, FakeUpstream],
) -> None:
    schema = _runtime(*upstreams).schema.graphql_schema
    query = schema.query_type
    assert query is not None
    assert str(query.fields["_service"].type) == "_Service!"
    entities = query.fields["_entities"]
    assert str(entities.type) == "[_Entity]!"
    assert str(entities.args["representations"].type) == "[_Any!]!"
    assert sorted(t.name for t in schema.type_map["_Entity"].types) == [  # type: ignore[attr-defined]
        "ChatProfile",
        "TrackerUser",
    ]
    for name in ("_Any", "FieldSet", "link__Import", "link__Purpose", "_Service"):
        assert name in schema.type_map, name
    assert {"key", "link", "shareable"} <= {d.name for d in schema.directives}


async def test_the_sdl_is_the_connectors_subgraph(
    upstreams: tuple[FakeUpstream, FakeUpstream],
) -> None:
    async with serving(_runtime(*upstreams, chat_lookup=False)) as url:
        answer = await execute(url, SDL, key=None)
        assert answer.errors is None, answer.errors
        sdl = answer.data["_service"]["sdl"]
        again = await execute(url, SDL, key=None)
        assert again.data["_service"]["sdl"] == sdl
    document = parse(sdl)
    [extension] = [d for d in document.definitions if isinstance(d, SchemaExtensionNode)]
    assert print_ast(extension) == (
        f'extend schema @link(url: "{FEDERATION_URL}", import: ["@key", "@shareable"])'
    )
    assert document.definitions[0] is extension
    objects = _objects(document)
    assert _directives(objects["TrackerUser"]) == [("key", {"fields": "login"})]
    # a key without lookup: referenced by other subgraphs, never resolved here
    assert _directives(objects["ChatProfile"]) == [
        ("key", {"fields": "email", "resolvable": False})
    ]
    assert _directives(objects["PageInfo"]) == [("shareable", {})]
    for name in ("TrackerIssue", "TrackerQuery", "ChatQuery", "TrackerIssueConnection"):
        assert _directives(objects[name]) == [], name
    # The connectors' namespaces, nothing of the control plane or of federation itself.
    assert [f.name.value for f in objects["Query"].fields or ()] == ["chat", "tracker"]
    assert "Mutation" not in objects
    for name in ("connectors", "createConnector", "_service", "_entities", "_Any", "_Entity"):
        assert name not in sdl, name
    names = [getattr(d, "name", None) for d in document.definitions[1:]]
    assert [n.value for n in names if n] == sorted(n.value for n in names if n)


async def test_a_root_mounted_connector_is_in_the_sdl_by_its_operations(
    upstreams: tuple[FakeUpstream, FakeUpstream],
) -> None:
    """`connector.namespace: false`: the sdl's roots hold its operations, not a namespace."""
    _tracker, chat = upstreams
    spec = yaml.safe_load((DATA / "chat.yaml").read_text())
    spec["connector"]["namespace"] = False
    runtime = Runtime(federation=True)
    runtime.set_connectors(
        [
            (
                load_spec_text(yaml.safe_dump(spec), "chat.yaml"),
                {"base_url": chat.url, "token": CHAT_TOKEN},
            )
        ]
    )
    async with serving(runtime) as url:
        answer = await execute(url, SDL, key=None)
    assert answer.errors is None, answer.errors
    objects = _objects(parse(answer.data["_service"]["sdl"]))
    assert [f.name.value for f in objects["Query"].fields or ()] == ["profileByEmail"]
    assert "ChatQuery" not in objects
    assert _directives(objects["ChatProfile"]) == [("key", {"fields": "email"})]


async def test_entities_keep_order_null_and_errors_apart(
    upstreams: tuple[FakeUpstream, FakeUpstream],
) -> None:
    tracker, chat = upstreams
    representations: list[Any] = [
        {"__typename": "ChatProfile", "email": "grace-hopper@acme.test"},
        {"__typename": "TrackerUser", "login": "ada-lovelace"},
        {"__typename": "TrackerUser", "login": "no-such-person"},
        {"__typename": "Nope", "id": 1},
        "not an object",
        {"__typename": "ChatProfile", "email": "ada-lovelace@acme.test"},
        {"__typename": "TrackerUser", "login": "ada-lovelace"},
    ]
    query = """
    query($r: [_Any!]!) {
      _entities(representations: $r) {
        __typename
        ... on TrackerUser { login name }
        ... on ChatProfile { email realName }
      }
    }"""
    async with serving(_runtime(tracker, chat)) as url:
        answer = await execute(url, query, {"r": representations}, key=None)
    assert answer.data["_entities"] == [
        {
            "__typename": "ChatProfile",
            "email": "grace-hopper@acme.test",
            "realName": "Grace Hopper",
        },
        {"__typename": "TrackerUser", "login": "ada-lovelace", "name": "Ada Lovelace"},
        None,
        None,
        None,
        {
            "__typename": "ChatProfile",
            "email": "ada-lovelace@acme.test",
            "realName": "Ada Lovelace",
        },
        {"__typename": "TrackerUser", "login": "ada-lovelace", "name": "Ada Lovelace"},
    ]
    errors = {e["path"][1]: e for e in answer.errors}
    assert sorted(errors) == [3, 4]
    assert errors[3]["message"] == (
        "__typename 'Nope' is not an entity here (entities: ChatProfile, TrackerUser)"
    )
    assert errors[4]["message"] == "a representation is an object with __typename and key fields"
    assert {e["extensions"]["code"] for e in errors.values()} == {"BAD_USER_INPUT"}
    # One multi-get per connector; the repeated login is asked for once.
    assert [r.path for r in tracker.requests] == ["/users"]
    assert sorted(tracker.requests[0].query["logins"].split(",")) == [
        "ada-lovelace",
        "no-such-person",
    ]
    assert [r.path for r in chat.requests] == ["/users.lookupByEmails"]


async def test_a_key_without_lookup_is_not_fetched(
    upstreams: tuple[FakeUpstream, FakeUpstream],
) -> None:
    tracker, chat = upstreams
    query = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
    representations = [{"__typename": "ChatProfile", "email": "grace-hopper@acme.test"}]
    async with serving(_runtime(tracker, chat, chat_lookup=False)) as url:
        answer = await execute(url, query, {"r": representations}, key=None)
    assert answer.data == {"_entities": [None]}
    [error] = answer.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["connector"] == "chat"
    assert "ChatProfile has no lookup in its connector spec" in error["message"]
    assert chat.requests == []


async def test_without_entities_there_is_no_entities_field() -> None:
    runtime = Runtime(federation=True)
    schema = runtime.schema.graphql_schema
    assert "_service" in schema.query_type.fields  # type: ignore[union-attr]
    assert "_entities" not in schema.query_type.fields  # type: ignore[union-attr]
    assert "_Entity" not in schema.type_map


@pytest.mark.parametrize(
    ("section", "outcome"),
    [
        pytest.param(None, False, id="default-off"),
        pytest.param({"enabled": True}, True, id="on"),
        pytest.param({"enable": True}, "federation.enable: Extra inputs", id="unknown-key"),
    ],
)
def test_the_config_section(tmp_path: Path, section: Any, outcome: bool | str) -> None:
    file = tmp_path / "connectql.yaml"
    file.write_text(yaml.safe_dump({} if section is None else {"federation": section}))
    if isinstance(outcome, str):
        with pytest.raises(ConfigError, match=outcome):
            load_config(file)
    else:
        config = load_config(file)
        assert config.federation.enabled is outcome
        assert Runtime.from_config(config).federation is outcome
