"""`source.forward_headers` and `{request.headers.NAME}`: allowed where a call is rendered, for
listed names only; refused everywhere else, each problem at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectql.config import load_config
from connectql.errors import ConfigError, SpecErrors
from connectql.spec.loader import load_spec_text

BASE = """\
spec_version: 1
connector: {name: hub}
config:
  base_url: {default: "http://127.0.0.1:1"}
source:
  base_url: "{config.base_url}"
  forward_headers: [X-Hub-Token, x-tenant]
  headers: {X-Tenant: "tenant {request.headers.x-tenant}"}
  auth: {type: bearer, token: "{request.headers.x-hub-token}"}
types:
  User: {fields: {login: String!}}
operations:
  user:
    args: {login: String!}
    request:
      path: "/users/{args.login}"
      headers: {X-Trace: "{request.headers.X-TENANT}"}
    response: {type: User}
    batch:
      key: login
      mode: request
      request: {path: /users, query: {logins: "{keys}", as: "{request.headers.x-hub-token}"}}
  repos:
    args: {owner: String}
    request: {path: /repos}
    response: {type: "[User!]!"}
"""


def test_listed_headers_read_where_calls_are_rendered_are_valid() -> None:
    spec = load_spec_text(BASE, "hub.yaml")
    assert spec.source.forward_headers == ["X-Hub-Token", "x-tenant"]


CASES = [
    (
        "not-listed",
        '"{request.headers.x-hub-token}"}',
        '"{request.headers.x-github-token}"}',
        "9:",
        "reads a header source.forward_headers does not list (x-hub-token, x-tenant)",
    ),
    (
        "not-a-header",
        'X-Trace: "{request.headers.X-TENANT}"',
        'X-Trace: "{request.path}"',
        "17:",
        "{request.path} is not a caller header: write {request.headers.NAME}",
    ),
    (
        "whole-headers",
        'X-Trace: "{request.headers.X-TENANT}"',
        'X-Trace: "{request.headers}"',
        "17:",
        "{request.headers} is not a caller header",
    ),
    (
        "in-base-url",
        'base_url: "{config.base_url}"',
        'base_url: "{config.base_url}/{request.headers.x-tenant}"',
        "6:",
        "source.base_url is rendered once per connector",
    ),
    (
        "in-a-link",
        "User: {fields: {login: String!}}",
        "User: {fields: {login: String!, me: {type: User, resolve: {operation: user, "
        'args: {login: "{request.headers.x-tenant}"}}}}}',
        "11:",
        "{request.headers.x-tenant} is not available here (allowed: config, parent)",
    ),
    (
        "in-a-config-default",
        'base_url: {default: "http://127.0.0.1:1"}',
        'base_url: {default: "http://127.0.0.1:1"}\n  who: {default: "{request.headers.x-tenant}"}',
        "5:",
        "a config default is a value, not a template",
    ),
    (
        "in-a-fixture-test",
        "operations:",
        "tests:\n  - {name: t, operation: user, fixture: t.json, "
        'args: {login: "{request.headers.x-tenant}"}}\noperations:',
        "13:",
        "a fixture test has no caller",
    ),
    (
        "connectql-key",
        "forward_headers: [X-Hub-Token, x-tenant]",
        "forward_headers: [X-Hub-Token, x-tenant, X-API-Key]",
        "7:",
        "x-api-key carries the caller's connectql API key and is never forwarded",
    ),
    (
        "twice",
        "forward_headers: [X-Hub-Token, x-tenant]",
        "forward_headers: [X-Hub-Token, x-tenant, x-hub-token]",
        "7:",
        "x-hub-token is listed twice (header names are case-insensitive)",
    ),
    (
        "not-a-header-name",
        "forward_headers: [X-Hub-Token, x-tenant]",
        'forward_headers: [X-Hub-Token, "x tenant"]',
        "7:",
        "must match the pattern",
    ),
    (
        "none-listed",
        "  forward_headers: [X-Hub-Token, x-tenant]\n",
        "",
        "8:",
        "does not list (none listed)",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_request_placeholders_are_refused_with_their_location(
    old: str, new: str, line: str, message: str
) -> None:
    assert old in BASE, old
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(BASE.replace(old, new, 1), "hub.yaml")
    reported = [str(e) for e in caught.value.errors]
    assert any(r.startswith(f"hub.yaml:{line}") and message in r for r in reported), reported


def test_connectql_yaml_refuses_request_placeholders(tmp_path: Path) -> None:
    config = tmp_path / "connectql.yaml"
    config.write_text(
        "connectors:\n  - spec: hub.yaml\n    config: {token: '{request.headers.x-hub-token}'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config, env={})
    message = str(caught.value)
    assert message.startswith("connectql.yaml connectors.0.config.token:")
    assert "read only by a connector spec's source and request templates" in message
