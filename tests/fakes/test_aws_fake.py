"""The AWS front door: botocore's own requests pass its checks (so connector and front speak
the SDK's dialect), and what AWS would refuse is refused or recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import boto3
import orjson
import pytest
from botocore.exceptions import ClientError
from multidict import CIMultiDict

from connectql.connectors.auth import AuthContext
from connectql.connectors.auth.aws_sigv4 import AwsSigV4Strategy
from connectql.connectors.clock import SystemClock
from connectql.connectors.http import HttpRequest
from connectql.spec.models import AwsSigV4Auth
from connectql.testing.fakes.aws import AwsFront
from tests.connectors.builtin import aws_support
from tests.connectors.builtin.aws_support import ACCESS_KEY, REGION, SECRET_KEY, WRONG_SECRET


def sdk(service: str, front: AwsFront, secret: str = SECRET_KEY) -> Any:
    return boto3.client(
        service,
        endpoint_url=front.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
    )


def sdk_calls(front: AwsFront) -> None:
    s3 = sdk("s3", front)
    s3.create_bucket(Bucket="bucket-one", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="bucket-one", Key="dir/a b.txt", Body=b"x")
    s3.head_object(Bucket="bucket-one", Key="dir/a b.txt")
    s3.list_objects_v2(Bucket="bucket-one", Prefix="dir/", MaxKeys=1)
    db = sdk("dynamodb", front)
    db.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    db.put_item(TableName="t", Item={"id": {"S": "a"}})
    db.batch_get_item(RequestItems={"t": {"Keys": [{"id": {"S": "a"}}]}})
    sdk("lambda", front).list_functions(MaxItems=5)


async def test_the_sdks_own_requests_pass_the_fronts_checks() -> None:
    async with aws_support.aws() as front:
        await asyncio.wait_for(asyncio.to_thread(sdk_calls, front), 60)
    assert front.count() == 8
    assert front.violations == []


async def test_a_wrong_secret_is_refused_as_each_service_words_it() -> None:
    async with aws_support.aws() as front:

        def refused(service: str, call: str, **kwargs: Any) -> str:
            with pytest.raises(ClientError) as caught:
                getattr(sdk(service, front, WRONG_SECRET), call)(**kwargs)
            return str(caught.value.response["Error"]["Code"])

        codes = await asyncio.to_thread(
            lambda: [
                refused("s3", "list_buckets"),
                refused("dynamodb", "list_tables"),
                refused("lambda", "list_functions"),
            ]
        )
    assert codes == [
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "InvalidSignatureException",
    ]


async def test_requests_the_model_refuses_are_recorded() -> None:
    async with aws_support.aws() as front:
        strategy = AwsSigV4Strategy(
            AwsSigV4Auth(
                type="aws_sigv4",
                region=REGION,
                service="dynamodb",
                access_key_id=ACCESS_KEY,
                secret_access_key=SECRET_KEY,
            ),
            AuthContext(connector="t", render=lambda s: s, send=None, clock=SystemClock()),  # type: ignore[arg-type]
        )
        request = HttpRequest(
            "POST",
            f"{front.url}/",
            [],
            CIMultiDict(
                {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/json"}
            ),
            orjson.dumps({"TableName": "t", "Key": {"id": {"S": "a"}}, "Limit": 3}),
        )
        await strategy.apply(request)
        async with (
            aiohttp.ClientSession() as session,
            session.post(request.url, data=request.body, headers=request.headers) as answer,
        ):
            await answer.read()
    assert any("Content-Type is not application/x-amz-json-1.0" in v for v in front.violations)
    assert any('Unknown parameter in input: "Limit"' in v for v in front.violations)
