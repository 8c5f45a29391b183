"""The tasks service of the README's "Write a connector for your own API" walkthrough."""

from __future__ import annotations

from aiohttp import web

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
