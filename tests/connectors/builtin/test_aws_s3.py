"""The prebuilt S3 connector against moto (server mode) behind the AWS front door."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from connectql.testing import FakeUpstream, Fault
from tests.connectors.builtin import aws_support
from tests.support import execute

BUCKET = "reports"
LOGS = 1200
NOTE = "notes/2026/hello world.txt"


def seed(moto: str) -> None:
    s3 = aws_support.client("s3", moto)
    where = {"LocationConstraint": aws_support.REGION}
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration=where)
    s3.create_bucket(Bucket="archive", CreateBucketConfiguration=where)
    s3.put_object(Bucket=BUCKET, Key=NOTE, Body=b"hello, S3", ContentType="text/plain")
    s3.put_object(Bucket=BUCKET, Key="logs/00001.log", Body=b"line 1")


def seed_logs(moto: str) -> None:
    s3 = aws_support.client("s3", moto)
    for i in range(LOGS):
        s3.put_object(Bucket=BUCKET, Key=f"logs/{i:05}.log", Body=f"line {i}".encode())


def meta(bucket: str, key: str, alias: str = "objectMetadata") -> str:
    return f'{alias}: objectMetadata(bucket: "{bucket}", key: "{key}") {{ size etag contentType }}'


class TestS3Contract(aws_support.AwsContract):
    name = "aws_s3"
    operations = ("buckets", "objects", "objectMetadata", "objectText", "putObject")
    auth_query = "{ aws_s3 { buckets { name } } }"

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        async with aws_support.aws(seed) as front:
            self.front = front
            yield front
        assert front.violations == []

    def operation_queries(self) -> dict[str, str]:
        return {
            "buckets": "{ aws_s3 { buckets { name createdAt } } }",
            "objects": (
                f'{{ aws_s3 {{ objects(bucket: "{BUCKET}", prefix: "notes/", first: 10) '
                "{ nodes { key size etag lastModified } } } }"
            ),
            "objectMetadata": f"{{ aws_s3 {{ {meta(BUCKET, NOTE)} }} }}",
            "objectText": f'{{ aws_s3 {{ objectText(bucket: "{BUCKET}", key: "{NOTE}") }} }}',
            "putObject": (
                f'mutation {{ aws_s3 {{ putObject(bucket: "{BUCKET}", key: "new/one.txt", '
                'content: "fresh", contentType: "text/plain") { etag } } }'
            ),
        }

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        await asyncio.wait_for(asyncio.to_thread(seed_logs, self.front.moto_url), 120)
        query = (
            f'{{ aws_s3 {{ objects(bucket: "{BUCKET}", prefix: "logs/", first: 5000) '
            "{ nodes { key } pageInfo { hasNextPage } } } }"
        )
        result = await execute(url, query)
        assert result.errors is None, result.errors
        page = result.data["aws_s3"]["objects"]
        assert [n["key"] for n in page["nodes"]] == [f"logs/{i:05}.log" for i in range(LOGS)]
        assert page["pageInfo"]["hasNextPage"] is False
        listed = [r for r in fake.requests if r.query.get("list-type") == "2"]
        assert [r.query.get("max-keys") for r in listed] == ["1000", "1000"]
        assert "continuation-token" not in listed[0].query
        assert listed[1].query["continuation-token"]

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        slow_down = (
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
            "<Message>Please reduce your request rate.</Message></Error>"
        )
        fake.faults.add(
            Fault(status=503, headers={"Content-Type": "application/xml"}, body=slow_down)
        )
        result = await execute(url, self.auth_query)
        assert result.errors is None, result.errors
        assert {b["name"] for b in result.data["aws_s3"]["buckets"]} == {BUCKET, "archive"}
        assert fake.count("GET", "/") == 2

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        # S3 has no multi-get: equal lookups are made once, different ones once each
        fields = " ".join(
            [meta(BUCKET, NOTE, "a"), meta(BUCKET, NOTE, "b"), meta(BUCKET, "logs/00001.log", "c")]
        )
        result = await execute(url, f"{{ aws_s3 {{ {fields} }} }}")
        assert result.errors is None, result.errors
        data = result.data["aws_s3"]
        assert data["a"] == data["b"]
        assert data["a"]["size"] == len(b"hello, S3")
        assert data["a"]["contentType"] == "text/plain"
        assert fake.count("HEAD") == 2


async def test_bodies_metadata_and_missing_objects() -> None:
    contract = TestS3Contract()
    async with contract.served() as (url, _):
        put = await execute(
            url,
            f'mutation {{ aws_s3 {{ putObject(bucket: "{BUCKET}", key: "a/b c.json", '
            'content: "{\\"x\\": 1}", contentType: "application/json") { etag } } }',
        )
        read = await execute(
            url,
            f'{{ aws_s3 {{ objectText(bucket: "{BUCKET}", key: "a/b c.json") '
            f"{meta(BUCKET, 'a/b c.json')} "
            f'gone: objectText(bucket: "{BUCKET}", key: "nothing/here") '
            f"{meta(BUCKET, 'nothing/here', 'goneMeta')} }} }}",
        )
    assert put.errors is None, put.errors
    etag = put.data["aws_s3"]["putObject"]["etag"]
    assert etag.startswith('"')
    data = read.data["aws_s3"]
    assert read.errors is None, read.errors
    assert data["objectText"] == '{"x": 1}'
    assert data["objectMetadata"] == {"size": 8, "etag": etag, "contentType": "application/json"}
    assert data["gone"] is None
    assert data["goneMeta"] is None


async def test_a_missing_bucket_is_typed_with_s3s_code() -> None:
    contract = TestS3Contract()
    async with contract.served() as (url, _):
        result = await execute(
            url, '{ aws_s3 { objectText(bucket: "no-such-bucket-x", key: "k") } }'
        )
    assert result.data == {"aws_s3": {"objectText": None}}  # NoSuchBucket is a 404 too
