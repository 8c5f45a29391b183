"""The executor of every GraphQL operation: compiled plans for connector queries,
graphql-core for the rest, and a differential mode that runs both and compares them.

`CompiledExecutor` is the schema's `execution_context_class` (graph/compose.py), the one seam
that strawberry's views (HTTP, WebSocket, multipart) and a direct `graphql.execute` share.
Which executor runs is `CONNECTQL_EXECUTOR`, read when a schema is built:

- `compiled` (default): a query that graph/plan.py can compile runs from its plan; anything
  else (mutations, subscriptions, introspection, the control plane, federation's
  `_entities`, binary results) runs through graphql-core, whole.
- `reference`: graphql-core only.
- `differential`: the plan, then graphql-core on the same context (the request's loaders
  already hold every upstream answer, so it calls no upstream again, and that is checked);
  a difference in data or in the errors a client sees is logged at ERROR on
  `connectql.execution` and added to the result as an error with code EXECUTOR_MISMATCH.

Errors of a result are in response order (the order of the fields and items they belong
to), whichever executor ran: graphql-core collects them in the order asynchronous fields
settle, which is no order a client can rely on.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from copy import copy
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
)
from graphql.execution.executor import CollectedErrors, default_field_resolver

from connectql.errors import ConfigError
from connectql.graph.plan import (
    DocumentPlans,
    OperationPlan,
    PlanRun,
    compile_operation,
    plan_key,
    switch_variables,
)
from connectql.resolvers.errors import ShapingExecutor, client_view, drop_tracebacks
from connectql.resolvers.loaders import Loaders, request_loaders

log = logging.getLogger("connectql.execution")

EXECUTOR_ENV = "CONNECTQL_EXECUTOR"
MODES = ("compiled", "reference", "differential")
MISMATCH = "EXECUTOR_MISMATCH"
PLANNED_DOCUMENTS = 512
"""Documents whose plans a schema keeps (the query cache keeps as many documents)."""


def executor_mode() -> str:
    """The mode `CONNECTQL_EXECUTOR` asks for (default `compiled`)."""
    mode = os.environ.get(EXECUTOR_ENV, "").strip().lower() or "compiled"
    if mode not in MODES:
        raise ConfigError(f"{EXECUTOR_ENV}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


class CompiledPlans:
    """The plans of one built schema, by document (bounded, least recently used first out),
    and the mode its operations run in."""

    def __init__(self, mode: str | None = None, maxsize: int = PLANNED_DOCUMENTS) -> None:
        self.mode = mode or executor_mode()
        self.maxsize = maxsize
        self._documents: OrderedDict[int, DocumentPlans] = OrderedDict()
        self.compiled = 0
        """Operations run from a plan."""
        self.fallbacks = 0
        """Operations the planner left to graphql-core (queries and others)."""

    def __len__(self) -> int:
        return len(self._documents)

    def plan(self, executor: CompiledExecutor) -> OperationPlan | None:
        document = executor.document
        if document is None:
            return None
        entry = self._documents.get(id(document))
        if entry is None or entry.document is not document:
            entry = DocumentPlans(document, switch_variables(document))
            self._documents[id(document)] = entry
            if len(self._documents) > self.maxsize:
                self._documents.popitem(last=False)
        else:
            self._documents.move_to_end(id(document))
        key = plan_key(executor, entry.switches)
        if key not in entry.plans:
            try:
                entry.plans[key] = compile_operation(executor)
            except Exception:  # a planner bug must not fail a query graphql-core can run
                log.exception("could not plan operation %s", key[1] or "(anonymous)")
                entry.plans[key] = None
            if entry.plans[key] is None:
                log.debug("graphql-core runs operation %s", key[1] or "(anonymous)")
        return entry.plans[key]


def attach_plans(schema: GraphQLSchema, plans: CompiledPlans) -> None:
    schema._compiled_plans = plans  # type: ignore[attr-defined]


def plans_of(schema: GraphQLSchema) -> CompiledPlans | None:
    found: CompiledPlans | None = getattr(schema, "_compiled_plans", None)
    return found


class CompiledExecutor(ShapingExecutor):
    """Runs a compiled plan when the schema's mode and the operation allow it."""

    document: DocumentNode | None = None
    """The document of the operation (plans are kept by document)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core's helpers are the executor's bound methods: a reference cycle that
        # kept each request's context, loaders and data alive until the cyclic GC freed
        # them (its full collections stalled the server for tens of ms under load)
        executor = weakref.ref(self)
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=lambda values: _alive(executor).gather_async_work(values),
            track=lambda values: _alive(executor).track_async_work(values),
        )

    @classmethod
    def build(cls, schema: GraphQLSchema, document: DocumentNode, *args: Any, **kwargs: Any) -> Any:
        executor = super().build(schema, document, *args, **kwargs)
        if isinstance(executor, CompiledExecutor):
            executor.document = document
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        plans = plans_of(self.schema)
        if serially is not None or plans is None or plans.mode == "reference" or not self._plain:
            return super().execute_operation(serially)
        plan = plans.plan(self)
        if plan is None:
            plans.fallbacks += 1
            return super().execute_operation(serially)
        plans.compiled += 1
        if plans.mode == "differential":
            return self._differential(plan)
        return self.run_plan(plan)

    @property
    def _plain(self) -> bool:
        """No middleware, custom default resolver, abort signal or hooks to honour."""
        middleware = self.middleware_manager
        return (
            (middleware is None or not middleware.middlewares)
            and self.field_resolver is default_field_resolver
            and self.abort_signal is None
            and self.hooks is None
        )

    def run_plan(self, plan: OperationPlan) -> ExecutionResult | Awaitable[ExecutionResult]:
        """graphql-core's `execute_operation`, with the root fields run from `plan`."""
        try:
            data = PlanRun(self).execute_fields(plan.fields, self.root_value, None)
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self._response(None)
        if isinstance(data, dict):
            return self._response(data)

        async def await_result() -> ExecutionResult:
            try:
                settled = await data
            except GraphQLError as error:
                self.collected_errors.add(error, None)
                return self._response(None)
            return self._response(settled)

        return await_result()

    def _response(self, data: dict[str, Any] | None) -> ExecutionResult:
        result = self.build_response(data)
        assert isinstance(result, ExecutionResult)
        return result

    def build_response(self, data: dict[str, Any] | None) -> Any:
        result = super().build_response(data)
        if isinstance(result, ExecutionResult) and result.errors and len(result.errors) > 1:
            result.errors = in_response_order(result.errors, data)
        return result

    async def _differential(self, plan: OperationPlan) -> ExecutionResult:
        loaders = _loaders(self.context_value)
        compiled = self.run_plan(plan)
        if self.is_awaitable(compiled):
            compiled = await compiled
        assert isinstance(compiled, ExecutionResult)
        fetched = loaders.fetches if loaders else 0
        reference_executor = copy(self)
        reference_executor.collected_errors = CollectedErrors()
        reference = ShapingExecutor.execute_operation(reference_executor)
        if self.is_awaitable(reference):
            reference = await reference
        assert isinstance(reference, ExecutionResult)
        difference = first_difference(compiled, reference)
        drop_tracebacks(reference.errors)  # not answered: nobody logs them
        # Where an error nulled a subtree, graphql-core still runs the siblings already
        # under way (and discards their values); the plan stops there. Extra loads are a
        # difference only in a result without errors.
        if difference is None and loaders and loaders.fetches != fetched and not compiled.errors:
            difference = (
                f"graphql-core made {loaders.fetches - fetched} upstream load(s) the "
                "compiled plan had not made"
            )
        if difference is not None:
            log.error(
                "the compiled plan and graphql-core differ: %s\ncompiled: %s\ngraphql-core: %s",
                difference,
                _formatted(compiled),
                _formatted(reference),
            )
            mismatch = GraphQLError(
                f"executor mismatch: {difference}", extensions={"code": MISMATCH}
            )
            compiled.errors = [*(compiled.errors or []), mismatch]
        return compiled


def _alive(executor: weakref.ref[CompiledExecutor]) -> CompiledExecutor:
    found = executor()
    assert found is not None, "a resolver outlived its execution"
    return found


def _loaders(context: Any) -> Loaders | None:
    try:
        return request_loaders(context)
    except AssertionError:
        return None


def _formatted(result: ExecutionResult) -> dict[str, Any]:
    return {"data": result.data, "errors": [client_view(e) for e in result.errors or ()]}


def first_difference(compiled: ExecutionResult, reference: ExecutionResult) -> str | None:
    """Where two results differ, in words naming the first differing path, or None."""
    where = _data_difference(compiled.data, reference.data, [])
    if where is not None:
        return f"data differs at {_dotted(where)}"
    mine = [client_view(e) for e in compiled.errors or ()]
    theirs = [client_view(e) for e in reference.errors or ()]
    for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if a != b:
            return f"error {index} differs at {_dotted(a.get('path') or b.get('path') or [])}"
    if len(mine) != len(theirs):
        extra = (mine if len(mine) > len(theirs) else theirs)[min(len(mine), len(theirs))]
        who = "the compiled plan" if len(mine) > len(theirs) else "graphql-core"
        return f"only {who} reports an error at {_dotted(extra.get('path') or [])}"
    return None


def _data_difference(a: Any, b: Any, path: list[str | int]) -> list[str | int] | None:
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return path
        for key in a:
            found = _data_difference(a[key], b[key], [*path, key])
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return path
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _data_difference(x, y, [*path, index])
            if found is not None:
                return found
        return None
    return None if type(a) is type(b) and a == b else path


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(step) for step in path) or "the top"


def in_response_order(errors: list[GraphQLError], data: Any) -> list[GraphQLError]:
    """`errors` sorted by where they are in the response: the position of each path step
    among its object's keys (document order) or its list's items; steps under a nulled
    parent, which the response no longer shows, by their name."""

    def position(error: GraphQLError) -> list[tuple[int, int | str]]:
        key: list[tuple[int, int | str]] = []
        node = data
        for step in error.path or ():
            if isinstance(node, dict) and step in node:
                key.append((0, list(node).index(step)))
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and step < len(node):
                key.append((0, step))
                node = node[step]
            else:
                key.append((1, str(step)))
                node = None
        return key

    return sorted(errors, key=position)
