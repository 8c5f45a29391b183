"""The egress policy: private, loopback, link-local and metadata addresses are refused,
after DNS resolution and again on every connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectql.connectors.connector import Connector
from connectql.connectors.egress import EgressPolicy, PolicyResolver
from connectql.demo.upstream import create_bookstore_app
from connectql.errors import Forbidden, UpstreamUnavailable
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.support import DEMO_KEY, bookstore_spec_text, control_server, execute


def names(mapping: dict[str, list[str]]):
    async def resolve(host: str) -> list[str]:
        if host not in mapping:
            raise OSError("no such host")
        return mapping[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/api", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:8080/", "::1 is a loopback address"),
        ("http://127.0.0.1:9/", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:10.1.2.3]/", "is a private address"),
        (
            "https://internal.example.com/",
            "internal.example.com (resolves to 10.20.30.40) is a private address",
        ),
    ],
)
async def test_private_destinations_are_refused_with_a_clear_error(url: str, reason: str) -> None:
    policy = EgressPolicy(resolve=names({"internal.example.com": ["10.20.30.40"]}))
    with pytest.raises(Forbidden) as refused:
        await policy.check_url(url)
    assert reason in str(refused.value)
    assert "egress.allow" in str(refused.value)


async def test_public_and_allowlisted_destinations_pass() -> None:
    policy = EgressPolicy(
        ["127.0.0.1", "10.1.0.0/16", "db.internal"],
        resolve=names({"api.example.com": ["93.184.216.34"], "db.internal": ["10.9.9.9"]}),
    )
    await policy.check_url("https://api.example.com/v1")
    await policy.check_url("http://127.0.0.1:8080/")
    await policy.check_url("http://10.1.200.3/")
    await policy.check_url("http://db.internal/")
    with pytest.raises(Forbidden, match="only http"):
        await policy.check_url("file:///etc/passwd")


async def test_every_connection_is_checked_so_rebinding_cannot_slip_through() -> None:
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        spec = load_spec_text(bookstore_spec_text(), "bookstore.yaml")
        # the name passed any earlier check; it resolves to loopback when connecting
        base = upstream.url.replace("127.0.0.1", "localhost")
        guarded = Connector(
            spec, {"base_url": base, "api_key": DEMO_KEY}, resolver=PolicyResolver(EgressPolicy())
        )
        with pytest.raises(UpstreamUnavailable):
            await guarded.execute("book", {"id": "1"})
        await guarded.stop()
        assert upstream.count() == 0
        trusted = Connector(spec, {"base_url": base, "api_key": DEMO_KEY})
        assert (await trusted.execute("book", {"id": "1"}))["id"] == "1"
        await trusted.stop()


async def test_connectors_created_at_run_time_obey_the_policy(tmp_path: Path) -> None:
    async with control_server(tmp_path) as (url, control):
        control.egress = EgressPolicy()  # nothing allowlisted
        control.runtime.egress = control.egress
        result = await execute(
            url,
            "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
            "{ __typename } }",
            {
                "s": bookstore_spec_text(),
                "c": {"base_url": "http://169.254.169.254", "api_key": "k"},
            },
        )
    error = result.errors[0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "169.254.169.254 is a cloud metadata address" in error["message"]
    assert control.stored == {}


def test_config_connectors_are_trusted() -> None:
    runtime = Runtime()
    runtime.egress = EgressPolicy()
    runtime.add(
        load_spec_text(bookstore_spec_text(), "bookstore.yaml"),
        {"base_url": "http://10.0.0.1", "api_key": "k"},
    )
    assert runtime.connectors["bookstore"]._resolver is None
