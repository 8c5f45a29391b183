"""What the AWS connectors' tests share: moto in server mode behind the AwsFront, and the
credentials the front accepts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import boto3

from connectql.testing import FakeUpstream
from connectql.testing.fakes.aws import AwsFront, Credential, moto_server
from tests.connectors.builtin.contract import ConnectorContract

ACCESS_KEY = "AKIAFAKEFRONT0000001"
SECRET_KEY = "fake-secret-key-for-the-aws-front-0001"
TOKEN_KEY = "ASIAFAKEFRONT0000002"
TOKEN_SECRET = "fake-secret-key-for-temporary-creds-02"
SESSION_TOKEN = "fake-session-token-for-temporary-creds-0003"
WRONG_SECRET = "not-the-secret-key-of-this-access-key"
REGION = "eu-west-1"


def client(service: str, moto_url: str) -> Any:
    """A boto3 client straight to moto (not through the front): to seed data."""
    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="seed",
        aws_secret_access_key="seed",
    )


@contextlib.asynccontextmanager
async def aws(seed: Callable[[str], None] | None = None) -> AsyncIterator[AwsFront]:
    """moto (reset), seeded by `seed(moto_url)` in a thread, behind a started AwsFront."""
    credentials = {
        ACCESS_KEY: Credential(SECRET_KEY),
        TOKEN_KEY: Credential(TOKEN_SECRET, SESSION_TOKEN),
    }
    async with moto_server() as moto:
        if seed is not None:
            await asyncio.wait_for(asyncio.to_thread(seed, moto), 60)
        async with AwsFront(moto, credentials) as front:
            yield front


def config(front: AwsFront, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint_url": front.url,
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        **extra,
    }


class AwsContract(ConnectorContract):
    """The contract with what every AWS connector's test gives the same way: the front's
    credentials, a wrong secret key, and the secrets that must never show."""

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return config(fake)  # type: ignore[arg-type]

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return config(fake, secret_access_key=WRONG_SECRET)  # type: ignore[arg-type]

    def secrets(self) -> list[str]:
        return [SECRET_KEY, WRONG_SECRET]
