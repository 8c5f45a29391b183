"""Build a connector spec in Python from a name, a base URL, an auth type and endpoints, the
way the builder of the connector system connectql replaces described a connector.

    builder = SpecBuilder("Weather API", "https://api.weather.com", auth="api_key")
    builder.add_endpoint("get_current_weather", "/current", parameters={"q": "London"})
    spec = builder.build()      # a ConnectorSpec, checked by the spec loader
    text = builder.yaml()       # the same spec as YAML: `connectql validate`, createConnector

Names follow the OpenAPI importer's: the connector is lower_snake (`weather_api`), operations
and arguments camelCase (`getCurrentWeather`); parameters keep their own names on the wire.
A parameter's example value gives its type; GET, HEAD and DELETE send parameters in the
query, other methods as JSON body fields, and `{name}` in a path is a required argument.
The base URL and credentials are config keys (credentials secret); responses are `JSON`
until you give them types (`connectql infer` proposes some from real responses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from connectql.builder.naming import Namer, camel, connector_name
from connectql.errors import ConfigError
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ConnectorSpec

__all__ = ["AUTH_TYPES", "METHODS", "SpecBuilder"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class AuthType:
    """One authentication type: the config keys it declares and the spec auth it becomes."""

    secrets: tuple[str, ...]
    """Required secret config keys (the credentials)."""
    settings: tuple[str, ...]
    """Required plain config keys."""
    options: tuple[str, ...]
    """Keys that shape the spec itself rather than being config values."""
    auth: Callable[[Mapping[str, Any]], dict[str, Any] | None]
    """The spec's `source.auth` for the given options (None: no auth)."""

    @property
    def config_keys(self) -> tuple[str, ...]:
        return self.settings + self.secrets


def _oauth2(options: Mapping[str, Any]) -> dict[str, Any]:
    auth = {
        "type": "oauth2",
        "grant": "client_credentials",
        "token_url": "{config.token_url}",
        "client_id": "{config.client_id}",
        "client_secret": "{config.client_secret}",
    }
    scopes = options.get("scopes")
    return {**auth, "scopes": [str(s) for s in scopes]} if scopes else auth


AUTH_TYPES: dict[str, AuthType] = {
    "none": AuthType((), (), (), lambda _: None),
    "api_key": AuthType(
        ("api_key",),
        (),
        ("header_name",),
        lambda o: {
            "type": "api_key",
            "key": "{config.api_key}",
            "name": str(o.get("header_name") or "X-API-Key"),
        },
    ),
    "bearer": AuthType(("token",), (), (), lambda _: {"type": "bearer", "token": "{config.token}"}),
    "basic": AuthType(
        ("password",),
        ("username",),
        (),
        lambda _: {
            "type": "basic",
            "username": "{config.username}",
            "password": "{config.password}",
        },
    ),
    "oauth2": AuthType(("client_secret",), ("client_id", "token_url"), ("scopes",), _oauth2),
}
"""The `authentication_type` values of the system connectql replaces."""


def _arg_type(example: Any) -> str:
    """The GraphQL type of a parameter, from its example value."""
    if isinstance(example, bool):  # before int: a bool is an int in Python
        return "Boolean"
    if isinstance(example, int):
        return "Int"
    if isinstance(example, float):
        return "Float"
    if isinstance(example, str):
        return "String"
    return "JSON"


class SpecBuilder:
    """A connector spec assembled call by call; `build()` checks it with the spec loader."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        auth: str = "none",
        auth_options: Mapping[str, Any] | None = None,
        description: str | None = None,
        version: str = "1.0.0",
    ) -> None:
        self.name = connector_name(name)
        if not self.name:
            raise ConfigError(f"connector name {name!r} has no letters or digits")
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ConfigError(f"base_url must be an http(s) URL, got {base_url!r}")
        kind = AUTH_TYPES.get(auth)
        if kind is None:
            raise ConfigError(f"unknown auth type {auth!r}; one of {', '.join(AUTH_TYPES)}")
        options = dict(auth_options or {})
        unknown = sorted(set(options) - set(kind.options))
        if unknown:
            allowed = ", ".join(kind.options) or "none"
            raise ConfigError(f"auth {auth!r} takes no option {', '.join(unknown)} ({allowed})")
        self.title = name
        self.description = description
        self.version = version
        self.base_url = base_url
        self.auth = auth
        self.auth_options = options
        self.operations: dict[str, dict[str, Any]] = {}
        self._endpoint_of: dict[str, str] = {}
        """operation name → the endpoint name it came from (to report collisions)."""

    def add_endpoint(
        self,
        name: str,
        path: str,
        method: str = "GET",
        *,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> SpecBuilder:
        """Add an operation; `parameters` maps each parameter's name to an example value."""
        operation = camel(name)
        if operation in self.operations:
            first = self._endpoint_of[operation]
            raise ConfigError(
                f"endpoints {first!r} and {name!r} would both be operation {operation!r}"
            )
        verb = method.upper()
        if verb not in METHODS:
            raise ConfigError(
                f"endpoint {name!r}: method {method!r} is not one of {', '.join(METHODS)}"
            )
        examples = dict(parameters or {})
        arg_names = Namer()
        args: dict[str, Any] = {}

        def placeholder(match: re.Match[str]) -> str:
            param = match.group(1).strip()
            if not param:
                raise ConfigError(f"endpoint {name!r}: empty {{}} in path {path!r}")
            arg = arg_names.name(param, camel(param))
            args[arg] = _arg_type(examples.pop(param, "")) + "!"
            return f"{{args.{arg}}}"

        template = _PLACEHOLDER.sub(placeholder, path if path.startswith("/") else f"/{path}")
        sent = {param: f"{{args.{arg_names.name(param, camel(param))}}}" for param in examples}
        for param, example in examples.items():
            args[arg_names.chosen[param]] = _arg_type(example)
        request: dict[str, Any] = {"method": verb, "path": template}
        if sent:
            request["query" if verb in _QUERY_METHODS else "body"] = sent
        op: dict[str, Any] = {"kind": "query" if verb == "GET" else "mutation"}
        if description:
            op["description"] = description
        if args:
            op["args"] = args
        op["request"] = request
        op["response"] = {"type": "JSON"}
        self.operations[operation] = op
        self._endpoint_of[operation] = name
        return self

    def to_dict(self) -> dict[str, Any]:
        """The spec as data, in the order `connectql validate` and the docs show it."""
        if not self.operations:
            raise ConfigError(f"connector {self.name!r} has no endpoints: add one first")
        kind = AUTH_TYPES[self.auth]
        config: dict[str, Any] = {
            "base_url": {"default": self.base_url, "description": "The API's base URL."}
        }
        config.update({key: {"required": True} for key in kind.settings})
        config.update({key: {"required": True, "secret": True} for key in kind.secrets})
        source: dict[str, Any] = {"base_url": "{config.base_url}"}
        auth = kind.auth(self.auth_options)
        if auth is not None:
            source["auth"] = auth
        info = {"name": self.name, "version": self.version, "title": self.title}
        if self.description:
            info["description"] = self.description
        return {
            "spec_version": 1,
            "connector": info,
            "config": config,
            "source": source,
            "operations": {name: dict(op) for name, op in self.operations.items()},
        }

    def yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    def build(self) -> ConnectorSpec:
        """The spec through the real loader: SpecErrors lists anything it refuses."""
        return load_spec_text(self.yaml(), f"{self.name}.yaml")
