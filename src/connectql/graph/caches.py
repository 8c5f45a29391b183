"""Query caches for one built schema: parsed and validated documents, keyed by their text.

Parsing and validation dominate the cost of a small query. strawberry's `ValidationCache`
keeps one process-wide LRU keyed by schema, which would keep every swapped-out schema
alive; here each built schema gets its own `Documents`, freed with it. The key is the text:
a DocumentNode hashes its whole tree on every lookup. Only documents up to
`limits.max_cached_document` characters are kept, because a parsed document takes about a
hundred times its text in memory (tokens and locations): the cache holds at most
`QUERY_CACHE_SIZE` of them.

Validation runs in two stages: `LimitRule`s first (one pass, each fragment measured once),
then the other rules, only on documents the first stage accepts, because some of
graphql-core's rules are super-linear in the size of a document.

`Documents.prepare` is the one way a text becomes a document and its validation errors:
the HTTP path (server/graphql_http.py) calls it, and strawberry's (WebSocket, uploads)
reaches the same cache through the extension `Documents.extensions` gives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from connectql.graph.limits import LimitRule, Limits, QueryLimits, limit_rules

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


class Documents:
    """The parsed and validated documents of one schema build, by text (an LRU)."""

    def __init__(self, limits: Limits | None = None, maxsize: int = QUERY_CACHE_SIZE) -> None:
        self.limits = limits or Limits()
        self.maxsize = maxsize
        self.limit_rules = limit_rules(self.limits)
        self.rules = (*specified_rules, *self.limit_rules)
        """What every document is validated with (strawberry's specified rules, ours)."""
        self.entries: OrderedDict[str, tuple[DocumentNode, list[GraphQLError]]] = OrderedDict()

    def cached(self, text: str | None) -> tuple[DocumentNode, list[GraphQLError]] | None:
        if not text:
            return None
        hit = self.entries.get(text)
        if hit is not None:
            self.entries.move_to_end(text)
        return hit

    def keep(self, text: str | None, document: DocumentNode, errors: list[GraphQLError]) -> bool:
        """Cache a validated document if its text is small enough; whether it was."""
        if not text or len(text) > self.limits.max_cached_document:
            return False
        self.entries[text] = (document, errors)
        if len(self.entries) > self.maxsize:
            self.entries.popitem(last=False)
        return True

    def prepare(
        self, schema: GraphQLSchema, text: str
    ) -> tuple[DocumentNode | None, list[GraphQLError]]:
        """The document of `text` and its validation errors, or (None, [the error]) when it
        does not parse (or validation fails unexpectedly: masked as INTERNAL)."""
        hit = self.cached(text)
        if hit is not None:
            return hit
        try:
            document = parse(
                text,
                max_tokens=self.limits.max_tokens,
                max_source_length=self.limits.max_document_size,
            )
        except GraphQLError as error:
            return None, [error]
        except Exception as error:  # strawberry's parse step turns any error into one
            return None, [GraphQLError(str(error), original_error=error)]
        try:
            errors = validate(schema, document, self.rules)
        except Exception as error:  # as strawberry answers one raised while validating
            return None, [GraphQLError(str(error), original_error=error)]
        self.keep(text, document, errors)
        return document, errors

    def extensions(self) -> list[Callable[[], SchemaExtension]]:
        """strawberry extension factories applying the same limits and cache."""
        documents = self

        class QueryCache(SchemaExtension):
            def on_parse(self) -> Iterator[None]:
                # a miss is parsed by strawberry, whose error handling reports a syntax error
                # (one raised from here would escape it over WebSocket); kept after validation
                hit = documents.cached(self.execution_context.query)
                if hit is not None:
                    self.execution_context.graphql_document = hit[0]
                yield

            def on_validate(self) -> Iterator[None]:
                context = self.execution_context
                document, text = context.graphql_document, context.query
                if document is not None and context.pre_execution_errors is None:
                    hit = documents.cached(text)
                    if hit is not None and hit[0] is document:
                        errors = hit[1]
                    else:
                        errors = validate(
                            context.schema._schema, document, context.validation_rules
                        )
                        documents.keep(text, document, errors)
                    context.pre_execution_errors = errors
                yield

        limits, rules = self.limits, self.limit_rules
        return [lambda: QueryLimits(limits, rules), QueryCache]
