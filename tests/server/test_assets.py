"""The vendored browser assets: what ships is what the manifest pins, the pages load only
those (each with its integrity hash) from this server, and the wheel carries them."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import aiohttp
import pytest

from connectql.server import assets

ROOT = Path(__file__).parent.parent.parent
TAG = re.compile(r"<(?:script|link)\b[^>]*>")


def _sri(data: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def _listed() -> dict[str, str]:
    """{path under static/: SRI hash} as the manifest has them."""
    return {
        f"{name}-{entry['version']}/{file}": digest
        for name, entry in assets.manifest().items()
        for file, digest in entry["files"].items()
    }


def test_shipped_files_are_exactly_the_manifests() -> None:
    shipped = {
        path.relative_to(assets.STATIC).as_posix(): _sri(path.read_bytes())
        for path in assets.STATIC.rglob("*")
        if path.is_file() and path.name != assets.MANIFEST
    }
    assert shipped == _listed()


def test_every_package_ships_its_licence() -> None:
    for name, entry in assets.manifest().items():
        assert "LICENSE" in entry["files"], name


@pytest.mark.parametrize("path", ["/graphql", "/docs"])
async def test_pages_load_only_our_assets_with_integrity(server: str, path: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(server + path, headers={"Accept": "text/html"}) as resp:
            html = await resp.text()
        tags = [t for t in TAG.findall(html) if "src=" in t or 'rel="stylesheet"' in t]
        assert len(tags) >= 2
        for tag in tags:
            url = re.search(r'(?:src|href)="([^"]+)"', tag)
            integrity = re.search(r'integrity="([^"]+)"', tag)
            assert url, tag
            assert integrity, tag
            assert url[1].startswith(assets.PREFIX + "/"), tag
            async with http.get(server + url[1]) as resp:
                assert resp.status == 200
                assert _sri(await resp.read()) == integrity[1]
                assert "immutable" in resp.headers["Cache-Control"]


def test_wheel_carries_the_assets(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("connectql-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"connectql/server/static/{p}" for p in [*_listed(), assets.MANIFEST]}
    assert expected <= names
    assert "connectql/server/graphiql.html" in names
