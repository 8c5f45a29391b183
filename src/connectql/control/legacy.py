"""The REST bodies of the connector system connectql replaces, in connectql's terms.

Its `POST /api/connectors` body becomes a spec and config: `custom_rest` through the
SpecBuilder from its `endpoints` (or `custom_config.endpoints`), or, without any, one `root`
operation (GET /) until an update adds more; `openai`, `github` and `slack` as that prebuilt
spec under the new name. The name in lower_snake is the connector's name and its
`connector_id`. `auth_config` values become config values, the credentials secret (stored
encrypted, never echoed). As on the old server, a new connector waits for `/start`.

Its `/request` body becomes an operation call: `endpoint_name` `get_data` names operation
`getData` (or `get_data`), `params` and `data` its arguments by name, and
`transform_mapping` (`{source path: field}`) maps the result with `map_record`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Self
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectql.builder.naming import camel, connector_name
from connectql.builder.spec_builder import AUTH_TYPES, METHODS, SpecBuilder
from connectql.connectors.builtin import builtin_names, builtin_spec
from connectql.control.service import Change, ControlPlane, TestOutcome
from connectql.errors import ConfigError, ControlError, NotFound, SpecError
from connectql.spec.loader import load_spec
from connectql.spec.mapping import map_record
from connectql.spec.models import ConnectorSpec, Operation

__all__ = ["InvalidBody", "LegacyConnector", "LegacyEndpoint", "LegacyRequest", "call", "create"]

CUSTOM = "custom_rest"
CLEAR_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Headers that carry credentials: spec headers are stored in clear, auth_config is not."""
CREDENTIALS = ("api_key", "token")
"""The old names of a prebuilt's credential: either fills the one its spec declares."""


class InvalidBody(ControlError):
    """A body of the old API that cannot be carried out as it stands (HTTP 422)."""

    code = "BAD_USER_INPUT"


@functools.cache
def _prebuilt(name: str) -> ConnectorSpec:
    return load_spec(builtin_spec(name))


class LegacyEndpoint(BaseModel):
    """One endpoint of the old builder: `parameters` maps names to example values."""

    model_config = ConfigDict(extra="ignore")  # request_schema, rate_limit…: not carried over

    name: str = Field(min_length=1)
    path: str = "/"
    method: str = "GET"
    description: str | None = None
    parameters: dict[str, Any] = {}

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.upper() not in METHODS:
            raise ValueError(f"{value!r} is not one of {', '.join(METHODS)}")
        return value.upper()


ROOT = LegacyEndpoint(name="root", path="/", description="The API's root: a first call.")


class LegacyConnector(BaseModel):
    """`POST /api/connectors` as the old server took it (plus `endpoints`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    connector_type: str
    base_url: str | None = Field(None, validate_default=True)
    authentication_type: str = "api_key"
    auth_config: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    endpoints: list[LegacyEndpoint] = []
    custom_config: dict[str, Any] = {}
    headers: dict[str, str] = {}
    timeout: float | None = Field(None, gt=0)
    retry_attempts: int | None = Field(None, ge=1, le=10)

    _translated: tuple[str, dict[str, Any]] = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _endpoints_from_custom_config(cls, data: Any) -> Any:
        """The old custom_rest connector read its endpoints from custom_config."""
        if isinstance(data, dict) and "endpoints" not in data:
            custom = data.get("custom_config")
            if isinstance(custom, dict) and "endpoints" in custom:
                return {**data, "endpoints": custom["endpoints"]}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not connector_name(value):
            raise ValueError(f"{value!r} has no letters or digits to make a connector name of")
        return value

    @field_validator("connector_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value != CUSTOM and value not in builtin_names():
            known = ", ".join(builtin_names())
            raise ValueError(f"unknown type {value!r}: {CUSTOM} or a prebuilt one ({known})")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("connector_type")
        if value is None:
            if kind == CUSTOM:
                raise ValueError(f"required for connector_type {CUSTOM}")
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        if kind in builtin_names() and "base_url" not in _prebuilt(kind).config:
            raise ValueError(f"the prebuilt {kind} connector has a fixed base URL")
        return value

    @field_validator("authentication_type")
    @classmethod
    def _auth_type(cls, value: str) -> str:
        if value not in AUTH_TYPES:
            raise ValueError(f"unknown type {value!r}; one of {', '.join(AUTH_TYPES)}")
        return value

    @field_validator("auth_config")
    @classmethod
    def _auth_config(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind, auth = info.data.get("connector_type"), info.data.get("authentication_type")
        if kind is None or auth is None:
            return value  # already reported
        if kind == CUSTOM:
            required = AUTH_TYPES[auth].config_keys  # every key of an auth type is needed
            accepted = (*required, *AUTH_TYPES[auth].options)
            needed_by = f"authentication_type {auth}"
        else:  # a prebuilt's own auth applies; auth_config fills its config
            value = _prebuilt_credentials(_prebuilt(kind), value)
            config = _prebuilt(kind).config
            accepted = tuple(k for k in config if k != "base_url")
            required = tuple(k for k in accepted if config[k].required and not config[k].default)
            needed_by = f"connector_type {kind}"
        unknown = sorted(set(value) - set(accepted))
        if unknown:
            allowed = ", ".join(accepted) or "nothing"
            raise ValueError(f"unknown key {', '.join(unknown)} for {needed_by} (takes {allowed})")
        missing = [k for k in required if value.get(k) in (None, "")]
        if missing:
            raise ValueError(f"{', '.join(missing)} is needed for {needed_by}")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        clear = sorted(h for h in value if h.lower() in CLEAR_HEADERS)
        if clear:
            raise ValueError(f"{', '.join(clear)} carries credentials: put them in auth_config")
        return value

    @model_validator(mode="after")
    def _translate_once(self) -> Self:
        """A body is valid when it makes a spec; what is left to catch is caught here."""
        if self.endpoints and self.connector_type != CUSTOM:
            raise ValueError(f"endpoints: only {CUSTOM} takes endpoints")
        try:
            self._translated = self._translate()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def connector_id(self) -> str:
        return connector_name(self.name)

    def spec_and_config(self) -> tuple[str, dict[str, Any]]:
        """The spec (YAML text) and the config values this body describes."""
        return self._translated

    def _translate(self) -> tuple[str, dict[str, Any]]:
        config = dict(self.auth_config)
        if self.connector_type == CUSTOM:
            assert self.base_url is not None
            kind = AUTH_TYPES[self.authentication_type]
            options = {k: config.pop(k) for k in kind.options if k in config}
            builder = SpecBuilder(
                self.name,
                self.base_url,
                auth=self.authentication_type,
                auth_options=options,
                description=self.description,
            )
            for e in self.endpoints or [ROOT]:
                builder.add_endpoint(
                    e.name, e.path, e.method, description=e.description, parameters=e.parameters
                )
            data = builder.to_dict()
        else:
            prebuilt = builtin_spec(self.connector_type)
            data = yaml.safe_load(prebuilt.read_text(encoding="utf-8"))
            data["connector"].update(name=self.connector_id, title=self.name)
            if self.description:
                data["connector"]["description"] = self.description
            if self.base_url is not None:
                default = _prebuilt(self.connector_type).config["base_url"].default
                config["base_url"] = _with_prefix(self.base_url, str(default or ""))
        source = data["source"]
        if self.timeout is not None:
            source["timeout"] = self.timeout
        if self.retry_attempts is not None:
            source["retry"] = {**source.get("retry", {}), "max_attempts": self.retry_attempts}
        if self.headers:
            source["headers"] = {**source.get("headers", {}), **self.headers}
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), config


def _prebuilt_credentials(spec: ConnectorSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """`token` given for a spec that calls its credential `api_key`, or the other way."""
    own = next((k for k in CREDENTIALS if k in spec.config), None)
    return {
        (own if own is not None and k in CREDENTIALS and k not in spec.config else k): v
        for k, v in values.items()
    }


def _with_prefix(url: str, default: str) -> str:
    """The old connectors put /v1 (OpenAI) or /api (Slack) in every endpoint path; ours have
    it in the base URL. A URL without a path gets the prebuilt default's."""
    if urlsplit(url).path not in ("", "/"):
        return url
    return url.rstrip("/") + urlsplit(default).path


class LegacyRequest(BaseModel):
    """`POST /api/connectors/{id}/request` as the old server took it."""

    model_config = ConfigDict(extra="forbid")

    endpoint_name: str = Field(min_length=1)
    params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    transform_mapping: dict[str, str] | None = None

    @field_validator("headers")
    @classmethod
    def _no_headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value:
            raise ValueError("per-request headers are not sent: declare them in the spec")
        return value


async def create(control: ControlPlane, body: LegacyConnector) -> Change:
    text, config = body.spec_and_config()
    return await control.create(text, "yaml", config, start=False)


async def call(control: ControlPlane, name: str, body: LegacyRequest) -> TestOutcome:
    connector = control.runtime.connectors.get(name)
    if connector is None:  # stopped or unknown: the control plane says which
        return await control.test(name, body.endpoint_name)
    operation = _operation(connector.spec, name, body.endpoint_name)
    given = {**(body.params or {}), **(body.data or {})}
    args = _arguments(connector.spec.operations[operation], operation, given)
    outcome = await control.test(name, operation, args)
    if outcome.ok and body.transform_mapping:
        outcome = replace(outcome, data=_transform(outcome.data, body.transform_mapping))
    return outcome


def _operation(spec: ConnectorSpec, name: str, endpoint: str) -> str:
    for candidate in (endpoint, camel(endpoint)):
        if candidate in spec.operations:
            return candidate
    known = ", ".join(sorted(spec.operations))
    raise NotFound(f"connector {name!r} has no endpoint {endpoint!r} (operations: {known})")


def _arguments(op: Operation, operation: str, given: Mapping[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    unknown = []
    for key, value in given.items():
        arg = key if key in op.args else camel(key)
        if arg not in op.args:
            unknown.append(key)
        args[arg] = value
    if unknown:
        takes = ", ".join(op.args) or "no arguments"
        raise InvalidBody(
            f"params: {operation} has no argument {', '.join(sorted(unknown))} (takes: {takes})"
        )
    return args


def _transform(data: Any, mapping: Mapping[str, str]) -> Any:
    """The old `{source: target}` mapping, as map_record's `{target: source path}`."""
    wanted = {target: source for source, target in mapping.items()}
    try:
        if isinstance(data, list):
            return [map_record(item, wanted) for item in data]
        return map_record(data, wanted)
    except SpecError as exc:
        source = wanted[exc.location.path]
        raise InvalidBody(f"transform_mapping[{source!r}]: {exc.message}") from None
