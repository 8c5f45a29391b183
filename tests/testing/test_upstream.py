"""The fake upstream's fault injector: a rewrite fault changes the handler's JSON answer and
keeps its status and headers (pagination links too)."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from connectql.testing import FakeUpstream, Fault


async def _items(request: web.Request) -> web.Response:
    link = '<http://x/?p=2>; rel="next"'
    return web.json_response([{"id": 1}, {"id": 2}], headers={"Link": link})


async def test_a_rewrite_fault_changes_the_json_body_only() -> None:
    def drop_ids(body: Any) -> Any:
        return [{k: v for k, v in item.items() if k != "id"} for item in body]

    upstream = FakeUpstream()
    upstream.app.router.add_get("/items", _items)
    async with upstream, aiohttp.ClientSession() as http:
        upstream.faults.add(Fault(rewrite=drop_ids), times=1)
        async with http.get(f"{upstream.url}/items") as response:
            assert response.status == 200
            assert response.headers["Link"] == '<http://x/?p=2>; rel="next"'
            assert await response.json() == [{}, {}]
        async with http.get(f"{upstream.url}/items") as response:
            assert await response.json() == [{"id": 1}, {"id": 2}]
