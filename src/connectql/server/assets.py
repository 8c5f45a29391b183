"""The browser assets GraphiQL and /docs load, served from the package itself.

They are vendored (scripts/vendor_assets.py) into `static/NAME-VERSION/`, so the pages work
offline and no request leaves the server's origin; `static/manifest.json` holds each file's
SRI hash, which the pages put in their `integrity=` attributes.
"""

from __future__ import annotations

import json
import os
from functools import cache
from html import escape
from pathlib import Path
from typing import TypedDict

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
PREFIX = "/_connectql/static"
MANIFEST = "manifest.json"


class Package(TypedDict):
    version: str
    integrity: str
    """The npm tarball's sha512, as the registry gives it."""
    files: dict[str, str]
    """{file name: SRI sha256}"""


@cache
def manifest() -> dict[str, Package]:
    loaded: dict[str, Package] = json.loads((STATIC / MANIFEST).read_text("utf-8"))
    return loaded


def url(root_path: str, package: str, file: str) -> str:
    version = manifest()[package]["version"]
    return f"{root_path}{PREFIX}/{package}-{version}/{file}"


def integrity(package: str, file: str) -> str:
    return manifest()[package]["files"][file]


def script(root_path: str, package: str, file: str) -> str:
    src = escape(url(root_path, package, file))
    return f'<script src="{src}" integrity="{integrity(package, file)}"></script>'


def stylesheet(root_path: str, package: str, file: str) -> str:
    href = escape(url(root_path, package, file))
    return f'<link rel="stylesheet" href="{href}" integrity="{integrity(package, file)}">'


class StaticAssets(StaticFiles):
    """Files of the package with a Cache-Control: by default the vendored ones, cached for
    good (a new version is a new folder, so a new URL)."""

    def __init__(
        self, directory: Path = STATIC, cache_control: str = "public, max-age=31536000, immutable"
    ) -> None:
        super().__init__(directory=directory)
        self.cache_control = cache_control

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = self.cache_control
        return response
