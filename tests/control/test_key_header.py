"""Which header carries the caller's connectql key: X-API-Key first, so that Authorization
can carry a credential a connector forwards upstream (`source.forward_headers`)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from connectql.connectors.callers import Caller
from connectql.control.access import key_from_headers, key_header


@pytest.mark.parametrize(
    ("headers", "header", "key"),
    [
        pytest.param({"X-API-Key": "cq-key"}, "x-api-key", "cq-key", id="x-api-key"),
        pytest.param({"Authorization": "Bearer cq-key"}, "authorization", "cq-key", id="bearer"),
        pytest.param(
            {"X-API-Key": "cq-key", "Authorization": "Bearer ghp_upstream"},
            "x-api-key",
            "cq-key",
            id="both-x-api-key-wins",
        ),
        pytest.param({"Authorization": "token ghp_upstream"}, None, None, id="not-bearer"),
        pytest.param(
            {"X-API-Key": "", "Authorization": "Bearer k"}, "authorization", "k", id="empty"
        ),
        pytest.param({}, None, None, id="none"),
    ],
)
def test_the_key_header(headers: dict[str, str], header: str | None, key: str | None) -> None:
    sent = CIMultiDict(headers)
    assert key_header(sent) == header
    assert key_from_headers(sent) == key


def test_the_header_that_carried_the_key_is_withheld_from_connectors() -> None:
    sent = CIMultiDict({"Authorization": "Bearer cq-key", "X-Token": "t"})
    caller = Caller.of_request(sent, withheld=key_header(sent))
    assert caller.get("authorization") is None
    assert caller.get("x-token") == "t"
    both = CIMultiDict({"X-API-Key": "cq-key", "Authorization": "Bearer ghp_upstream"})
    caller = Caller.of_request(both, withheld=key_header(both))
    assert caller.get("x-api-key") is None
    assert caller.get("Authorization") == "Bearer ghp_upstream"


def test_a_websocket_payloads_headers_win_over_the_upgrade_requests() -> None:
    upgrade = CIMultiDict({"X-Token": "from-upgrade", "X-Other": "kept"})
    caller = Caller.of_request(upgrade, init_headers={"x-token": "from-payload", "bad": 1})
    assert caller.get("X-TOKEN") == "from-payload"
    assert caller.get("x-other") == "kept"
    assert caller.get("bad") is None
