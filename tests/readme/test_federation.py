"""The README's federation section: its connectql.yaml and spec, served by `connectql serve`
over the tracker fake, give the subgraph SDL the README shows and answer `_entities`.
(The gateway block runs in tests/federation/test_connectql_subgraphs.py, with its
subgraphs.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from graphql import DocumentNode, Node, Visitor, parse, print_ast, visit

from connectql.testing import FakeUpstream
from tests.fakes.tracker import TRACKER_TOKEN, create_tracker_app
from tests.processes import Processes, run_cli
from tests.readme_blocks import block
from tests.support import execute

TRACKER_SPEC = Path(__file__).parent.parent / "fakes" / "data" / "tracker.yaml"
KEY = "tracker-gateway-key-0123456789"


class _NoDescriptions(Visitor):
    def enter(self, node: Node, *_: Any) -> Node | None:
        if getattr(node, "description", None) is None:
            return None  # unchanged
        return node.__class__(
            **{**{key: getattr(node, key) for key in node.keys}, "description": None}
        )


def _without_descriptions(document: DocumentNode) -> dict[str, str]:
    """Each definition printed without descriptions, by name (the extension by its kind)."""
    stripped = visit(document, _NoDescriptions())
    return {
        getattr(getattr(d, "name", None), "value", d.kind): print_ast(d)
        for d in stripped.definitions
    }


def _spec_with_readme_entity() -> str:
    """The tracker fake's spec with the README's `User` and `user`, as written there."""
    spec = yaml.safe_load(TRACKER_SPEC.read_text())
    readme = yaml.safe_load(block("federation-spec"))
    assert set(readme["types"]) == {"User"}
    assert set(readme["operations"]) == {"user"}
    spec["types"]["User"] = readme["types"]["User"]
    spec["operations"]["user"] = readme["operations"]["user"]
    return yaml.safe_dump(spec, sort_keys=False)


async def test_the_readme_subgraph(tmp_path: Path, processes: Processes) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tracker.yaml").write_text(_spec_with_readme_entity())
    checked = run_cli("validate", "specs/tracker.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr

    async with FakeUpstream(create_tracker_app()) as tracker:
        config = block("federation-config").replace("https://tracker.example.com/api", tracker.url)
        assert config != block("federation-config")
        (tmp_path / "connectql.yaml").write_text(config)
        env = {"TRACKER_TOKEN": TRACKER_TOKEN, "CONNECTQL_API_KEYS": f"viewer:{KEY}"}
        server = await processes.serve(tmp_path, env=env).start()

        refused = await execute(server.url, "{ _service { sdl } }", key=None)
        assert refused.errors  # anonymous: none
        answer = await execute(server.url, "{ _service { sdl } }", key=KEY)
        assert answer.errors is None, answer.errors
        served = _without_descriptions(parse(answer.data["_service"]["sdl"]))
        shown = _without_descriptions(parse(block("federation-sdl")))
        for name, text in shown.items():
            if name == "Query":  # the README shows the tracker's field only
                assert text in served[name].replace("  chat: ChatQuery!\n", ""), served[name]
            else:
                assert served[name] == text, name

        representations = [
            {"__typename": "TrackerUser", "login": login}
            for login in ("ada-lovelace", "grace-hopper", "ada-lovelace", "nobody")
        ]
        found = await execute(
            server.url,
            "query($r: [_Any!]!) { _entities(representations: $r) "
            "{ ... on TrackerUser { login name } } }",
            {"r": representations},
            key=KEY,
        )
        assert found.errors is None, found.errors
        assert found.data["_entities"] == [
            {"login": "ada-lovelace", "name": "Ada Lovelace"},
            {"login": "grace-hopper", "name": "Grace Hopper"},
            {"login": "ada-lovelace", "name": "Ada Lovelace"},
            None,
        ]
        assert [r.path for r in tracker.requests] == ["/users"]
    assert TRACKER_TOKEN not in server.output
