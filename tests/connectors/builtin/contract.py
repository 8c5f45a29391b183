"""The contract every prebuilt connector keeps, run against its fake (in the spirit of
singer-sdk's reusable test class). A connector's test module subclasses ConnectorContract and
fills in the hooks; every test here then runs for it.
"""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from tests.support import execute, serving


class ConnectorContract(ABC):
    name: ClassVar[str]
    operations: ClassVar[tuple[str, ...]]
    """The spec's operations; `operation_queries` must cover exactly these."""
    auth_query: ClassVar[str]
    """A document whose call the fake refuses with the wrong credential."""

    # --- hooks for the subclass -----------------------------------------------------------

    @abstractmethod
    def fake(self) -> contextlib.AbstractAsyncContextManager[FakeUpstream]:
        """The connector's fake upstream, started (an async context manager)."""

    @abstractmethod
    def operation_queries(self) -> dict[str, str]:
        """One GraphQL document per operation, for the fake's data (call after `fake()`)."""

    @abstractmethod
    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        """Config that reaches the fake with good credentials."""

    @abstractmethod
    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        """Config that reaches the fake with a wrong credential."""

    @abstractmethod
    def secrets(self) -> list[str]:
        """Values that must never appear in results, errors or logs."""

    @abstractmethod
    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        """Walk a paginated list to its last page and check what came back."""

    @abstractmethod
    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        """Make the fake rate-limit and check the connector honours it."""

    @abstractmethod
    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        """A nested or sibling query: count upstream calls against what the spec promises."""

    # --- helpers ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def served(
        self, config: dict[str, Any] | None = None
    ) -> AsyncIterator[tuple[str, FakeUpstream]]:
        async with self.fake() as fake:
            runtime = Runtime()
            runtime.add(load_spec(builtin_spec(self.name)), config or self.config(fake))
            async with serving(runtime) as url:
                yield url, fake

    # --- the contract ---------------------------------------------------------------------------

    def test_spec_validates_and_schema_builds(self) -> None:
        spec = load_spec(builtin_spec(self.name))
        assert spec.name == self.name
        runtime = Runtime()
        runtime.add(spec, self.config(FakeUpstream()))
        sdl = runtime.connector_sdl(self.name)
        assert sdl is not None
        assert f"type {runtime.connectors[self.name].name.title().replace('_', '')}Query" in sdl

    def test_every_operation_has_a_test(self) -> None:
        spec = load_spec(builtin_spec(self.name))
        assert set(self.operations) == set(spec.operations)

    async def test_every_operation_works_against_the_fake(self) -> None:
        async with self.served() as (url, fake):
            queries = self.operation_queries()
            assert set(queries) == set(self.operations)
            for operation, document in queries.items():
                result = await execute(url, document)
                assert result.errors is None, (operation, result.errors)
                assert result.data, operation
            assert fake.count() >= len(queries)

    async def test_a_wrong_credential_is_a_typed_auth_error(self) -> None:
        async with self.fake() as fake:
            runtime = Runtime()
            runtime.add(load_spec(builtin_spec(self.name)), self.wrong_config(fake))
            async with serving(runtime) as url:
                result = await execute(url, self.auth_query)
        assert result.errors, result
        assert result.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert result.errors[0]["extensions"]["connector"] == self.name

    async def test_secrets_never_appear(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        texts: list[str] = []
        async with self.served() as (url, _):
            for document in self.operation_queries().values():
                result = await execute(url, document)
                texts.append(str(result.data) + str(result.errors))
            async with self.fake() as other:
                runtime = Runtime()
                runtime.add(load_spec(builtin_spec(self.name)), self.wrong_config(other))
                async with serving(runtime) as bad_url:
                    failed = await execute(bad_url, self.auth_query)
                    texts.append(str(failed.errors))
        texts += [r.getMessage() for r in caplog.records if not r.name.startswith("gql")]
        for secret in self.secrets():
            assert [t for t in texts if secret in t] == [], secret

    async def test_pagination_reaches_the_last_page(self) -> None:
        async with self.served() as (url, fake):
            await self.check_pagination(url, fake)

    async def test_a_rate_limit_is_honoured(self) -> None:
        async with self.served() as (url, fake):
            await self.check_rate_limit(url, fake)

    async def test_batching_makes_the_promised_calls(self) -> None:
        async with self.served() as (url, fake):
            await self.check_batching(url, fake)
