"""The root Query and Mutation fields: the static API's, and each connector's.

A connector adds its namespace field, or with `connector.namespace: false` its operations
themselves. Every root name has one owner; a second one is a clash, reported at the spec line
of each clashing operation (`FieldClash`), so it reads like any other spec problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphql import GraphQLField

from connectql.errors import FieldClash, SchemaBuildError, SpecError
from connectql.graph.types import ConnectorTypes
from connectql.spec.origins import locate


@dataclass(frozen=True)
class _Owner:
    connector: ConnectorTypes | None
    """None: the static API (the control plane)."""
    operation: str | None
    """None: a namespace field."""

    def __str__(self) -> str:
        if self.connector is None:
            return "a field of the control plane"
        name = self.connector.connector.name
        if self.operation is None:
            return f"the namespace field of connector {name!r}"
        return f"operation {self.operation!r} of connector {name!r} (namespace: false)"


class RootFields:
    """Collects root fields by name, with who owns each; `check` raises the clashes."""

    def __init__(
        self,
        query: Mapping[str, GraphQLField],
        mutation: Mapping[str, GraphQLField],
        subscription: Mapping[str, GraphQLField] | None = None,
    ):
        static = _Owner(None, None)
        self.query: dict[str, GraphQLField] = dict(query)
        self.mutation: dict[str, GraphQLField] = dict(mutation)
        self.subscription: dict[str, GraphQLField] = dict(subscription or {})
        self._owners = {
            "Query": dict.fromkeys(query, static),
            "Mutation": dict.fromkeys(mutation, static),
            "Subscription": dict.fromkeys(self.subscription, static),
        }
        self._clashes: list[tuple[str, str, _Owner, _Owner]] = []

    def add(self, types: ConnectorTypes) -> None:
        query, mutation = types.root_fields()
        namespaced = types.spec.connector.namespace
        for root, fields, target in (
            ("Query", query, self.query),
            ("Mutation", mutation, self.mutation),
            ("Subscription", types.subscription_fields(), self.subscription),
        ):
            owners = self._owners[root]
            for name, field in fields.items():
                owner = _Owner(types, None if namespaced and root != "Subscription" else name)
                earlier = owners.get(name)
                if earlier is not None:
                    self._clashes.append((root, name, earlier, owner))
                    continue
                owners[name] = owner
                target[name] = field

    def check(self) -> None:
        """Raise FieldClash (or, between namespace fields and the static API only, a plain
        SchemaBuildError as before) when two owners wanted one name."""
        errors: list[SpecError] = []
        first: _Owner | None = None
        for root, name, earlier, later in self._clashes:
            for owner, other in ((earlier, later), (later, earlier)):
                if owner.connector is None or owner.operation is None:
                    continue
                first = first or owner
                connector = owner.connector.connector.name
                message = (
                    f"operation {name!r} of connector {connector!r} would be the "
                    f"root field {root}.{name}, which clashes with {other}; rename the operation"
                )
                if other.connector is not None and other.operation is None:
                    message += " or the other connector"
                message += ", or give this connector a namespace"
                where = locate(owner.connector.spec, ("operations", name))
                errors.append(SpecError(message, where))
        if errors:
            assert first is not None
            assert first.connector is not None
            assert first.operation is not None
            raise FieldClash(
                errors, connector=first.connector.connector.name, operation=first.operation
            )
        if self._clashes:
            _root, name, _earlier, later = self._clashes[0]
            assert later.connector is not None
            raise SchemaBuildError(
                f"connector name {later.connector.connector.name!r} clashes with "
                + ("a built-in field" if _earlier.connector is None else str(_earlier))
            )
