"""Config keys with `env`: read from the operator's environment when the config leaves them
unset, never for connectors created at run time; text defaults may name other keys."""

from __future__ import annotations

import pytest

from connectql.connectors.connector import resolve_config
from connectql.errors import ConfigError
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text

SPEC = """
spec_version: 1
connector: {name: envy}
config:
  region: {env: [MY_REGION, MY_DEFAULT_REGION], default: us-east-1}
  endpoint: {default: "https://api.{config.region}.example.com"}
  token: {required: true, secret: true, env: [MY_TOKEN]}
source: {base_url: "{config.endpoint}"}
operations:
  ping: {request: {path: /ping}, response: {type: JSON}}
"""


@pytest.mark.parametrize(
    ("given", "environ", "region"),
    [
        pytest.param({"token": "t"}, None, "us-east-1", id="environment-not-read"),
        pytest.param({"token": "t"}, {"MY_DEFAULT_REGION": "eu-west-1"}, "eu-west-1", id="second"),
        pytest.param(
            {"token": "t"},
            {"MY_REGION": "ap-south-1", "MY_DEFAULT_REGION": "eu-west-1"},
            "ap-south-1",
            id="first-set-wins",
        ),
        pytest.param(
            {"token": "t", "region": "sa-east-1"}, {"MY_REGION": "x"}, "sa-east-1", id="config-wins"
        ),
    ],
)
def test_env_then_default_and_defaults_name_other_keys(
    given: dict[str, str], environ: dict[str, str] | None, region: str
) -> None:
    config = resolve_config(load_spec_text(SPEC, "envy.yaml"), given, environ)
    assert config["region"] == region
    assert config["endpoint"] == f"https://api.{region}.example.com"


def test_a_required_key_may_come_from_the_environment_only_where_it_is_read() -> None:
    spec = load_spec_text(SPEC, "envy.yaml")
    assert resolve_config(spec, {}, {"MY_TOKEN": "from-env"})["token"] == "from-env"
    with pytest.raises(ConfigError, match="'token' is required"):
        resolve_config(spec, {}, None)


def test_connectors_created_at_run_time_do_not_read_the_servers_environment() -> None:
    spec = load_spec_text(SPEC, "envy.yaml")
    runtime = Runtime(environ={"MY_TOKEN": "operator-secret", "MY_REGION": "eu-west-1"})
    runtime.apply(runtime.prepare([(spec, {})]))
    assert runtime.connectors["envy"].config["token"] == "operator-secret"
    with pytest.raises(ConfigError, match="'token' is required"):
        runtime.prepare([(spec, {})], restricted={"envy"})


def test_a_default_names_config_keys_only() -> None:
    bad = SPEC.replace("{config.region}.example", "{args.region}.example")
    with pytest.raises(Exception, match="a default may name only"):
        load_spec_text(bad, "envy.yaml")
