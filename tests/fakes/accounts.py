"""A fake of a GitHub-flavoured API whose answers depend on who calls: each token is a user.

    state = AccountsState.seeded()   # two users, each with their own repositories
    async with FakeUpstream(create_accounts_app(state)) as accounts:
        ...  # GET {accounts.url}/user, "Authorization: Bearer TOKENS['ada']"

As GitHub: no or bad credentials are 401 `{"message": "Bad credentials"}`; `GET /user` is the
caller, `GET /user/repos` their repositories in pages (`page`, `per_page`), `GET
/users?logins=a,b` a multi-get, `POST /user/repos` creates one. Its ETags name the version of
what was asked for (`W/"user-v1"`), not who asked, and it answers `If-None-Match` with 304: a
client cache that is not kept per caller would hand one caller another's answer.
`GET /user/echo` fails 422 with a message quoting the caller's token, as careless APIs do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKENS = {
    "ada": "ghp_adaCallerToken0123456789abcdef",
    "grace": "ghp_graceCallerToken0123456789abcd",
}
"""login → token."""


@dataclass
class AccountsState:
    repos: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    """token → login."""
    version: int = 1

    @classmethod
    def seeded(cls) -> AccountsState:
        return cls(
            repos={
                "ada": ["engine", "notes", "loom"],
                "grace": ["cobol", "compiler", "nanosecond"],
            },
            tokens={token: login for login, token in TOKENS.items()},
        )

    def user(self, login: str) -> dict[str, Any]:
        return {"login": login, "name": login.title(), "repoCount": len(self.repos[login])}


def create_accounts_app(state: AccountsState) -> web.Application:
    def caller(request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        login = (
            state.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        )
        if login is None:
            raise web.HTTPUnauthorized(
                text='{"message": "Bad credentials"}', content_type="application/json"
            )
        return login

    def versioned(request: web.Request, tag: str, body: Any) -> web.Response:
        etag = f'W/"{tag}-v{state.version}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.json_response(body, headers={"ETag": etag})

    async def me(request: web.Request) -> web.Response:
        return versioned(request, "user", state.user(caller(request)))

    async def repos(request: web.Request) -> web.Response:
        login = caller(request)
        page = int(request.query.get("page", "1"))
        size = int(request.query.get("per_page", "30"))
        names = state.repos[login][(page - 1) * size : page * size]
        owner = {"login": login}
        return versioned(
            request, f"repos-{page}-{size}", [{"name": n, "owner": owner} for n in names]
        )

    async def users(request: web.Request) -> web.Response:
        caller(request)
        logins = [x for x in request.query.get("logins", "").split(",") if x in state.repos]
        return web.json_response([state.user(login) for login in logins])

    async def create(request: web.Request) -> web.Response:
        login = caller(request)
        name = (await request.json())["name"]
        state.repos[login].append(name)
        return web.json_response({"name": name, "owner": {"login": login}}, status=201)

    async def echo(request: web.Request) -> web.Response:
        caller(request)
        token = request.headers["Authorization"].removeprefix("Bearer ")
        message = f"token {token} may not read this"
        return web.json_response({"message": message}, status=422)

    app = web.Application()
    app.router.add_get("/user", me)
    app.router.add_get("/user/repos", repos)
    app.router.add_post("/user/repos", create)
    app.router.add_get("/user/echo", echo)
    app.router.add_get("/users", users)
    return app
