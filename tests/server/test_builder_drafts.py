"""The builder's calls for a spec not yet stored: templates to start from, and testSpec (one
operation of a draft called against its upstream, under the egress policy, nothing kept)."""

from __future__ import annotations

from pathlib import Path

import yaml

from connectql.connectors.egress import EgressPolicy
from connectql.testing import FakeUpstream
from tests.support import DEMO_KEY, bookstore_spec_text, control_server, execute

TEST_SPEC = """
mutation($s: String!, $o: String!, $a: JSON, $c: JSON) {
  testSpec(spec: $s, operation: $o, args: $a, config: $c) {
    ok data error trace { method urlTemplate status outcome }
  }
}
"""


async def test_a_draft_is_called_once_and_nothing_is_stored(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    async with control_server(tmp_path) as (url, control):
        config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
        spec = bookstore_spec_text()
        found = await execute(
            url, TEST_SPEC, {"s": spec, "o": "book", "a": {"id": "2"}, "c": config}
        )
        assert found.errors is None, found.errors
        result = found.data["testSpec"]
        assert result["ok"] is True
        assert result["data"]["title"] == "Book 2"
        assert result["trace"] == [
            {
                "method": "GET",
                "urlTemplate": f"{bookstore.url}/books/{{args.id}}",
                "status": 200,
                "outcome": "ok",
            }
        ]
        paged = await execute(url, TEST_SPEC, {"s": spec, "o": "books", "c": config})
        assert len(paged.data["testSpec"]["data"]) == 50  # the first page of the spec's size
        assert control.stored == {}
        assert "bookstore" not in control.runtime.connectors
    assert bookstore.count("GET") == 2


async def test_a_draft_s_failures_say_what_and_where(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    spec = bookstore_spec_text()
    async with control_server(tmp_path) as (url, _):
        wrong_key = {"base_url": bookstore.url, "api_key": "wrong"}
        refused = await execute(
            url, TEST_SPEC, {"s": spec, "o": "book", "a": {"id": "1"}, "c": wrong_key}
        )
        result = refused.data["testSpec"]
        assert result["ok"] is False
        assert result["error"]["code"] == "UNAUTHENTICATED"
        assert [step["status"] for step in result["trace"]] == [401]
        assert "wrong" not in str(result)  # the key is not echoed

        unknown = await execute(url, TEST_SPEC, {"s": spec, "o": "nope", "c": wrong_key})
        assert "has no operation 'nope'" in unknown.errors[0]["message"]

        missing = await execute(url, TEST_SPEC, {"s": spec, "o": "book", "c": {}})
        assert "base_url" in missing.errors[0]["message"]

        broken = await execute(url, TEST_SPEC, {"s": "spec_version: 1\n", "o": "book"})
        assert broken.errors, broken


async def test_a_draft_obeys_the_egress_policy(tmp_path: Path) -> None:
    async with control_server(tmp_path) as (url, control):
        control.egress = EgressPolicy()  # nothing allowlisted
        config = {"base_url": "http://169.254.169.254", "api_key": "k"}
        result = await execute(
            url, TEST_SPEC, {"s": bookstore_spec_text(), "o": "book", "a": {"id": "1"}, "c": config}
        )
    error = result.errors[0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "169.254.169.254 is a cloud metadata address" in error["message"]


async def test_templates_start_a_valid_spec(tmp_path: Path) -> None:
    async with control_server(tmp_path) as (url, _):
        listed = await execute(url, "{ specTemplates { name description } }")
        templates = {t["name"]: t["description"] for t in listed.data["specTemplates"]}
        assert templates["rest-bearer"].startswith("A REST API with a bearer token.")
        for name in templates:
            text = await execute(
                url,
                'query($t: String!) { specTemplate(template: $t, connector: "shop") }',
                {"t": name},
            )
            spec = text.data["specTemplate"]
            assert yaml.safe_load(spec)["connector"]["name"] == "shop"
            checked = await execute(
                url,
                "mutation($s: String!) { validateSpec(spec: $s) { valid errors { message } } }",
                {"s": spec},
            )
            assert checked.data["validateSpec"] == {"valid": True, "errors": []}, name
        bad = await execute(url, '{ specTemplate(template: "rest-bearer", connector: "Bad Name") }')
        assert "is not a connector name" in bad.errors[0]["message"]
