"""The prebuilt Lambda connector against moto (server mode) behind the AWS front door.

moto keeps the functions (create, list, get); invoking one would need docker, and moto's
docker-free backend always succeeds, so the front runs each function's handler here."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import orjson

from connectql.testing import FakeUpstream, Fault
from tests.connectors.builtin import aws_support
from tests.support import execute

FUNCTIONS = 60  # ListFunctions pages hold at most 50


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def seed(moto: str) -> None:
    iam = aws_support.client("iam", moto)
    role = iam.create_role(
        RoleName="runner",
        AssumeRolePolicyDocument=orjson.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ).decode(),
    )["Role"]["Arn"]
    lam = aws_support.client("lambda", moto)
    code = _zip()
    for i in range(FUNCTIONS):
        lam.create_function(
            FunctionName=f"fn-{i:02}",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code},
        )


def add(event: Any) -> Any:
    return {"sum": sum(event["numbers"])}


def fail(event: Any) -> Any:
    raise ValueError(f"cannot handle {event.get('what')}")


class TestLambdaContract(aws_support.AwsContract):
    name = "aws_lambda"
    operations = ("functions", "invoke")
    auth_query = "{ aws_lambda { functions(first: 1) { nodes { name } } } }"

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        async with aws_support.aws(seed) as front:
            front.functions.update({"fn-00": add, "fn-01": fail})
            self.front = front
            yield front
        assert front.violations == []

    def operation_queries(self) -> dict[str, str]:
        return {
            "functions": "{ aws_lambda { functions(first: 5) { nodes { name arn runtime } } } }",
            "invoke": (
                'mutation { aws_lambda { invoke(name: "fn-00", payload: {numbers: [1, 2, 3]}) } }'
            ),
        }

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        query = (
            "{ aws_lambda { functions(first: 1000) { nodes { name } pageInfo { hasNextPage } } } }"
        )
        result = await execute(url, query)
        assert result.errors is None, result.errors
        page = result.data["aws_lambda"]["functions"]
        assert sorted(n["name"] for n in page["nodes"]) == [f"fn-{i:02}" for i in range(FUNCTIONS)]
        assert page["pageInfo"]["hasNextPage"] is False
        listed = [r for r in fake.requests if r.method == "GET"]
        assert [r.query.get("MaxItems") for r in listed] == ["50", "50"]
        assert "Marker" not in listed[0].query
        assert listed[1].query["Marker"]

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        throttled = {
            "message": "Rate Exceeded.",
            "Type": "User",
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        }
        fake.faults.add(
            Fault(
                status=429,
                headers={"Content-Type": "application/json", "Retry-After": "1"},
                body=orjson.dumps(throttled),
            )
        )
        result = await execute(url, self.operation_queries()["invoke"])
        assert result.errors is None, result.errors
        assert result.data["aws_lambda"]["invoke"] == {"sum": 6}
        assert fake.count("POST", "/2015-03-31/functions/fn-00/invocations") == 2

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        # Lambda has no multi-get: sibling listings make one call each, sized by `first`
        query = (
            "{ aws_lambda { a: functions(first: 3) { nodes { name } } "
            "b: functions(first: 4) { nodes { name } } } }"
        )
        result = await execute(url, query)
        assert result.errors is None, result.errors
        data = result.data["aws_lambda"]
        assert len(data["a"]["nodes"]) == 3
        assert len(data["b"]["nodes"]) == 4
        assert sorted(r.query["MaxItems"] for r in fake.requests) == ["3", "4"]


async def test_a_function_error_is_typed_and_a_missing_function_is_not_found() -> None:
    contract = TestLambdaContract()
    async with contract.served() as (url, fake):
        failed = await execute(
            url, 'mutation { aws_lambda { invoke(name: "fn-01", payload: {what: "this"}) } }'
        )
        missing = await execute(url, 'mutation { aws_lambda { invoke(name: "nope") } }')
        invocations = [r for r in fake.requests if r.path.endswith("/invocations")]
    error = failed.errors[0]
    assert error["extensions"]["code"] == "FUNCTION_ERROR"
    assert error["extensions"]["upstreamCode"] == "ValueError"
    assert error["message"] == "cannot handle this"
    assert error["extensions"]["httpStatus"] == 200
    assert len(invocations) == 2  # a function error is not retried: the function ran
    assert invocations[0].headers["X-Amz-Invocation-Type"] == "RequestResponse"
    assert missing.errors[0]["extensions"]["code"] == "NOT_FOUND"
