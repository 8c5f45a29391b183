"""The prebuilt DynamoDB connector against moto (server mode) behind the AWS front door."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from connectql.connectors.builtin import builtin_spec
from connectql.graph.limits import Limits
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream, Fault
from connectql.testing.fakes.aws import AwsFront
from tests.connectors.builtin import aws_support
from tests.connectors.builtin.aws_support import (
    SESSION_TOKEN,
    TOKEN_KEY,
    TOKEN_SECRET,
)
from tests.support import execute, serving

USERS = "users"
EVENTS = "events"
TARGET = "X-Amz-Target"


def seed(moto: str) -> None:
    db = aws_support.client("dynamodb", moto)
    db.create_table(
        TableName=USERS,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    db.create_table(
        TableName=EVENTS,
        KeySchema=[
            {"AttributeName": "stream", "KeyType": "HASH"},
            {"AttributeName": "seq", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "stream", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(160):
        item = {"id": {"S": f"u{i:03}"}, "name": {"S": f"User {i}"}, "n": {"N": str(i)}}
        db.put_item(TableName=USERS, Item=item)
    for i in range(250):
        db.put_item(TableName=EVENTS, Item={"stream": {"S": "s1"}, "seq": {"N": str(i)}})
    db.put_item(TableName=EVENTS, Item={"stream": {"S": "s2"}, "seq": {"N": "1"}})


def calls(front: AwsFront, operation: str) -> list[Any]:
    """The bodies of the requests that called `operation`, in arrival order."""
    name = f"DynamoDB_20120810.{operation}"
    return [r.json() for r in front.requests if r.headers.get(TARGET) == name]


def user_fields(count: int) -> str:
    fields = " ".join(
        f'u{i}: item(table: "{USERS}", key: "u{i:03}") {{ attributes }}' for i in range(count)
    )
    return f"{{ aws_dynamodb {{ {fields} }} }}"


class TestDynamoDbContract(aws_support.AwsContract):
    name = "aws_dynamodb"
    operations = ("getItem", "item", "query", "putItem")
    auth_query = (
        f'{{ aws_dynamodb {{ getItem(table: "{USERS}", key: {{id: {{S: "u001"}}}}) '
        "{ attributes } } }"
    )

    @contextlib.asynccontextmanager
    async def served(
        self, config: dict[str, Any] | None = None
    ) -> AsyncIterator[tuple[str, FakeUpstream]]:
        """As the contract's, with room for 150 aliased lookups (the default allows 30)."""
        async with self.fake() as fake:
            runtime = Runtime(limits=Limits(max_aliases=200, max_cost=100_000))
            runtime.add(load_spec(builtin_spec(self.name)), config or self.config(fake))
            async with serving(runtime) as url:
                yield url, fake

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        async with aws_support.aws(seed) as front:
            self.front = front
            yield front
        assert front.violations == []

    def operation_queries(self) -> dict[str, str]:
        return {
            "getItem": self.auth_query,
            "item": (
                f'{{ aws_dynamodb {{ item(table: "{USERS}", key: "u002") {{ attributes }} }} }}'
            ),
            "query": (
                f'{{ aws_dynamodb {{ query(table: "{EVENTS}", '
                'keyCondition: "stream = :partition", partition: {S: "s2"}, first: 5) '
                "{ nodes { attributes } } } }"
            ),
            "putItem": (
                f'mutation {{ aws_dynamodb {{ putItem(table: "{USERS}", '
                'item: {id: {S: "u900"}, name: {S: "New"}}) { previous capacityUnits } } }'
            ),
        }

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        query = (
            f'{{ aws_dynamodb {{ query(table: "{EVENTS}", keyCondition: "stream = :partition", '
            'partition: {S: "s1"}, first: 1000) { nodes { attributes } '
            "pageInfo { hasNextPage } } } }"
        )
        result = await execute(url, query)
        assert result.errors is None, result.errors
        page = result.data["aws_dynamodb"]["query"]
        seqs = [int(n["attributes"]["seq"]["N"]) for n in page["nodes"]]
        assert seqs == list(range(250))
        assert page["pageInfo"]["hasNextPage"] is False
        sent = calls(self.front, "Query")
        assert [b.get("Limit") for b in sent] == [100, 100, 100]
        assert "ExclusiveStartKey" not in sent[0]
        assert sent[1]["ExclusiveStartKey"] == {"stream": {"S": "s1"}, "seq": {"N": "99"}}
        assert sent[2]["ExclusiveStartKey"] == {"stream": {"S": "s1"}, "seq": {"N": "199"}}

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        throttled = {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded.",
        }
        fake.faults.add(
            Fault(
                status=400,
                headers={"Content-Type": "application/x-amz-json-1.0"},
                body=orjson.dumps(throttled),
                match=lambda r: r.headers.get(TARGET, "").endswith(".GetItem"),
            )
        )
        result = await execute(url, self.auth_query)
        assert result.errors is None, result.errors
        assert result.data["aws_dynamodb"]["getItem"]["attributes"]["name"] == {"S": "User 1"}
        assert len(calls(self.front, "GetItem")) == 2

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        self.front.hold_back = [7]  # the first BatchGetItem answer leaves 7 keys unprocessed
        result = await execute(url, user_fields(150))
        assert result.errors is None, result.errors
        found = result.data["aws_dynamodb"]
        assert len(found) == 150
        assert found["u149"]["attributes"]["name"] == {"S": "User 149"}
        sent = [b["RequestItems"][USERS]["Keys"] for b in calls(self.front, "BatchGetItem")]
        # 150 keys: one call of 100 and one of 50, plus one retry of the 7 held back only
        assert sorted(len(keys) for keys in sent) == [7, 50, 100]
        assert len(self.front.held_back) == 1
        retry = next(keys for keys in sent if len(keys) == 7)
        assert retry == self.front.held_back[0]
        assert calls(self.front, "GetItem") == []


async def test_a_missing_item_is_null_and_keys_are_deduplicated() -> None:
    contract = TestDynamoDbContract()
    async with contract.served() as (url, _front):
        query = (
            f'{{ aws_dynamodb {{ a: item(table: "{USERS}", key: "u001") {{ attributes }} '
            f'b: item(table: "{USERS}", key: "u001") {{ attributes }} '
            f'c: item(table: "{USERS}", key: "nobody") {{ attributes }} '
            f'd: getItem(table: "{USERS}", key: {{id: {{S: "nobody"}}}}) {{ attributes }} }} }}'
        )
        result = await execute(url, query)
        sent = calls(contract.front, "BatchGetItem")
    assert result.errors is None, result.errors
    data = result.data["aws_dynamodb"]
    assert data["a"] == data["b"]
    assert data["a"]["attributes"]["id"] == {"S": "u001"}
    assert data["c"] is None
    assert data["d"] is None
    assert [len(b["RequestItems"][USERS]["Keys"]) for b in sent] == [2]


async def test_put_then_get_and_a_failed_condition_is_typed() -> None:
    contract = TestDynamoDbContract()
    async with contract.served() as (url, _):
        put = (
            f'mutation {{ aws_dynamodb {{ putItem(table: "{USERS}", '
            'item: {id: {S: "u001"}, name: {S: "Renamed"}}) { previous } } }'
        )
        first = await execute(url, put)
        again = await execute(
            url,
            f'mutation {{ aws_dynamodb {{ putItem(table: "{USERS}", item: {{id: {{S: "u001"}}}}, '
            'condition: "attribute_not_exists(id)") { previous } } }',
        )
        read = await execute(
            url, f'{{ aws_dynamodb {{ item(table: "{USERS}", key: "u001") {{ attributes }} }} }}'
        )
    assert first.data["aws_dynamodb"]["putItem"]["previous"]["name"] == {"S": "User 1"}
    assert again.errors[0]["extensions"]["code"] == "CONDITION_FAILED"
    assert read.data["aws_dynamodb"]["item"]["attributes"]["name"] == {"S": "Renamed"}


async def test_temporary_credentials_send_their_session_token() -> None:
    async with aws_support.aws(seed) as front:
        runtime = Runtime()
        good = aws_support.config(
            front,
            access_key_id=TOKEN_KEY,
            secret_access_key=TOKEN_SECRET,
            session_token=SESSION_TOKEN,
        )
        runtime.add(load_spec(builtin_spec("aws_dynamodb")), good)
        async with serving(runtime) as url:
            result = await execute(url, TestDynamoDbContract.auth_query)
        tokenless = Runtime()
        tokenless.add(load_spec(builtin_spec("aws_dynamodb")), {**good, "session_token": None})
        async with serving(tokenless) as url:
            refused = await execute(url, TestDynamoDbContract.auth_query)
    assert result.errors is None, result.errors
    assert front.requests[0].headers["X-Amz-Security-Token"] == SESSION_TOKEN
    assert refused.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert SESSION_TOKEN not in str(refused.errors)


async def test_credentials_and_region_come_from_the_standard_environment() -> None:
    async with aws_support.aws(seed) as front:
        environ = {
            "AWS_ACCESS_KEY_ID": TOKEN_KEY,
            "AWS_SECRET_ACCESS_KEY": TOKEN_SECRET,
            "AWS_SESSION_TOKEN": SESSION_TOKEN,
            "AWS_REGION": aws_support.REGION,  # wins over AWS_DEFAULT_REGION, as in the SDKs
            "AWS_DEFAULT_REGION": "ap-south-1",
            "AWS_ENDPOINT_URL": front.url,
        }
        runtime = Runtime(environ=environ)
        runtime.add(load_spec(builtin_spec("aws_dynamodb")), {})
        async with serving(runtime) as url:
            result = await execute(url, TestDynamoDbContract.auth_query)
    assert result.errors is None, result.errors
    authorization = front.requests[0].headers["Authorization"]
    assert f"Credential={TOKEN_KEY}/" in authorization
    assert f"/{aws_support.REGION}/dynamodb/" in authorization
    assert front.violations == []
