"""What the benchmarks share: a free port on 127.0.0.1, the demo bookstore upstream in a child
process, and waiting until a server answers.

    python benchmarks/local_servers.py PORT API_KEY   # the bookstore alone, until interrupted
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def bookstore(api_key: str) -> Iterator[str]:
    """The demo bookstore in a child process, for as long as the block runs: its URL."""
    port = free_port()
    child = subprocess.Popen([sys.executable, str(Path(__file__)), str(port), api_key])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=10)


async def wait_up(url: str, headers: Mapping[str, str] | None = None) -> None:
    """Until `url` answers with anything but a server error (20 s at most)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            try:
                async with http.get(url, headers=headers) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def _serve_bookstore(port: int, api_key: str) -> None:
    from aiohttp import web

    from connectql.demo.upstream import create_bookstore_app

    app = create_bookstore_app(api_key)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    _serve_bookstore(int(sys.argv[1]), sys.argv[2])
