"""`connectql serve --workers N` as operators run it: N processes on one port that serve the
same connectors, hear each other's changes, add up their metrics, and stop together.

Which worker answers is chosen by the kernel per connection, so the tests hold plain
HTTP/1.1 keep-alive connections and ask each one's /readyz which worker holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from connectql.testing import FakeUpstream
from tests.processes import Processes, ServeProcess, free_port, run_cli
from tests.readme_blocks import block
from tests.support import ADMIN_KEY, DEMO_KEY, bookstore_spec_text, eventually

CREATE = "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) { __typename } }"
BOOKS = '{ bookstore { book(id: "1") { title } } }'
CONNECT_ATTEMPTS = 200
"""Fresh connections tried to reach one worker (the kernel picks one per connection)."""


def _request(
    sock: socket.socket, method: str, path: str, payload: Any = None, key: str | None = None
) -> tuple[int, Any]:
    """One HTTP/1.1 request on a kept-alive connection; the status and the JSON body."""
    body = orjson.dumps(payload) if payload is not None else b""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    if payload is not None:
        head.append("Content-Type: application/json")
    if key:
        head.append(f"Authorization: Bearer {key}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    header, _, rest = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", header).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        rest += chunk
    return int(header.split()[1]), orjson.loads(rest)


def _on_worker(port: int, index: int) -> tuple[socket.socket, int]:
    """A connection held by worker `index`, and that worker's pid."""
    for _ in range(CONNECT_ATTEMPTS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        try:
            _, ready = _request(sock, "GET", "/readyz")
        except BaseException:
            sock.close()
            raise
        if ready["worker"]["index"] == index:
            return sock, int(ready["worker"]["pid"])
        sock.close()
    raise AssertionError(f"no connection reached worker {index} in {CONNECT_ATTEMPTS} tries")


@contextlib.contextmanager
def _connections(port: int, count: int) -> Iterator[list[tuple[socket.socket, int]]]:
    held: list[tuple[socket.socket, int]] = []
    try:
        for index in range(1, count + 1):
            held.append(_on_worker(port, index))
        yield held
    finally:
        for sock, _ in held:
            sock.close()


async def _serving(server: ServeProcess, count: int) -> ServeProcess:
    """`server` once all its workers accept connections (/readyz answers with the first)."""
    await server.start()
    await eventually(lambda: f"{count} workers serving" in server.output)
    return server


async def _graphql(sock: socket.socket, query: str, variables: Any = None) -> Any:
    """POST /graphql on `sock`, in a thread: the fake upstream answers on this event loop."""
    payload = {"query": query, "variables": variables}
    status, body = await asyncio.to_thread(_request, sock, "POST", "/graphql", payload, ADMIN_KEY)
    assert status == 200, body
    return body


def _counter(metrics: str, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{selector}\}} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _metrics(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received.partition(b"\r\n\r\n")[2].decode()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_workers_serve_one_port_and_hear_each_others_changes(
    tmp_path: Path, bookstore: FakeUpstream, processes: Processes
) -> None:
    config = {
        # the connections held below may idle while the machine is busy
        "server": {"workers": 2, "timeouts": {"keep_alive": 600, "headers": 600}},
        "egress": {"allow": ["127.0.0.1"]},  # the fake upstream
        "registry": {"reconcile_seconds": 3600},  # only the workers' events carry changes
    }
    (tmp_path / "connectql.yaml").write_text(yaml.safe_dump(config))
    env = {"CONNECTQL_API_KEYS": f"admin:{ADMIN_KEY}"}
    server = await _serving(processes.serve(tmp_path, env=env), 2)
    with _connections(server.port, 2) as [(first, first_pid), (second, second_pid)]:
        assert first_pid != second_pid
        # a subscription held by worker 2 ...
        ws, _ = _on_worker(server.port, 2)
        transport = WebsocketsTransport(
            url=f"ws://127.0.0.1:{server.port}/graphql",
            init_payload={"authorization": f"Bearer {ADMIN_KEY}"},
            connect_args={"sock": ws},  # this connection, held by worker 2, is upgraded
        )
        async with Client(transport=transport) as session:
            changes = session.subscribe(gql("subscription { schemaChanged { connector } }"))
            heard = asyncio.ensure_future(anext(changes))
            await asyncio.sleep(0.5)  # the subscription is registered before the change
            # ... hears of a connector created through worker 1
            config_values = {"base_url": bookstore.url, "api_key": DEMO_KEY}
            created = await _graphql(
                first, CREATE, {"s": bookstore_spec_text(), "c": config_values}
            )
            assert created.get("errors") is None, created
            event = await asyncio.wait_for(heard, 30)
            await changes.aclose()
            assert event == {"schemaChanged": {"connector": "*"}}
        # worker 2 serves the new connector's fields
        answer = await _graphql(second, BOOKS)
        assert answer == {"data": {"bookstore": {"book": {"title": "Book 1"}}}}
        for sock in (first, first, second):
            assert (await _graphql(sock, BOOKS)).get("errors") is None
        # an API key created through worker 1 is accepted by worker 2 (with no restart)
        body = {"name": "dashboard", "role": "viewer"}
        status, created_key = _request(first, "POST", "/api/keys", body, ADMIN_KEY)
        assert status == 201, created_key
        payload = {"query": "{ schemaVersion }"}

        def accepted() -> bool:
            status, _ = _request(second, "POST", "/graphql", payload, created_key["key"])
            return status == 200

        await eventually(accepted)
    # /metrics adds up both workers' calls (each flushes its figures every second)
    calls = {"connector": "bookstore", "operation": "book"}
    await eventually(lambda: _counter(_metrics(server.port), "connectql_calls_total", **calls) == 4)
    merged = _metrics(server.port)
    assert f'connectql_schema_version{{pid="{first_pid}"}}' in merged
    assert f'connectql_schema_version{{pid="{second_pid}"}}' in merged
    assert _counter(merged, "connectql_upstream_latency_ms_count", connector="bookstore") == 4
    assert server.process is not None
    assert await server.stop() == 0
    assert not _alive(first_pid)
    assert not _alive(second_pid)


async def test_one_demo_upstream_a_restarted_worker_and_a_clean_stop(
    tmp_path: Path, processes: Processes
) -> None:
    # the README's command: `--workers auto`, one worker per CPU this process may use
    command = shlex.split(block("workers"), comments=True)
    assert command[:2] == ["connectql", "serve"], command
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("--workers auto starts one worker on a machine with one CPU")
    env = {"CONNECTQL_API_KEYS": f"admin:{ADMIN_KEY}"}
    server = await _serving(processes.serve(tmp_path, *command[2:], env=env), cores)
    sock, _ = _on_worker(server.port, 1)
    with sock:
        mutation = (
            "mutation($b: BookstoreBookInput!) { bookstore { createBook(input: $b) { id } } }"
        )
        book = {"title": "Shared", "genre": "POETRY", "year": 2001, "price": 9.5, "authorId": "1"}
        created = await _graphql(sock, mutation, {"b": book})
    assert created.get("errors") is None, created
    query = f'{{ bookstore {{ book(id: "{created["data"]["bookstore"]["createBook"]["id"]}") '
    query += "{ title } } }"
    sock, killed = _on_worker(server.port, 2)
    with sock:  # the other worker calls the same demo upstream
        assert (await _graphql(sock, query))["data"] == {"bookstore": {"book": {"title": "Shared"}}}
    os.kill(killed, signal.SIGKILL)

    def restarted() -> bool:
        try:
            sock, pid = _on_worker(server.port, 2)
        except OSError:  # a connection the killed worker's socket had queued is reset
            return False
        except AssertionError:  # not back yet: worker 1 takes every connection
            return False
        sock.close()
        return pid != killed

    await eventually(restarted)
    assert f"worker 2 (pid {killed}) exited unexpectedly (signal 9)" in server.output
    assert server.process is not None
    sock, pid = _on_worker(server.port, 1)
    sock.close()
    os.kill(server.process.pid, signal.SIGTERM)
    assert await asyncio.to_thread(server.process.wait, 30) == 0
    assert not _alive(pid)
    assert "Traceback" not in server.output


async def test_a_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--workers", "2", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use (is another "
        "server running there? choose another with --port)"
    )


async def test_a_worker_that_cannot_start_stops_the_supervisor_with_one_error(
    tmp_path: Path,
) -> None:
    config = {"connectors": [{"spec": "missing.yaml"}]}
    (tmp_path / "connectql.yaml").write_text(yaml.safe_dump(config))
    port = str(free_port())
    # a worker starts (and fails) before the command ends: minutes on a busy machine
    done = run_cli("serve", "--workers", "2", "--port", port, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr  # as with one process: the spec is at fault
    assert done.stderr.count("missing.yaml") == 1, done.stderr
    assert "a worker could not start (exit code 1)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_worker_count_is_refused(tmp_path: Path, value: str) -> None:
    done = run_cli("serve", "--workers", value, cwd=tmp_path)
    assert done.returncode == 2
    assert f"{value!r} is not a number of processes (1 or more) or auto" in done.stderr
