"""Query caches for one built schema: parsed and validated documents, keyed by their text.

Parsing and validation dominate the cost of a small query. strawberry's `ValidationCache`
keeps one process-wide LRU keyed by schema, which would keep every swapped-out schema
alive; here each built schema gets its own LRU, freed with it. The key is the text: a
DocumentNode hashes its whole tree on every lookup. Only documents up to
`limits.max_cached_document` characters are kept, because a parsed document takes about a
hundred times its text in memory (tokens and locations): the cache holds at most
`QUERY_CACHE_SIZE` of them.

Validation runs in two stages: `LimitRule`s first (one pass, each fragment measured once),
then the other rules, only on documents the first stage accepts, because some of
graphql-core's rules are super-linear in the size of a document.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from connectql.graph.limits import LimitRule, Limits

QUERY_CACHE_SIZE = 512
"""Distinct query texts whose parsed and validated documents are kept."""


def validate(
    schema: GraphQLSchema, document: DocumentNode, rules: Sequence[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """`rules` on `document`: the limits first, the others only if the limits pass."""
    for rule in rules:
        if issubclass(rule, LimitRule) and (errors := rule.errors(schema, document)):
            return errors
    others = tuple(r for r in rules if not issubclass(r, LimitRule))
    return validate_document(schema, document, others)


def query_caches(
    limits: Limits | None = None, maxsize: int = QUERY_CACHE_SIZE
) -> list[Callable[[], SchemaExtension]]:
    """Extension factories for one schema build."""
    largest = (limits or Limits()).max_cached_document
    cache: OrderedDict[str, tuple[DocumentNode, list[GraphQLError]]] = OrderedDict()

    def cached(text: str | None) -> tuple[DocumentNode, list[GraphQLError]] | None:
        if not text or text not in cache:
            return None
        cache.move_to_end(text)
        return cache[text]

    class QueryCache(SchemaExtension):
        entries = cache  # for tests and debugging: what this schema keeps

        def on_parse(self) -> Iterator[None]:
            # a miss is parsed by strawberry, whose error handling reports a syntax error
            # (one raised from here would escape it over WebSocket); kept after validation
            hit = cached(self.execution_context.query)
            if hit is not None:
                self.execution_context.graphql_document = hit[0]
            yield

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            document, text = context.graphql_document, context.query
            if document is not None and context.pre_execution_errors is None:
                hit = cached(text)
                if hit is not None and hit[0] is document:
                    errors = hit[1]
                else:
                    errors = validate(context.schema._schema, document, context.validation_rules)
                    if text and len(text) <= largest:
                        cache[text] = (document, errors)
                        if len(cache) > maxsize:
                            cache.popitem(last=False)
                context.pre_execution_errors = errors
            yield

    return [QueryCache]
