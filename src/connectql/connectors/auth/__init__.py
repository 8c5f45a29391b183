"""Auth strategies, one per `source.auth.type`, chosen by the dispatch table in build_auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectql.connectors.auth.api_key import ApiKeyStrategy
from connectql.connectors.auth.aws_sigv4 import AwsSigV4Strategy
from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.connectors.auth.basic import BasicStrategy
from connectql.connectors.auth.bearer import BearerStrategy
from connectql.connectors.auth.hooks import AuthFactory, AuthHooks
from connectql.connectors.auth.none import NoAuthStrategy
from connectql.connectors.auth.oauth2 import OAuth2Strategy
from connectql.spec.models import (
    ApiKeyAuth,
    AwsSigV4Auth,
    BasicAuth,
    BearerAuth,
    CustomAuth,
    NoAuth,
    OAuth2Auth,
)
from connectql.spec.templates import to_text

__all__ = ["AuthContext", "AuthFactory", "AuthHooks", "AuthStrategy", "build_auth"]

_BUILTIN: dict[type[Any], Callable[[Any, AuthContext], AuthStrategy]] = {
    NoAuth: lambda _spec, _ctx: NoAuthStrategy(),
    ApiKeyAuth: ApiKeyStrategy,
    BearerAuth: BearerStrategy,
    BasicAuth: BasicStrategy,
    OAuth2Auth: OAuth2Strategy,
    AwsSigV4Auth: AwsSigV4Strategy,
}


def build_auth(spec: Any, ctx: AuthContext, hooks: AuthHooks) -> AuthStrategy:
    """The strategy for one connector's `source.auth` model."""
    if isinstance(spec, CustomAuth):
        # an option whose config key is unset renders to "" (not "None")
        options = {k: to_text(ctx.render(v)) for k, v in spec.options.items()}
        return hooks.get(spec.hook)(options, ctx)
    return _BUILTIN[type(spec)](spec, ctx)
