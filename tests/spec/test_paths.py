"""The `from` path language: quoted keys for keys the plain form cannot hold."""

from __future__ import annotations

import pytest

from connectql.spec.paths import key_path, parse_path, single_key

DATA = {
    "a.b": 1,
    "x-rate limit": {"n": 2},
    "list[0]": [{"q": 3}],
    'say "hi"': 4,
    "meta": {"a.b": [5, 6]},
    "{id}": 7,
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param('["a.b"]', 1, id="dot"),
        pytest.param('["x-rate limit"].n', 2, id="space-then-key"),
        pytest.param('["list[0]"][0].q', 3, id="brackets-then-index"),
        pytest.param(r'["say \"hi\""]', 4, id="escaped-quote"),
        pytest.param('meta["a.b"][-1]', 6, id="after-a-key"),
        pytest.param('["{id}"]', 7, id="braces"),
        pytest.param('meta["a.b"][*]', [5, 6], id="wildcard-after"),
    ],
)
def test_a_quoted_key_selects_a_key_the_plain_form_cannot_hold(path: str, value: object) -> None:
    assert parse_path(path).get(DATA) == value


@pytest.mark.parametrize("key", [*DATA, "plain", "", "é.ü", "tab\there", "-1", "+1"])
def test_key_path_round_trips_any_key(key: str) -> None:
    text = key_path(key)
    assert parse_path(text).steps == (key,)
    assert single_key(text) == key


def test_a_key_named_star_has_no_path() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        key_path("*")


def test_plain_keys_stay_plain() -> None:
    assert key_path("login") == "login"
    assert key_path("owner_id") == "owner_id"
    assert key_path("a.b") == '["a.b"]'


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param('["a', 'expected [N], [*] or ["key"]', id="unterminated"),
        pytest.param(r'["\q"]', "bad escape", id="bad-escape"),
        pytest.param('["*"]', "write [*]", id="star-is-not-a-key"),
        pytest.param('["a"]x', "unexpected 'x'", id="junk-after"),
    ],
)
def test_bad_quoted_keys_say_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("*", r"\*")):
        parse_path(path)


def test_single_key_is_none_for_longer_paths() -> None:
    assert single_key("a.b") is None
    assert single_key("items[0]") is None
    assert single_key(".") is None
    assert single_key("id") == "id"
