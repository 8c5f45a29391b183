"""A connector mounted at the roots (`connector.namespace: false`) whose fields clash is
refused at run time like any spec problem: createConnector and updateConnector answer
SpecInvalid at the clashing operation's line, and nothing changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectql.testing import FakeUpstream
from tests.fakes.tracker import create_tracker_app
from tests.graph.shape_specs import ROOT_TRACKER, tracker_config
from tests.support import control_server, execute

CREATE = """
mutation($spec: String!, $config: JSON) {
  createConnector(spec: $spec, config: $config) {
    __typename
    ... on ConnectorChanged { applied connector { name } }
    ... on SpecInvalid { errors { message file line column path } }
  }
}
"""
UPDATE = """
mutation($name: String!, $spec: String!) {
  updateConnector(name: $name, spec: $spec) {
    __typename
    ... on SpecInvalid { errors { message line path } }
  }
}
"""


@pytest.fixture
async def tracker() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_tracker_app()) as upstream:
        yield upstream


async def _create(url: str, spec: str, config: dict[str, Any]) -> dict[str, Any]:
    result = await execute(url, CREATE, {"spec": spec, "config": config})
    assert result.errors is None, result.errors
    created: dict[str, Any] = result.data["createConnector"]
    return created


def _line(text: str, entry: str) -> int:
    return text.splitlines().index(f"  {entry}:") + 1


async def test_create_and_update_answer_a_clash_as_spec_invalid(
    tmp_path: Path, tracker: FakeUpstream
) -> None:
    config = tracker_config(tracker.url)
    async with control_server(tmp_path) as (url, control):
        shadowing = ROOT_TRACKER.replace("  lockIssue:", "  createConnector:")
        refused = await _create(url, shadowing, config)
        assert refused["__typename"] == "SpecInvalid"
        [error] = refused["errors"]
        assert error["path"] == "operations.createConnector"
        assert (error["file"], error["line"], error["column"]) == (
            "spec.yaml",
            _line(shadowing, "createConnector"),
            3,
        )
        assert (
            "Mutation.createConnector, which clashes with a field of the control plane"
            in (error["message"])
        )
        assert control.stored == {}

        created = await _create(url, ROOT_TRACKER, config)
        assert created == {
            "__typename": "ConnectorChanged",
            "applied": True,
            "connector": {"name": "tracker"},
        }
        mirror = ROOT_TRACKER.replace("name: tracker", "name: mirror")
        clash = await _create(url, mirror, config)
        assert clash["__typename"] == "SpecInvalid"
        assert {(e["path"], e["line"]) for e in clash["errors"]} == {
            ("operations.issues", _line(mirror, "issues")),
            ("operations.lockIssue", _line(mirror, "lockIssue")),
        }
        assert set(control.stored) == {"tracker"}

        namespaced = ROOT_TRACKER.replace("namespace: false", "namespace: true")
        mounted = (
            mirror.replace("  issues:", "  tracker:")
            .replace("operation: issues", "operation: tracker")
            .replace("lockIssue", "lockMirror")
        )
        assert (await _create(url, mounted, config))["__typename"] == "ConnectorChanged"
        result = await execute(url, UPDATE, {"name": "tracker", "spec": namespaced})
        [error] = result.data["updateConnector"]["errors"]
        assert error["path"] == "operations.tracker"  # the root operation `tracker` of mirror
        assert (
            "operation 'tracker' of connector 'mirror' would be the root field Query.tracker, "
            "which clashes with the namespace field of connector 'tracker'" in (error["message"])
        )

        answer = await execute(
            url, '{ issues(owner: "acme", repo: "widgets", first: 1) { nodes { number } } }'
        )
        assert answer.errors is None, answer.errors
        assert answer.data == {"issues": {"nodes": [{"number": 50}]}}
