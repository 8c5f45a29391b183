"""connectql: a GraphQL federation layer over API connectors.

The public API is this list; everything else may change between releases.
Names are imported on first use (PEP 562), so the CLI starts without loading the server.
"""

import importlib as _importlib
import types as _types
import typing as _typing

if _typing.TYPE_CHECKING:
    from connectql.builder.spec_builder import SpecBuilder
    from connectql.config import AppConfig, load_config
    from connectql.connectors.connector import Connector
    from connectql.connectors.standalone import open_connector
    from connectql.control.access import AccessControl
    from connectql.control.service import ControlPlane
    from connectql.errors import (
        AuthError,
        BadResponse,
        CircuitOpen,
        ConfigError,
        ConnectorError,
        ConnectqlError,
        ControlError,
        Forbidden,
        NotFound,
        RateLimited,
        SchemaBuildError,
        SpecError,
        SpecErrors,
        UpstreamError,
        UpstreamTimeout,
        UpstreamUnavailable,
    )
    from connectql.registry import Registry
    from connectql.runtime import Runtime
    from connectql.server.app import create_app
    from connectql.spec.loader import load_spec, load_spec_text
    from connectql.spec.mapping import map_record
    from connectql.spec.models import ConnectorSpec

_LOCATIONS = {
    "AccessControl": "connectql.control.access",
    "AppConfig": "connectql.config",
    "AuthError": "connectql.errors",
    "BadResponse": "connectql.errors",
    "CircuitOpen": "connectql.errors",
    "ConfigError": "connectql.errors",
    "Connector": "connectql.connectors.connector",
    "ConnectorError": "connectql.errors",
    "ConnectorSpec": "connectql.spec.models",
    "ConnectqlError": "connectql.errors",
    "ControlError": "connectql.errors",
    "ControlPlane": "connectql.control.service",
    "Forbidden": "connectql.errors",
    "NotFound": "connectql.errors",
    "RateLimited": "connectql.errors",
    "Registry": "connectql.registry",
    "Runtime": "connectql.runtime",
    "SchemaBuildError": "connectql.errors",
    "SpecBuilder": "connectql.builder.spec_builder",
    "SpecError": "connectql.errors",
    "SpecErrors": "connectql.errors",
    "UpstreamError": "connectql.errors",
    "UpstreamTimeout": "connectql.errors",
    "UpstreamUnavailable": "connectql.errors",
    "create_app": "connectql.server.app",
    "load_config": "connectql.config",
    "load_spec": "connectql.spec.loader",
    "load_spec_text": "connectql.spec.loader",
    "map_record": "connectql.spec.mapping",
    "open_connector": "connectql.connectors.standalone",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'connectql' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    modules = (k for k, v in globals().items() if isinstance(v, _types.ModuleType))
    return sorted({*__all__, *(k for k in modules if not k.startswith("_"))})


__all__ = [
    "AccessControl",
    "AppConfig",
    "AuthError",
    "BadResponse",
    "CircuitOpen",
    "ConfigError",
    "Connector",
    "ConnectorError",
    "ConnectorSpec",
    "ConnectqlError",
    "ControlError",
    "ControlPlane",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "Registry",
    "Runtime",
    "SchemaBuildError",
    "SpecBuilder",
    "SpecError",
    "SpecErrors",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "create_app",
    "load_config",
    "load_spec",
    "load_spec_text",
    "map_record",
    "open_connector",
]
