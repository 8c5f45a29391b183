"""A fake activity feed, as an aiohttp app: events that are posts or photos (`kind`), for a
connector whose results are a union (tests/fakes/data/feed.yaml).

    async with FakeUpstream(create_feed_app()) as feed:
        ...  # GET {feed.url}/events?page=1&per_page=20

Events are listed newest first in pages with a `Link` header; `GET /people?ids=a,b` is a
multi-get that leaves unknown ids out; unknown events and people are 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

FEED_SPEC = Path(__file__).parent / "data" / "feed.yaml"
PEOPLE = 6
EVENTS = 60


def feed_data() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(people, events) by id; every third event is a photo, the rest posts."""
    people = {str(i): {"id": str(i), "name": f"Person {i}"} for i in range(1, PEOPLE + 1)}
    events: dict[str, dict[str, Any]] = {}
    for i in range(EVENTS, 0, -1):
        author = str(1 + i % PEOPLE)
        if i % 3 == 0:
            event = {"kind": "photo", "url": f"https://img.test/{i}.png", "width": 640 + i}
            event["height"] = 480 if i % 2 else None
        else:
            event = {"kind": "post", "title": f"Post {i}", "likes": i * 7 % 50}
            event["tags"] = [f"t{i % 4}"]
        events[str(i)] = {"id": str(i), "author_id": author, **event}
    return people, events


def _paged(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    page = max(1, int(request.query.get("page", "1")))
    per_page = min(100, max(1, int(request.query.get("per_page", "20"))))
    last = max(1, -(-len(items) // per_page))

    def link(to: int, rel: str) -> str:
        return f'<{request.url.update_query(page=to, per_page=per_page)}>; rel="{rel}"'

    links = [link(page + 1, "next")] if page < last else []
    links.append(link(last, "last"))
    start = (page - 1) * per_page
    return web.json_response(items[start : start + per_page], headers={"Link": ", ".join(links)})


def create_feed_app() -> web.Application:
    people, events = feed_data()

    def missing(what: str) -> web.Response:
        return web.json_response({"message": f"no such {what}"}, status=404)

    async def list_events(request: web.Request) -> web.Response:
        return _paged(request, list(events.values()))

    async def get_event(request: web.Request) -> web.Response:
        event = events.get(request.match_info["id"])
        return web.json_response(event) if event else missing("event")

    async def get_person(request: web.Request) -> web.Response:
        person = people.get(request.match_info["id"])
        return web.json_response(person) if person else missing("person")

    async def list_people(request: web.Request) -> web.Response:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        return web.json_response({"people": [people[i] for i in sorted(set(ids)) if i in people]})

    async def person_events(request: web.Request) -> web.Response:
        person = request.match_info["id"]
        if person not in people:
            return missing("person")
        return _paged(request, [e for e in events.values() if e["author_id"] == person])

    app = web.Application()
    app.router.add_get("/events", list_events)
    app.router.add_get("/events/{id}", get_event)
    app.router.add_get("/people", list_people)
    app.router.add_get("/people/{id}", get_person)
    app.router.add_get("/people/{id}/events", person_events)
    return app
