"""Query limits (depth, aliases, tokens), on by default, as strawberry extensions.

The validation rules are created once per schema build, not per request, so they are the
same objects in every request and the validation cache keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import ASTValidationRule
from pydantic import BaseModel, ConfigDict, Field
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule


class Limits(BaseModel):
    """`limits:` in connectql.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_depth: int = Field(15, ge=1)
    """Deepest field nesting; introspection (`__schema`, `__type`) is not counted."""
    max_aliases: int = Field(30, ge=0)
    """Aliases in a document, counted through fragment spreads and inline fragments."""
    max_tokens: int = Field(5000, ge=10)
    """Lexical tokens in a document: a cap on its size before it is even parsed."""


def _introspection(context: IgnoreContext) -> bool:
    return context.field_name.startswith("__")


def limit_extensions(limits: Limits) -> list[Callable[[], SchemaExtension]]:
    rules: list[type[ASTValidationRule]] = [
        depth_rule(limits.max_depth, should_ignore=_introspection),
        aliases_rule(limits.max_aliases),
    ]
    return [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
    ]
