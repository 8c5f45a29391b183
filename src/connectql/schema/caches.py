"""Query caches for one built schema: parsing is shared, validation lives with its schema.

Parsing and validation dominate the cost of a small query. strawberry's `ValidationCache`
keeps one process-wide LRU keyed by schema, which would keep every swapped-out schema
alive; here each built schema gets its own LRU, freed with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document

QUERY_CACHE_SIZE = 512
"""Distinct query texts whose parsed and validated documents are kept."""


def query_caches(maxsize: int = QUERY_CACHE_SIZE) -> list[Callable[[], SchemaExtension]]:
    """Extension factories for one schema build."""
    validate = lru_cache(maxsize=maxsize)(validate_document)

    class SchemaValidationCache(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            context.pre_execution_errors = validate(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
            yield

    return [lambda: ParserCache(maxsize=maxsize), SchemaValidationCache]
