"""The prebuilt Salesforce connector against a faithful fake of the REST API and its token
endpoint; simple-salesforce, driven at the same fake, cross-checks the request shapes."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import jwt
import orjson
import pytest

from connectql.connectors.builtin import builtin_spec
from connectql.connectors.trace import tracing
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeClock, FakeUpstream, Fault
from connectql.testing.fakes.salesforce import (
    CLIENT_ID,
    CLIENT_SECRET,
    JWT_BEARER,
    REFRESH_TOKEN,
    USERNAME,
    SalesforceState,
    create_salesforce_app,
)
from tests.connectors.builtin.contract import ConnectorContract
from tests.support import execute, serving

API = "/services/data/v59.0"
WRONG_REFRESH_TOKEN = "5Aep861not.a.real.refresh.token"
DESCRIBE = '{ salesforce { describe(sobject: "Account") { name keyPrefix fields { name } } } }'


def count_prefix(fake: FakeUpstream, method: str, prefix: str) -> int:
    return sum(1 for r in fake.requests if r.method == method and r.path.startswith(prefix))


def refresh_config(fake: FakeUpstream, token: str = REFRESH_TOKEN) -> dict[str, Any]:
    return {
        "login_url": fake.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": token,
    }


@contextlib.asynccontextmanager
async def salesforce(
    state: SalesforceState, config: dict[str, Any] | None = None
) -> AsyncIterator[tuple[str, FakeUpstream]]:
    async with FakeUpstream(create_salesforce_app(state)) as fake:
        runtime = Runtime()
        runtime.add(load_spec(builtin_spec("salesforce")), config or refresh_config(fake))
        async with serving(runtime) as url:
            yield url, fake
    assert state.violations == []


class TestSalesforceContract(ConnectorContract):
    name = "salesforce"
    operations = (
        "query",
        "describe",
        "record",
        "createRecord",
        "updateRecord",
        "deleteRecord",
    )
    auth_query = DESCRIBE

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        self.state = SalesforceState.seeded(n_contacts=300)
        self.states = [*getattr(self, "states", []), self.state]
        state = self.state
        async with FakeUpstream(create_salesforce_app(state)) as upstream:
            yield upstream
        assert state.violations == []  # nothing the connector sent would a real org refuse

    def operation_queries(self) -> dict[str, str]:
        accounts = list(self.state.records["Account"])
        first, doomed = accounts[0], accounts[-1]
        return {
            "query": (
                '{ salesforce { query(soql: "SELECT Id, Name FROM Account WHERE Industry = '
                "'Energy' LIMIT 5\", first: 5) { nodes { id type fields } } } }"
            ),
            "describe": DESCRIBE,
            "record": (
                f'{{ salesforce {{ record(sobject: "Account", id: "{first}", '
                'fields: ["Id", "Name"]) { id type fields } } }'
            ),
            "createRecord": (
                'mutation { salesforce { createRecord(sobject: "Account", '
                'fields: {Name: "Acme", Industry: "Energy"}) { id success errors } } }'
            ),
            "updateRecord": (
                f'mutation {{ salesforce {{ updateRecord(sobject: "Account", id: "{first}", '
                'fields: {BillingCity: "Utrecht"}) } }'
            ),
            "deleteRecord": (
                f'mutation {{ salesforce {{ deleteRecord(sobject: "Account", id: "{doomed}") }} }}'
            ),
        }

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return refresh_config(fake)

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return refresh_config(fake, WRONG_REFRESH_TOKEN)

    def secrets(self) -> list[str]:
        issued = [t for s in self.states for t in s.tokens]
        assert issued  # the runs signed in
        return [REFRESH_TOKEN, WRONG_REFRESH_TOKEN, CLIENT_SECRET, *issued]

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        query = (
            '{ salesforce { query(soql: "SELECT Id, Name FROM Account ORDER BY Name", '
            "batchSize: 200, first: 1000) { nodes { id fields } pageInfo { hasNextPage } } } }"
        )
        result = await execute(url, query)
        assert result.errors is None
        page = result.data["salesforce"]["query"]
        assert len(page["nodes"]) == 450
        assert page["nodes"][-1]["fields"]["Name"] == "Account 0450"
        assert page["pageInfo"]["hasNextPage"] is False
        assert fake.count("GET", f"{API}/query") == 1
        assert count_prefix(fake, "GET", f"{API}/query/") == 2  # nextRecordsUrl twice: 200+200+50

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        self.state.api_usage = self.state.api_limit - 1  # this call uses the last of the day
        assert (await execute(url, DESCRIBE)).errors is None
        calls = fake.count("GET")
        result = await execute(url, DESCRIBE)
        assert result.errors[0]["extensions"]["code"] == "RATE_LIMITED"
        assert fake.count("GET") == calls  # refused here: Sforce-Limit-Info said 15000/15000

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        query = (
            '{ salesforce { query(soql: "SELECT Id, AccountId FROM Contact", first: 300) '
            '{ nodes { id account(fields: ["Id", "Name"]) { id fields } } } } }'
        )
        result = await execute(url, query)
        assert result.errors is None
        nodes = result.data["salesforce"]["query"]["nodes"]
        contacts = self.state.records["Contact"]
        assert len(nodes) == 300
        assert [n["account"]["id"] for n in nodes] == [
            contacts[n["id"]]["AccountId"] for n in nodes
        ]
        assert nodes[-1]["account"]["fields"]["Name"] == "Account 0300"
        collections = [r for r in fake.requests if r.path == f"{API}/composite/sobjects/Account"]
        assert len(collections) == 2  # 300 records by id: 200 + 100
        assert sorted(len(r.query["ids"].split(",")) for r in collections) == [100, 200]
        assert {r.query["fields"] for r in collections} == {"Id,Name"}
        assert count_prefix(fake, "GET", f"{API}/sobjects/") == 0


async def test_errors_carry_salesforces_code_message_and_fields() -> None:
    state = SalesforceState.seeded(n_accounts=3)
    async with salesforce(state) as (url, _):
        missing_name = await execute(
            url,
            'mutation { salesforce { createRecord(sobject: "Account", '
            'fields: {Industry: "Energy"}) { id } } }',
        )
        bad_field = await execute(
            url, '{ salesforce { query(soql: "SELECT Id, Nope FROM Account") { nodes { id } } } }'
        )
        absent = await execute(
            url,
            '{ salesforce { record(sobject: "Account", id: "001000000000000AAA", '
            'fields: ["Id"]) { id } } }',
        )
    error = missing_name.errors[0]
    assert error["extensions"]["upstreamCode"] == "REQUIRED_FIELD_MISSING"
    assert error["extensions"]["httpStatus"] == 400
    assert error["extensions"]["details"] == ["Name"]
    assert "Required fields are missing" in error["message"]
    assert bad_field.errors[0]["extensions"]["upstreamCode"] == "INVALID_FIELD"
    assert absent.data == {"salesforce": {"record": None}}  # null in the Collections answer


async def test_mutations_change_the_org() -> None:
    state = SalesforceState.seeded(n_accounts=3)
    async with salesforce(state) as (url, fake):
        created = await execute(
            url,
            'mutation { salesforce { createRecord(sobject: "Account", '
            'fields: {Name: "Acme", NumberOfEmployees: 7}) { id success } } }',
        )
        rid = created.data["salesforce"]["createRecord"]["id"]
        updated = await execute(
            url,
            f'mutation {{ salesforce {{ updateRecord(sobject: "Account", id: "{rid}", '
            'fields: {Name: "Acme Corp"}) } }',
        )
        assert updated.data == {"salesforce": {"updateRecord": True}}
        assert state.find("Account", rid)["Name"] == "Acme Corp"
        deleted = await execute(
            url, f'mutation {{ salesforce {{ deleteRecord(sobject: "Account", id: "{rid}") }} }}'
        )
        assert deleted.data == {"salesforce": {"deleteRecord": True}}
        again = await execute(
            url, f'mutation {{ salesforce {{ deleteRecord(sobject: "Account", id: "{rid}") }} }}'
        )
    assert state.find("Account", rid) is None
    assert again.errors[0]["extensions"]["upstreamCode"] == "ENTITY_IS_DELETED"
    writes = [(r.method, r.headers.get("Content-Type")) for r in fake.requests[1:4]]
    assert writes[:2] == [("POST", "application/json"), ("PATCH", "application/json")]


async def test_invalid_session_id_refreshes_once_and_retries() -> None:
    state = SalesforceState.seeded(n_accounts=3)
    async with salesforce(state) as (url, fake):
        assert (await execute(url, DESCRIBE)).errors is None
        state.tokens.clear()  # the session expired
        assert (await execute(url, DESCRIBE)).errors is None
        assert [g.grant_type for g in state.grants] == ["refresh_token", "refresh_token"]
        assert fake.count("GET", f"{API}/sobjects/Account/describe") == 3  # ok, 401, retried
        # a session refused even after a fresh sign-in: one refresh, then UNAUTHENTICATED
        refused = '[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'
        fake.faults.add(
            Fault(
                status=401,
                body=refused,
                headers={"Content-Type": "application/json"},
                match=lambda r: r.path.startswith("/services/data/"),
            ),
            times=None,
        )
        before = fake.count()
        result = await execute(url, DESCRIBE)
        fake.faults.clear()
    assert result.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert result.errors[0]["extensions"]["upstreamCode"] == "INVALID_SESSION_ID"
    assert fake.count() - before == 3  # the call, the token request, the one retry
    assert len(state.grants) == 3


async def test_jwt_bearer_flow_calls_the_instance_url_from_the_token_response() -> None:
    state = SalesforceState.seeded()
    async with (
        FakeUpstream(create_salesforce_app(state)) as login,
        FakeUpstream(create_salesforce_app(state)) as instance,
    ):
        state.instance_url = instance.url
        runtime = Runtime()
        config = {
            "login_url": login.url,
            "client_id": CLIENT_ID,
            "username": USERNAME,
            "private_key": state.private_key_pem,
        }
        runtime.add(load_spec(builtin_spec("salesforce")), config)
        async with serving(runtime) as url:
            result = await execute(
                url,
                '{ salesforce { query(soql: "SELECT Id FROM Account", batchSize: 200, '
                "first: 500) { nodes { id } } } }",
            )
            leaked = str(result.data) + str(result.errors)
    assert result.errors is None
    assert len(result.data["salesforce"]["query"]["nodes"]) == 450
    assert [(r.method, r.path) for r in login.requests] == [("POST", "/services/oauth2/token")]
    assert count_prefix(instance, "GET", f"{API}/query") == 3  # first page + 2 nextRecordsUrl
    assert [g.grant_type for g in state.grants] == [JWT_BEARER]
    form = dict(re.findall(r"([^&=]+)=([^&]*)", login.requests[0].body.decode()))
    claims = jwt.decode(form["assertion"], options={"verify_signature": False})
    assert claims["iss"] == CLIENT_ID
    assert claims["sub"] == USERNAME
    assert claims["aud"] == login.url
    assert "PRIVATE KEY" not in leaked
    assert state.violations == []


@pytest.mark.parametrize(
    ("wrong", "reason"),
    [
        pytest.param("key", "invalid_grant", id="key-not-of-the-apps-certificate"),
        pytest.param("clock", "invalid_grant", id="assertion-already-expired"),
        pytest.param("client_id", "invalid_client_id", id="unknown-consumer-key"),
    ],
)
async def test_a_refused_jwt_assertion_is_unauthenticated(wrong: str, reason: str) -> None:
    state = SalesforceState.seeded(n_accounts=1)
    other = SalesforceState.seeded(n_accounts=0)
    async with FakeUpstream(create_salesforce_app(state)) as fake:
        # a runtime clock an hour behind the org's: its assertions expired when signed
        clock = FakeClock(start=state.now() - 3600) if wrong == "clock" else None
        runtime = Runtime(clock=clock) if clock else Runtime()
        config = {
            "login_url": fake.url,
            "client_id": "3MVG9someone.else" if wrong == "client_id" else CLIENT_ID,
            "username": USERNAME,
            "private_key": other.private_key_pem if wrong == "key" else state.private_key_pem,
        }
        runtime.add(load_spec(builtin_spec("salesforce")), config)
        async with serving(runtime) as url:
            result = await execute(url, DESCRIBE)
    assert result.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert f"({reason})" in result.errors[0]["message"]
    assert "PRIVATE KEY" not in str(result.errors)
    assert fake.count("GET") == 0
    assert state.violations == []


async def test_an_org_over_its_daily_limit_is_rate_limited() -> None:
    state = SalesforceState.seeded(n_accounts=1)
    state.api_usage = state.api_limit  # the allowance is spent: Salesforce answers 403
    async with salesforce(state) as (url, fake):
        first = await execute(url, DESCRIBE)
        calls = fake.count("GET")
        second = await execute(url, DESCRIBE)
    assert first.errors[0]["extensions"]["code"] == "RATE_LIMITED"
    assert first.errors[0]["extensions"]["upstreamCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert second.errors[0]["extensions"]["code"] == "RATE_LIMITED"
    assert calls == 1
    assert fake.count("GET") == calls  # not asked again until the quota window passes


async def test_a_trace_names_the_operations_path_not_the_instance() -> None:
    state = SalesforceState.seeded(n_accounts=1)
    async with (
        FakeUpstream(create_salesforce_app(state)) as login,
        FakeUpstream(create_salesforce_app(state)) as instance,
    ):
        state.instance_url = instance.url
        runtime = Runtime()
        runtime.add(load_spec(builtin_spec("salesforce")), refresh_config(login))
        connector = runtime.connectors["salesforce"]
        try:
            with tracing() as trace:
                found = await connector.execute("describe", {"sobject": "Account"})
        finally:
            await connector.stop()
    assert found["name"] == "Account"
    assert [(t.method, t.url_template, t.status) for t in trace] == [
        ("GET", f"{login.url}{API}/sobjects/{{args.sobject}}/describe", 200)
    ]
    assert instance.count("GET", f"{API}/sobjects/Account/describe") == 1


async def test_a_next_page_on_a_host_the_sign_in_did_not_name_is_refused() -> None:
    state = SalesforceState.seeded(n_accounts=1)
    page = {
        "totalSize": 2,
        "done": False,
        "nextRecordsUrl": "http://198.51.100.7/services/data/v59.0/query/01gFAKE-1",
        "records": [{"attributes": {"type": "Account"}, "Id": "001000000000001AAA"}],
    }
    async with salesforce(state) as (url, fake):
        fake.faults.add(
            Fault(
                status=200,
                body=orjson.dumps(page),
                headers={"Content-Type": "application/json"},
                match=lambda r: r.path == f"{API}/query",
            )
        )
        result = await execute(
            url,
            '{ salesforce { query(soql: "SELECT Id FROM Account", first: 10) { nodes { id } } } }',
        )
    assert result.errors
    assert "refusing to call host" in result.errors[0]["message"]
    assert fake.count("GET", f"{API}/query") == 1
