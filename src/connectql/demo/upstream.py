"""The demo bookstore API: an aiohttp app with an API key, Link-header pagination and a
multi-get endpoint (`/authors?ids=1,2`). `connectql serve` runs it in-process; tests and
benchmarks use it as a realistic upstream.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

GENRES = ("fiction", "non-fiction", "poetry", "history")
COUNTRIES = ("NL", "FR", "JP", "BR", "KE", "CA")
MAX_PER_PAGE = 100
API_KEY = web.AppKey("api_key", str)
BOOKS = web.AppKey("books", dict)
AUTHORS = web.AppKey("authors", dict)


def make_catalogue(n_books: int = 240, n_authors: int = 40) -> tuple[dict[str, Any], ...]:
    authors = {
        str(i): {"id": str(i), "name": f"Author {i}", "country": COUNTRIES[i % len(COUNTRIES)]}
        for i in range(1, n_authors + 1)
    }
    books = {
        str(i): {
            "id": str(i),
            "title": f"Book {i}",
            "genre": GENRES[i % len(GENRES)],
            "year": 1950 + i % 70,
            "price": round(5 + (i * 37 % 400) / 10, 2),
            "tags": [f"tag{i % 7}", f"tag{i % 5}"],
            "author_id": str(1 + i % n_authors),
        }
        for i in range(1, n_books + 1)
    }
    return books, authors


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status)


@web.middleware
async def _require_key(request: web.Request, handler: Any) -> web.StreamResponse:
    given = request.headers.get("X-Api-Key", "")
    if not hmac.compare_digest(given.encode(), request.app[API_KEY].encode()):
        return _error(401, "missing or wrong X-Api-Key")
    response: web.StreamResponse = await handler(request)
    return response


def _paged(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    try:
        page = max(1, int(request.query.get("page", "1")))
        per_page = min(MAX_PER_PAGE, max(1, int(request.query.get("per_page", "30"))))
    except ValueError:
        return _error(422, "page and per_page must be integers")
    start = (page - 1) * per_page
    headers = {}
    links = []
    last = max(1, -(-len(items) // per_page))
    if page < last:
        links.append(f'<{request.url.update_query(page=page + 1, per_page=per_page)}>; rel="next"')
    links.append(f'<{request.url.update_query(page=last, per_page=per_page)}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return web.json_response(items[start : start + per_page], headers=headers)


async def list_books(request: web.Request) -> web.Response:
    books = list(request.app[BOOKS].values())
    genre = request.query.get("genre")
    if genre:
        books = [b for b in books if b["genre"] == genre]
    return _paged(request, books)


async def get_book(request: web.Request) -> web.Response:
    book = request.app[BOOKS].get(request.match_info["id"])
    return web.json_response(book) if book else _error(404, "no such book")


async def create_book(request: web.Request) -> web.Response:
    try:
        data = await request.json()
    except ValueError:
        return _error(400, "body must be JSON")
    if not isinstance(data, dict) or not data.get("title") or not data.get("author_id"):
        return _error(422, "title and author_id are required")
    if str(data["author_id"]) not in request.app[AUTHORS]:
        return _error(422, "no such author")
    books = request.app[BOOKS]
    book_id = str(max((int(k) for k in books), default=0) + 1)
    book: dict[str, Any] = {
        "id": book_id,
        "title": str(data["title"]),
        "genre": data.get("genre"),
        "year": data.get("year"),
        "price": data.get("price"),
        "tags": [],
        "author_id": str(data["author_id"]),
    }
    books[book_id] = book
    return web.json_response(book, status=201)


async def get_author(request: web.Request) -> web.Response:
    author = request.app[AUTHORS].get(request.match_info["id"])
    return web.json_response(author) if author else _error(404, "no such author")


async def list_authors(request: web.Request) -> web.Response:
    """The multi-get endpoint: `?ids=1,2,3`; unknown ids are left out, order not kept."""
    ids = [i for i in request.query.get("ids", "").split(",") if i]
    if len(ids) > MAX_PER_PAGE:
        return _error(422, f"at most {MAX_PER_PAGE} ids")
    authors = request.app[AUTHORS]
    found = [authors[i] for i in sorted(set(ids), reverse=True) if i in authors]
    return web.json_response({"authors": found})


async def author_books(request: web.Request) -> web.Response:
    author_id = request.match_info["id"]
    if author_id not in request.app[AUTHORS]:
        return _error(404, "no such author")
    books = [b for b in request.app[BOOKS].values() if b["author_id"] == author_id]
    return _paged(request, books)


def create_bookstore_app(api_key: str, n_books: int = 240, n_authors: int = 40) -> web.Application:
    app = web.Application(middlewares=[_require_key])
    app[API_KEY] = api_key
    app[BOOKS], app[AUTHORS] = make_catalogue(n_books, n_authors)
    app.router.add_get("/books", list_books)
    app.router.add_post("/books", create_book)
    app.router.add_get("/books/{id}", get_book)
    app.router.add_get("/authors", list_authors)
    app.router.add_get("/authors/{id}", get_author)
    app.router.add_get("/authors/{id}/books", author_books)
    return app
