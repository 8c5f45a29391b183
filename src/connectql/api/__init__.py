"""The control-plane and builder GraphQL API: static strawberry root types.

This layer sits above the runtime: the server hands `API_ROOTS` to the runtime, whose
generated connector fields join them (`connectql.graph.compose`).
"""

from __future__ import annotations

from strawberry.tools import merge_types

from connectql.api.builder import BuilderMutation, BuilderQuery
from connectql.api.control import Mutation as ControlMutation
from connectql.api.control import Query, Subscription
from connectql.graph.compose import RootTypes

API_ROOTS = RootTypes(
    query=merge_types("Query", (Query, BuilderQuery)),
    mutation=merge_types("Mutation", (ControlMutation, BuilderMutation)),
    subscription=Subscription,
)
