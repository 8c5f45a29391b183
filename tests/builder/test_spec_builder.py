"""SpecBuilder: the old builder's inputs (name, base URL, auth, endpoints) as a spec the
loader accepts, named the way the importer names things."""

from __future__ import annotations

from typing import Any

import pytest

from connectql import ConfigError, SpecBuilder


def weather() -> SpecBuilder:
    builder = SpecBuilder("Weather API", "https://api.weather.com", auth="api_key")
    builder.add_endpoint("get_current_weather", "/current", parameters={"q": "London", "days": 3})
    builder.add_endpoint("get-station", "stations/{station_id}", parameters={"station_id": 7})
    builder.add_endpoint("post_report", "/reports", "post", parameters={"text": "", "ok": True})
    return builder


def test_endpoints_become_operations() -> None:
    spec = weather().build()
    assert spec.name == "weather_api"
    assert list(spec.operations) == ["getCurrentWeather", "getStation", "postReport"]
    current = spec.operations["getCurrentWeather"]
    assert (current.kind, current.request.query) == (
        "query",
        {"q": "{args.q}", "days": "{args.days}"},
    )
    assert {n: a.type for n, a in current.args.items()} == {"q": "String", "days": "Int"}
    station = spec.operations["getStation"]
    assert station.request.path == "/stations/{args.stationId}"
    assert station.args["stationId"].type == "Int!"
    report = spec.operations["postReport"]
    assert (report.kind, report.request.method) == ("mutation", "POST")
    assert report.request.body == {"text": "{args.text}", "ok": "{args.ok}"}
    assert report.response.type == "JSON"
    assert spec.config["base_url"].default == "https://api.weather.com"
    assert spec.config["api_key"].secret


def test_the_yaml_is_the_same_every_time() -> None:
    assert weather().yaml() == weather().yaml()


@pytest.mark.parametrize(
    ("auth", "options", "secrets", "plain"),
    [
        pytest.param("none", {}, set(), set(), id="none"),
        pytest.param("api_key", {"header_name": "X-Key"}, {"api_key"}, set(), id="api-key"),
        pytest.param("bearer", {}, {"token"}, set(), id="bearer"),
        pytest.param("basic", {}, {"password"}, {"username"}, id="basic"),
        pytest.param(
            "oauth2",
            {"scopes": ["read"]},
            {"client_secret"},
            {"client_id", "token_url"},
            id="oauth2",
        ),
    ],
)
def test_every_auth_type_makes_a_spec_that_loads(
    auth: str, options: dict[str, Any], secrets: set[str], plain: set[str]
) -> None:
    builder = SpecBuilder("Some API", "http://127.0.0.1:8080", auth=auth, auth_options=options)
    spec = builder.add_endpoint("ping", "/ping").build()
    assert spec.source.auth.type == auth
    assert {k for k, v in spec.config.items() if v.secret} == secrets
    assert {k for k, v in spec.config.items() if v.required and not v.secret} == plain


@pytest.mark.parametrize(
    ("make", "says"),
    [
        pytest.param(lambda: SpecBuilder("!!", "https://x.io"), "no letters or digits", id="name"),
        pytest.param(lambda: SpecBuilder("A", "x.io"), "http(s) URL", id="url"),
        pytest.param(lambda: SpecBuilder("A", "https://x.io", auth="ntlm"), "'ntlm'", id="auth"),
        pytest.param(
            lambda: SpecBuilder("A", "https://x.io", auth="bearer", auth_options={"scopes": []}),
            "takes no option scopes",
            id="option",
        ),
        pytest.param(
            lambda: SpecBuilder("A", "https://x.io").add_endpoint("a", "/", "FETCH"),
            "method 'FETCH'",
            id="method",
        ),
        pytest.param(
            lambda: (
                SpecBuilder("A", "https://x.io")
                .add_endpoint("get_a", "/")
                .add_endpoint("getA", "/b")
            ),
            "'get_a' and 'getA' would both be operation 'getA'",
            id="collision",
        ),
        pytest.param(lambda: SpecBuilder("A", "https://x.io").build(), "no endpoints", id="empty"),
    ],
)
def test_mistakes_are_named(make: Any, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make()
    assert says in str(caught.value)
