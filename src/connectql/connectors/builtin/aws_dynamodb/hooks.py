"""DynamoDB items by a string partition key, many at a time: BatchGetItem takes a table name
as a key of its body and may leave keys unprocessed, which the spec language cannot say."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from connectql.connectors.auth import AuthHooks
from connectql.errors import UpstreamError

TARGET = "DynamoDB_20120810.BatchGetItem"
MAX_ROUNDS = 8
"""BatchGetItem calls for one batch: the first, then retries of UnprocessedKeys only."""
BACKOFF = 0.05
"""Seconds before the first retry of unprocessed keys, doubled each round (AWS advises
exponential backoff: keys come back unprocessed when a table's throughput is exceeded)."""


async def items(connector: Any, operation: str, args: dict[str, Any]) -> Any:
    """Items in key order (None where the table has none): a batch's `keys`, or one `key`."""
    single = "keys" not in args
    keys = [args["key"]] if single else list(args["keys"])
    table, attribute = str(args["table"]), str(args.get("keyAttribute") or "id")
    wanted = [{attribute: {"S": str(key)}} for key in dict.fromkeys(keys)]
    found: dict[str, Any] = {}
    request: dict[str, Any] = {table: {"Keys": wanted}}
    for round_ in range(MAX_ROUNDS):
        if round_:
            await asyncio.sleep(BACKOFF * 2 ** (round_ - 1))
        answer = await connector.call(
            operation,
            "POST",
            "/",
            data=orjson.dumps({"RequestItems": request}),
            headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.0"},
        )
        for item in (answer or {}).get("Responses", {}).get(table, []):
            value = item.get(attribute, {}).get("S")
            if value is not None:
                found[value] = item
        request = (answer or {}).get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        raise UpstreamError(
            f"DynamoDB left keys unprocessed after {MAX_ROUNDS} BatchGetItem calls",
            operation=operation,
            retryable=True,
        )
    results = [found.get(str(key)) for key in keys]
    return results[0] if single else results


def register(hooks: AuthHooks) -> None:
    hooks.register_operation("aws_dynamodb_items", items)
