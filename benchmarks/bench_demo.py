"""Throughput, latency and CPU per query of connectql on the demo connector, against a
hand-written baseline in the same run.

    python benchmarks/bench_demo.py [--requests 2000] [--concurrency 16] [--repeat 3]
                                    [--scenario nested-50 ...] [--json out.json] [--profile DIR]

Processes besides this one (the load generator): the bookstore upstream (counting calls, with
a settable latency), `connectql serve` with a config file pointing at it (as users run it),
and the baseline: a plain aiohttp handler making the same upstream calls for the same answers.
Scenarios, each served by both:

- `one-call`: `book(id:)`, one upstream call;
- `nested-50`: a page of 50 books with their authors: 2 upstream calls (the page, one batch);
- `nested-50-slow`: the same with the upstream sleeping 5 ms per request;
- `workers-2`: `nested-50` on `connectql serve --workers 2` (and two baseline processes on
  one port), compared with one process measured right before it, since the machine's pace
  drifts over seconds (skipped, saying why, when the CLI has no `--workers`).

Printed per scenario and server: req/s, p50/p99 latency, upstream calls per query, CPU time
per query of the server's process tree (from /proc, steadier than req/s on a shared
machine) and the load generator's CPU use; then connectql/baseline ratios (and 2 workers/1).
With `--repeat`, runs interleave and cells show the median (min-max). `--profile DIR` adds a
py-spy recording of the connectql server in `one-call` and `nested-50` (unmeasured extra runs):
`<scenario>.speedscope.json` and `<scenario>.txt`, the top functions by own and total time.
`--json` adds the upstream's CPU and new connections per query.

Linux only (/proc). Numbers compare within one run on one machine; never assert them in tests.
On a machine other work keeps busy, `workers-2` shows the share of the cores two processes
win, not how connectql scales: read it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import httptools
from aiohttp import web

from local_servers import free_port

API_KEY = "bench-key-0123456789"
JSON = "application/json"
HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})
UPSTREAM_KEY = {"X-Api-Key": API_KEY}
ONE_CALL = '{ bookstore { book(id: "7") { id title genre year } } }'
NESTED_50 = "{ bookstore { books(first: 50) { nodes { id title author { id name } } } } }"
SLOW_UPSTREAM_MS = 5.0
START_TIMEOUT = 90.0
"""Seconds a server may take to answer after starting: generous, the machine is shared."""
LOADGEN_BUSY = 90.0
"""Percent of one core above which the load generator may be what limits req/s."""
CONNECTQL = Path(sys.executable).parent / "connectql"
PY_SPY = Path(sys.executable).parent / "py-spy"
TOP_FUNCTIONS = 25


@dataclass(frozen=True)
class Scenario:
    name: str
    query: str
    upstream_calls: int
    """Per query, for connectql and the baseline alike."""
    upstream_ms: float = 0.0
    connectql: str = "connectql"
    baseline: str = "baseline"
    scales: str | None = None
    """The scenario whose req/s this one's is divided by (more workers against one)."""
    profiled: bool = False


SCENARIOS = (
    Scenario("one-call", ONE_CALL, 1, profiled=True),
    Scenario("nested-50", NESTED_50, 2, profiled=True),
    Scenario("nested-50-slow", NESTED_50, 2, upstream_ms=SLOW_UPSTREAM_MS),
    Scenario(
        "workers-2",
        NESTED_50,
        2,
        connectql="connectql-2",
        baseline="baseline-2",
        scales="nested-50",
    ),
)


# --- the upstream and the baseline (each runs in its own process) ------------------------


def run_upstream(port: int) -> None:
    """The demo bookstore behind a lean HTTP/1.1 front that counts calls and the connections
    they came on (`GET /_calls`) and sleeps `PUT /_latency?ms=` before each answer.

    Each distinct GET (URL and API key) is answered by the bookstore once, then replayed
    from memory, the same status, headers and bytes, by a protocol that parses with
    httptools and writes prebuilt bytes: the upstream shares the two cores with the servers
    measured, and as an aiohttp app re-encoding 50 books per call it used about half as much
    CPU per query as the baseline itself, which capped what two workers could show."""
    import uvloop  # uvicorn's; the cheapest event loop here

    with suppress(KeyboardInterrupt):
        uvloop.run(_serve_upstream(port))


async def _serve_upstream(port: int) -> None:
    from http import HTTPStatus

    from connectql.demo.upstream import create_bookstore_app

    runner = web.AppRunner(create_bookstore_app(API_KEY), access_log=None)
    await runner.setup()
    inner = free_port()
    await web.TCPSite(runner, "127.0.0.1", inner).start()
    session = aiohttp.ClientSession(f"http://127.0.0.1:{inner}", auto_decompress=False)
    state = {"calls": 0, "connections": 0, "latency": 0.0}
    answered: dict[tuple[bytes, bytes], bytes] = {}
    kept = ("Content-Type", "Link")

    def response(status: int, body: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        head += [f"{name}: {value}" for name, value in headers]
        head += [f"Content-Length: {len(body)}", "\r\n"]
        return "\r\n".join(head).encode() + body

    async def answer(method: str, url: bytes, headers: dict[str, str], body: bytes) -> bytes:
        if url.startswith(b"/_calls"):
            counts = {"calls": state["calls"], "connections": state["connections"]}
            return response(200, json.dumps(counts).encode(), [("Content-Type", JSON)])
        if url.startswith(b"/_latency"):
            state["latency"] = float(url.split(b"ms=")[1]) / 1000
            return response(200, b"{}", [("Content-Type", JSON)])
        state["calls"] += 1
        if state["latency"]:
            await asyncio.sleep(state["latency"])
        key = (url, headers.get("x-api-key", "").encode())
        if method == "GET" and key in answered:
            return answered[key]
        sent = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
        async with session.request(method, url.decode(), headers=sent, data=body) as r:
            replay = [(h, r.headers[h]) for h in kept if h in r.headers]
            made = response(r.status, await r.read(), replay)
        if method == "GET":
            answered[key] = made
        return made

    class Front(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
            self.counted = False
            self.parser = httptools.HttpRequestParser(self)
            self.turn: asyncio.Future[None] | None = None  # answers go out in order

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_begin(self) -> None:
            self.url, self.body = b"", b""
            self.headers: dict[str, str] = {}

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers[name.decode().lower()] = value.decode()

        def on_body(self, body: bytes) -> None:
            self.body += body

        def on_message_complete(self) -> None:
            method = self.parser.get_method().decode()
            if not self.counted and not self.url.startswith(b"/_"):
                self.counted = True
                state["connections"] += 1
            key = (self.url, self.headers.get("x-api-key", "").encode())
            ready = answered.get(key) if method == "GET" and not state["latency"] else None
            if ready is not None and (self.turn is None or self.turn.done()):
                state["calls"] += 1  # the common case, answered at once
                self.transport.write(ready)
                return
            made = asyncio.ensure_future(answer(method, self.url, self.headers, self.body))
            self.turn = asyncio.ensure_future(self.send_after(self.turn, made))

        async def send_after(self, before: asyncio.Future[None] | None, made: Any) -> None:
            if before is not None:
                await before
            self.transport.write(await made)

    server = await asyncio.get_running_loop().create_server(Front, "127.0.0.1", port)
    try:
        await server.serve_forever()
    finally:
        await session.close()
        await runner.cleanup()


def run_baseline(port: int, upstream: str, reuse_port: bool) -> None:
    """What a careful engineer would write by hand for the same two queries."""
    import orjson

    session: aiohttp.ClientSession | None = None
    headers = {"X-Api-Key": API_KEY}

    async def graphql(request: web.Request) -> web.Response:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession()
        query = (await request.json())["query"]
        if "books(first: 50)" in query:
            async with session.get(f"{upstream}/books?per_page=50&page=1", headers=headers) as r:
                books = await r.json()
            ids = ",".join(sorted({b["author_id"] for b in books}))
            async with session.get(f"{upstream}/authors?ids={ids}", headers=headers) as r:
                authors = {a["id"]: a for a in (await r.json())["authors"]}
            nodes = [
                {
                    "id": b["id"],
                    "title": b["title"],
                    "author": {"id": b["author_id"], "name": authors[b["author_id"]]["name"]},
                }
                for b in books
            ]
            data: Any = {"bookstore": {"books": {"nodes": nodes}}}
        else:
            async with session.get(f"{upstream}/books/7", headers=headers) as r:
                b = await r.json()
            data = {
                "bookstore": {
                    "book": {
                        "id": b["id"],
                        "title": b["title"],
                        "genre": b["genre"].upper().replace("-", "_"),
                        "year": b["year"],
                    }
                }
            }
        return web.Response(body=orjson.dumps({"data": data}), content_type="application/json")

    async def close(_: web.Application) -> None:
        if session is not None:
            await session.close()

    app = web.Application()
    app.router.add_post("/graphql", graphql)
    app.on_cleanup.append(close)
    web.run_app(
        app, host="127.0.0.1", port=port, access_log=None, print=None, reuse_port=reuse_port
    )


# --- processes and their CPU time -------------------------------------------------------


def _proc_stats() -> dict[int, tuple[int, int]]:
    """Every process's (parent pid, utime+stime+cutime+cstime in clock ticks)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and ")"
        found[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return found


def process_tree(roots: Sequence[int], stats: dict[int, tuple[int, int]] | None = None) -> set[int]:
    stats = _proc_stats() if stats is None else stats
    tree = {pid for pid in roots if pid in stats}
    while True:
        more = {pid for pid, (ppid, _) in stats.items() if ppid in tree} - tree
        if not more:
            return tree
        tree |= more


def tree_cpu_seconds(roots: Sequence[int]) -> float:
    """CPU time (user + system) used so far by `roots` and all their descendants (reaped
    children count in their parent's cutime/cstime)."""
    stats = _proc_stats()
    ticks = sum(stats[pid][1] for pid in process_tree(roots, stats))
    return ticks / os.sysconf("SC_CLK_TCK")


def _started(pid: int) -> int | None:
    """When `pid` started (clock ticks after boot), or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2 :].split()[19])


def own_cpu() -> float:
    """This process's CPU time (user + system) so far."""
    times = os.times()
    return times.user + times.system


@dataclass
class Server:
    url: str
    processes: list[subprocess.Popen[bytes]]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    async def wait_up(self, http: aiohttp.ClientSession, path: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
            try:
                async with http.get(f"{self.url}{path}") as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.url}{path} did not answer in {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        """SIGINT, then SIGKILL to whatever of the process tree is left after 15 s."""
        tree = {pid: _started(pid) for pid in process_tree(self.pids)}
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for proc in self.processes:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for pid, started in tree.items():
            if started is not None and _started(pid) == started:  # not a reused pid
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for proc in self.processes:
            proc.wait()


def serve_role(role: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", role, *args])


def connectql_workers_flag() -> str | None:
    """Why `connectql serve --workers` can't be run, or None when it can."""
    if not CONNECTQL.exists():
        return f"{CONNECTQL} is missing: pip install -e ."
    done = subprocess.run(
        [str(CONNECTQL), "serve", "--help"], capture_output=True, text=True, timeout=120
    )
    if "--workers" not in done.stdout:
        return "this connectql has no `serve --workers` option"
    return None


def start_connectql(config: Path, port: int, workers: int) -> Server:
    if not CONNECTQL.exists():
        raise SystemExit(f"{CONNECTQL} is missing: install the project (pip install -e .)")
    argv = [str(CONNECTQL), "serve", "--config", str(config), "--stateless"]
    argv += ["--port", str(port), "--log-level", "warning"]
    if workers != 1:
        argv += ["--workers", str(workers)]
    return Server(f"http://127.0.0.1:{port}", [subprocess.Popen(argv, cwd=config.parent)])


def write_config(directory: Path, upstream: str) -> Path:
    from connectql.demo.runner import BOOKSTORE_SPEC

    config = directory / "connectql.yaml"
    connector = {"spec": str(BOOKSTORE_SPEC), "config": {"base_url": upstream, "api_key": API_KEY}}
    config.write_text(json.dumps({"connectors": [connector]}))  # JSON is YAML
    return config


@contextmanager
def servers(wanted: set[str], workdir: Path) -> Iterator[dict[str, Server]]:
    """Start the upstream and the servers `wanted` needs; stop them all on the way out."""
    started: dict[str, Server] = {}
    try:
        port = free_port()
        upstream = f"http://127.0.0.1:{port}"
        started["upstream"] = Server(upstream, [serve_role("upstream", str(port))])
        config = write_config(workdir, upstream)
        for name in sorted(wanted):
            port = free_port()
            if name.startswith("connectql"):
                workers = 2 if name == "connectql-2" else 1
                started[name] = start_connectql(config, port, workers)
            else:
                copies = 2 if name == "baseline-2" else 1
                reuse = str(copies > 1)
                started[name] = Server(
                    f"http://127.0.0.1:{port}",
                    [serve_role("baseline", str(port), upstream, reuse) for _ in range(copies)],
                )
        yield started
    finally:
        for server in started.values():
            server.stop()


# --- the load generator -----------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of the load generator, a request at a time, its
    responses parsed by httptools (uvicorn's C parser): an aiohttp client spends about as
    much CPU per request as the baseline server, and this machine has two cores to share."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.body = bytearray()
        self.answered: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        assert self.answered is not None
        self.answered.set_result((self.parser.get_status_code(), bytes(self.body)))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answered is not None and not self.answered.done():
            self.answered.set_exception(ConnectionError(f"the server closed the connection: {exc}"))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.body.clear()
        self.answered = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answered


def graphql_request(port: int, query: str) -> bytes:
    body = json.dumps({"query": query}).encode()
    head = f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def load(port: int, query: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    """`total` POSTs of `query` to 127.0.0.1:`port`/graphql over `concurrency` connections;
    req/s and each request's latency in ms. A status other than 200 or an error stops it."""
    request = graphql_request(port, query)
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        transport, connection = await loop.create_connection(_Connection, "127.0.0.1", port)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                status, answer = await connection.send(request)
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200 or b'"errors"' in answer:
                    raise RuntimeError(f"port {port}: {status} {answer[:500]!r}")
        finally:
            transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started), latencies


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


class Bench:
    def __init__(
        self, http: aiohttp.ClientSession, running: dict[str, Server], requests: int, c: int
    ) -> None:
        self.http = http
        self.running = running
        self.requests = requests
        self.concurrency = c
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"warning: {message}", file=sys.stderr)

    async def upstream_calls(self) -> tuple[int, int]:
        """Requests the upstream has served, and connections they came on."""
        url = f"{self.running['upstream'].url}/_calls"
        async with self.http.get(url, headers=UPSTREAM_KEY) as resp:
            counts = await resp.json()
        return int(counts["calls"]), int(counts["connections"])

    async def set_upstream_latency(self, ms: float) -> None:
        url = f"{self.running['upstream'].url}/_latency"
        async with self.http.put(url, params={"ms": str(ms)}, headers=UPSTREAM_KEY) as resp:
            resp.raise_for_status()

    def port(self, server: str) -> int:
        return int(self.running[server].url.rsplit(":", 1)[1])

    async def answer(self, server: str, query: str) -> Any:
        url = f"{self.running[server].url}/graphql"
        async with self.http.post(url, json={"query": query}) as resp:
            return await resp.json()

    async def check_answers(self, scenario: Scenario) -> None:
        ours = await self.answer(scenario.connectql, scenario.query)
        theirs = await self.answer(scenario.baseline, scenario.query)
        if ours != theirs:
            self.warn(f"{scenario.name}: connectql and the baseline answer differently")

    def cpu_seconds(self, server: str) -> tuple[float, float, float]:
        """CPU time so far of `server`'s process tree, the upstream's and the load generator."""
        upstream = self.running["upstream"].pids
        return tree_cpu_seconds(self.running[server].pids), tree_cpu_seconds(upstream), own_cpu()

    async def measure(self, server: str, query: str) -> dict[str, float]:
        port = self.port(server)
        await load(port, query, max(self.concurrency, self.requests // 10), self.concurrency)
        counted, before = await self.upstream_calls(), self.cpu_seconds(server)
        started = time.perf_counter()
        rps, latencies = await load(port, query, self.requests, self.concurrency)
        wall = time.perf_counter() - started
        cpu, upstream_cpu, own = (
            b - a for a, b in zip(before, self.cpu_seconds(server), strict=True)
        )
        calls, connections = (
            b - a for a, b in zip(counted, await self.upstream_calls(), strict=True)
        )
        return {
            "req_per_s": rps,
            "p50_ms": pct(latencies, 50),
            "p99_ms": pct(latencies, 99),
            "upstream_calls_per_query": calls / self.requests,
            "upstream_connections_per_query": connections / self.requests,
            "cpu_ms_per_query": cpu * 1000 / self.requests,
            "upstream_cpu_ms_per_query": upstream_cpu * 1000 / self.requests,
            "loadgen_cpu_percent": own / wall * 100,
        }

    async def scenario(self, scenario: Scenario) -> dict[str, dict[str, Any]]:
        await self.set_upstream_latency(scenario.upstream_ms)
        try:
            await self.check_answers(scenario)
            result: dict[str, dict[str, Any]] = {}
            single = next((s for s in SCENARIOS if s.name == scenario.scales), None)
            for role in ("connectql", "baseline"):
                many = getattr(scenario, role)
                if single is not None:  # one process right before: the machine's pace drifts
                    one = await self.measure(getattr(single, role), scenario.query)
                    result[role] = await self.measure(many, scenario.query)
                    result.setdefault("scaling", {})[role] = ratio(
                        result[role]["req_per_s"], one["req_per_s"]
                    )
                else:
                    result[role] = await self.measure(many, scenario.query)
        finally:
            await self.set_upstream_latency(0)
        for role in ("connectql", "baseline"):
            run = result[role]
            if run["loadgen_cpu_percent"] > LOADGEN_BUSY:
                self.warn(
                    f"{scenario.name}/{role}: the load generator used "
                    f"{run['loadgen_cpu_percent']:.0f}% of a core and may be the bottleneck"
                )
            if run["upstream_calls_per_query"] != scenario.upstream_calls:
                self.warn(
                    f"{scenario.name}/{role}: {run['upstream_calls_per_query']:g} upstream calls"
                    f" per query, {scenario.upstream_calls} expected"
                )
        result["ratio"] = {
            metric: ratio(result["connectql"][metric], result["baseline"][metric])
            for metric in ("req_per_s", "p50_ms", "p99_ms", "cpu_ms_per_query")
        }
        return result

    async def profile(self, scenario: Scenario, directory: Path) -> None:
        """py-spy on connectql's process tree while it serves `scenario` (not measured)."""
        if not PY_SPY.exists():
            raise SystemExit(f"{PY_SPY} is missing: pip install py-spy (in the dev extras)")
        recording = directory / f"{scenario.name}.speedscope.json"
        spy = await asyncio.create_subprocess_exec(
            str(PY_SPY), "record", "--pid", str(self.running[scenario.connectql].pids[0]),
            "--subprocesses", "--rate", "200", "--format", "speedscope",
            "--output", str(recording),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert spy.stdout is not None
        try:
            await asyncio.wait_for(spy.stdout.readline(), 30)  # "Sampling process ..."
            await load(
                self.port(scenario.connectql), scenario.query, self.requests, self.concurrency
            )
        finally:
            if spy.returncode is None:
                spy.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(spy.communicate(), 120)
        if spy.returncode != 0 or not recording.exists():
            raise SystemExit(f"py-spy failed ({spy.returncode}): {output.decode()[-2000:]}")
        title = f"{scenario.name}: {scenario.query}\nconnectql serve, {self.requests} requests"
        title += f" at c={self.concurrency}"
        (directory / f"{scenario.name}.txt").write_text(summarise_profile(recording, title))


# --- profiles ---------------------------------------------------------------------------


def _short(path: str) -> str:
    """A frame's file from its package on (`graphql/execution/execute.py`)."""
    for marker in ("site-packages/", "/src/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    if "/lib/python3." in path:  # the standard library
        return path.rsplit("/lib/python3.", 1)[1].split("/", 1)[-1]
    return path


def _package(short_path: str) -> str:
    """What a frame's time is charged to: a library, or a subpackage of connectql."""
    parts = short_path.split("/")
    return "/".join(parts[:2]) if parts[0] == "connectql" and len(parts) > 2 else parts[0]


def summarise_profile(recording: Path, title: str, top: int = TOP_FUNCTIONS) -> str:
    """A py-spy speedscope recording as text, like `py-spy top`: the `top` functions by own
    time and by total time (a function counts once per sample however deep it recurses;
    the entry chain every request runs under is left out), and own time per package."""
    data = json.loads(recording.read_text())
    frames = data["shared"]["frames"]
    names = [f"{f['name']} ({_short(f['file'])})" for f in frames]
    packages = [_package(_short(f["file"])) for f in frames]
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    weight_sum = 0.0
    # --subprocesses roots each stack in a frame naming the process: not a function
    dropped = {i for i, f in enumerate(frames) if not f["file"]}
    for profile in data["profiles"]:
        for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
            stack = [i for i in sample if i not in dropped]
            if not stack:
                continue
            weight_sum += weight
            own[names[stack[-1]]] += weight  # the stack runs from the root to the leaf
            by_package[packages[stack[-1]]] += weight
            for name in {names[i] for i in stack}:
                total[name] += weight

    def share(counter: Counter[str], name: str) -> float:
        return 100 * counter[name] / weight_sum if weight_sum else 0.0

    inner = Counter({name: t for name, t in total.items() if share(total, name) < 95})
    lines = [title, f"{weight_sum:.2f} s of samples (idle excluded)", ""]
    for label, ranked in (("own", own), ("total (below 95%)", inner)):
        lines.append(f"top {top} by {label} time:  own%  total%  function (file)")
        for name, _ in ranked.most_common(top):
            lines.append(f"  {share(own, name):6.1f} {share(total, name):7.1f}  {name}")
        lines.append("")
    lines.append(f"top {top} packages by own time:")
    lines += [f"  {share(by_package, p):6.1f}  {p}" for p, _ in by_package.most_common(top)]
    return "\n".join(lines) + "\n"


# --- the run and its table --------------------------------------------------------------


def ratio(a: float, b: float) -> float | None:
    """a/b, or None when b is 0 (CPU time comes in clock ticks: a short run may show none)."""
    return a / b if b else None


def _spread(values: list[float | None]) -> dict[str, float] | None:
    known = [v for v in values if v is not None]
    if not known:
        return None
    return {"median": statistics.median(known), "min": min(known), "max": max(known)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario and row: each metric's median, min and max over the repeats."""
    summary: dict[str, Any] = {}
    for name in runs[0]:
        rows = {row for run in runs for row in run[name]}
        summary[name] = {
            row: {
                metric: _spread([run[name][row][metric] for run in runs])
                for metric in runs[0][name][row]
            }
            for row in sorted(rows)
        }
    return summary


def table(summary: dict[str, Any], repeats: int) -> str:
    def cell(
        stat: dict[str, float] | None, fmt: str, suffix: str = "", spread: bool = False
    ) -> str:
        if stat is None:
            return ""
        text = f"{stat['median']:{fmt}}{suffix}"
        if spread and repeats > 1:
            text += f" ({stat['min']:{fmt}}-{stat['max']:{fmt}})"
        return text

    columns = (
        "scenario",
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "calls/q",
        "CPU ms/q",
        "loadgen CPU",
    )
    rows: list[tuple[str, ...]] = [columns]
    for name, result in summary.items():
        for role in ("connectql", "baseline"):
            r = result[role]
            rows.append((
                name, role,
                cell(r["req_per_s"], ".0f", spread=True),
                cell(r["p50_ms"], ".2f"), cell(r["p99_ms"], ".2f"),
                cell(r["upstream_calls_per_query"], ".2f"),
                cell(r["cpu_ms_per_query"], ".2f", spread=True),
                cell(r["loadgen_cpu_percent"], ".0f", "%"),
            ))  # fmt: skip
        ratio = result["ratio"]
        rows.append((
            name, "connectql/baseline",
            cell(ratio["req_per_s"], ".2f", "x", spread=True),
            cell(ratio["p50_ms"], ".2f", "x"), cell(ratio["p99_ms"], ".2f", "x"), "",
            cell(ratio["cpu_ms_per_query"], ".2f", "x", spread=True), "",
        ))  # fmt: skip
        for role, scaling in result.get("scaling", {}).items():
            rows.append(
                (name, f"{role} req/s vs 1", cell(scaling, ".2f", "x", spread=True)) + ("",) * 5
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


async def bench(
    scenarios: list[Scenario], requests: int, concurrency: int, repeats: int, profile: Path | None
) -> dict[str, Any]:
    skipped = {}
    if any(s.name == "workers-2" for s in scenarios) and (why := connectql_workers_flag()):
        skipped["workers-2"] = why
        print(f"workers-2: skipped, {why}", file=sys.stderr)
        scenarios = [s for s in scenarios if s.name not in skipped]
    wanted = {server for s in scenarios for server in (s.connectql, s.baseline)}
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-demo-") as workdir,
        servers(wanted, Path(workdir)) as running,
    ):
        connector = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(connector=connector) as http:
            await running["upstream"].wait_up(http, "/_calls")
            for name in sorted(wanted):
                await running[name].wait_up(
                    http, "/readyz" if name.startswith("connectql") else "/graphql"
                )
            measuring = Bench(http, running, requests, concurrency)
            for repeat in range(repeats):
                run: dict[str, Any] = {}
                for scenario in scenarios:
                    print(f"run {repeat + 1}/{repeats}: {scenario.name}", file=sys.stderr)
                    run[scenario.name] = await measuring.scenario(scenario)
                runs.append(run)
            if profile:
                profile.mkdir(parents=True, exist_ok=True)
                for scenario in scenarios:
                    if scenario.profiled:
                        print(f"profiling {scenario.name} into {profile}", file=sys.stderr)
                        await measuring.profile(scenario, profile)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "repeats": repeats,
        "skipped": skipped,
        "warnings": measuring.warnings,
        "summary": summarise(runs),
        "runs": runs,
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        role, port = sys.argv[2], int(sys.argv[3])
        if role == "upstream":
            run_upstream(port)
        else:
            run_baseline(port, sys.argv[4], reuse_port=sys.argv[5] == "True")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per measured run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs of each scenario")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.name for s in SCENARIOS],
        help="run only these (repeatable) [default: all]",
    )
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles to this directory")
    args = parser.parse_args()
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    if any(s.scales for s in chosen):  # a scaling scenario needs the one it is compared with
        chosen = [s for s in SCENARIOS if s in chosen or any(s.name == c.scales for c in chosen)]
    import uvloop  # the load generator's loop: its CPU shares the cores with the servers

    result = uvloop.run(bench(chosen, args.requests, args.concurrency, args.repeat, args.profile))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result["summary"], args.repeat))
    for name, why in result["skipped"].items():
        print(f"{name}: skipped, {why}")
    for warning in result["warnings"]:
        print(f"warning: {warning}")


if __name__ == "__main__":
    main()
