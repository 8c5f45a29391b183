"""connectql: a GraphQL federation layer over API connectors.

The public API is this list; everything else may change between releases.
"""

from connectql.config import AppConfig, load_config
from connectql.connectors.connector import Connector
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
from connectql.spec.models import ConnectorSpec

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
    "SpecError",
    "SpecErrors",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "create_app",
    "load_config",
    "load_spec",
    "load_spec_text",
]
