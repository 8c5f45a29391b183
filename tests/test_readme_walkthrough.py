"""The README's "Write a connector for your own API" walkthrough, run as written."""

from __future__ import annotations

from aiohttp import web

from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.readme_blocks import block
from tests.support import execute, serving

TOKEN = "tasks-token-0123456789"


def tasks_service() -> web.Application:
    """The service the walkthrough describes: Token auth, page pagination, people."""
    tasks = [
        {
            "id": str(i),
            "title": f"Task {i}",
            "status": "open" if i % 3 else "done",
            "assignee_id": str(i % 4),
        }
        for i in range(1, 61)
    ]
    people = {str(i): {"id": str(i), "name": f"Person {i}"} for i in range(4)}

    async def guard(request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Token {TOKEN}":
            raise web.HTTPUnauthorized(
                text='{"detail": "bad token"}', content_type="application/json"
            )

    async def list_tasks(request: web.Request) -> web.Response:
        await guard(request)
        wanted = [t for t in tasks if request.query.get("status") in (None, t["status"])]
        page = int(request.query.get("page", "1"))
        size = 20
        pages = max(1, -(-len(wanted) // size))
        return web.json_response({"items": wanted[(page - 1) * size : page * size], "pages": pages})

    async def get_person(request: web.Request) -> web.Response:
        await guard(request)
        return web.json_response(people[request.match_info["id"]])

    app = web.Application()
    app.router.add_get("/tasks", list_tasks)
    app.router.add_get("/people/{id}", get_person)
    return app


async def test_the_walkthrough_works_as_written() -> None:
    spec = load_spec_text(block("walkthrough-spec"), "tasks.yaml")
    async with FakeUpstream(tasks_service()) as service:
        runtime = Runtime()
        runtime.add(spec, {"base_url": service.url, "token": TOKEN})
        async with serving(runtime) as url:
            result = await execute(url, block("walkthrough-query"))
        assert result.errors is None
        nodes = result.data["tasks"]["tasks"]["nodes"]
        assert len(nodes) == 40  # the open tasks
        assert {n["assignee"]["name"] for n in nodes} == {f"Person {i}" for i in range(4)}
        assert service.count("GET", "/tasks") == 2  # 40 open tasks, 20 a page, total known
        assert sum(1 for r in service.requests if r.path.startswith("/people/")) == 4
