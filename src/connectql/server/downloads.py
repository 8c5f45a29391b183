"""GET /_connectql/files/{token}: the bytes behind a `Binary` result's download link.

Public like a presigned URL (the signed, expiring token is the capability), so a browser's
`<audio src>` works without headers. The upstream chose the content type, so the answer is an
attachment that browsers neither sniff nor render as a page of this origin.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectql.connectors.files import media_type
from connectql.resolvers.downloads import PATH_PREFIX, DownloadRefused, DownloadStore

CODES = {404: "NOT_FOUND", 410: "EXPIRED"}


def download_route(store: Callable[[], DownloadStore]) -> Route:
    """The route serving `store()` (looked up per request: the runtime owns the store)."""

    async def download(request: Request) -> Response:
        try:
            body = store().get(request.path_params["token"])
        except DownloadRefused as exc:
            error = {"code": CODES[exc.status], "message": exc.message}
            return Response(orjson.dumps(error), exc.status, media_type="application/json")
        name = body.filename or "file"
        ascii_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
        headers = {
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        }
        return Response(body.data, media_type=media_type(body.content_type), headers=headers)

    return Route(PATH_PREFIX + "{token}", download, methods=["GET"])
