"""A real Apollo Gateway for the federation tests: pinned npm packages, cached; the node
script that runs them (gateway.mjs); the gateway as a process; composition, timed.

The packages (PINS, and every transitive one by gateway-lock.json, kept beside this file) are
installed once with `npm ci` into ~/.cache/connectql-gateway (or $CONNECTQL_GATEWAY_CACHE):

    python -m tests.federation.gateway            # install (CI does, before pytest)
    python -m tests.federation.gateway --relock   # after changing PINS: rewrite the lockfile
    python -m tests.federation.gateway compose '{"a": "http://127.0.0.1:8001/graphql"}'

Tests start it with the `gateway` fixture (tests/federation/conftest.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.npm import locked, npm
from tests.processes import START_TIMEOUT, ServeProcess

PINS = {
    "@apollo/composition": "2.14.4",
    "@apollo/gateway": "2.14.4",
    "@apollo/server": "5.5.1",
    "graphql": "16.15.0",
}
"""Exact versions. @apollo/composition is @apollo/gateway's own (it depends on that exact
version): pinned beside it so that compose mode runs the very code the gateway does."""
CACHE = Path(
    os.environ.get("CONNECTQL_GATEWAY_CACHE") or Path.home() / ".cache" / "connectql-gateway"
)
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "gateway.mjs"
LOCKFILE = HERE / "gateway-lock.json"
NODE_MAJOR = 20
"""@apollo/server 5 wants Node.js 20 or later."""
NPM_FLAGS = ("--no-audit", "--no-fund", "--loglevel=error")


class GatewayUnavailable(Exception):
    """node/npm or the installed packages are missing: the caller skips or fails."""


class IntrospectionFailed(Exception):
    """compose(): a subgraph did not give its SDL (or node failed before composing)."""


# --- the cache ------------------------------------------------------------------------------


def manifest() -> str:
    """The package.json installed in the cache, from PINS (deterministic)."""
    body = {
        "name": "connectql-gateway",
        "private": True,
        "description": "Apollo Gateway for connectql's federation tests (tests/federation)",
        "dependencies": dict(sorted(PINS.items())),
    }
    return json.dumps(body, indent=2) + "\n"


def _stamp() -> str:
    """What the cache must have been installed from: PINS and the lockfile."""
    text = manifest() + (LOCKFILE.read_text() if LOCKFILE.exists() else "")
    return hashlib.sha256(text.encode()).hexdigest()


def _installed_version(package: str, root: Path = CACHE) -> str | None:
    path = root / "node_modules" / package / "package.json"
    with contextlib.suppress(OSError, ValueError):
        return str(json.loads(path.read_text()).get("version"))
    return None


def _ready(root: Path = CACHE) -> bool:
    stamp = root / ".installed"
    return (
        stamp.exists()
        and stamp.read_text().strip() == _stamp()
        and all(_installed_version(p, root) == v for p, v in PINS.items())
    )


def _node_problem() -> str | None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm are not on PATH (apt-get install nodejs npm)"
    try:
        version = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"node --version failed: {exc}"
    major = int(version.lstrip("v").split(".")[0] or 0)
    if major < NODE_MAJOR:
        return f"node {version} is too old: @apollo/server 5 wants {NODE_MAJOR}+"
    return None


def unavailable() -> str | None:
    """Why the gateway cannot run here (None: it can); nothing is installed."""
    if problem := _node_problem():
        return problem
    if not _ready():
        return f"no gateway packages in {CACHE}: run `python -m tests.federation.gateway`"
    return None


def prepare(root: Path = CACHE) -> Path:
    """Install PINS from the lockfile into `root` (`npm ci`, npm's own cache first) unless
    it is there already; the node_modules' parent."""
    if problem := _node_problem():
        raise GatewayUnavailable(problem)
    if _ready(root):
        return root
    with locked(root / ".lock"):
        if not _ready(root):
            (root / ".installed").unlink(missing_ok=True)
            (root / "package.json").write_text(manifest())
            shutil.copyfile(LOCKFILE, root / "package-lock.json")
            npm("ci", "--prefer-offline", *NPM_FLAGS, cwd=root, unavailable=GatewayUnavailable)
            wrong = {p: _installed_version(p, root) for p, v in PINS.items()}
            wrong = {p: v for p, v in wrong.items() if v != PINS[p]}
            if wrong:
                raise GatewayUnavailable(f"npm ci installed {wrong}, not {PINS}")
            (root / ".installed").write_text(_stamp() + "\n")
    return root


def relock() -> None:
    """Resolve PINS anew and write gateway-lock.json (no registry URLs in it: it installs
    from whatever registry npm is configured with)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "package.json").write_text(manifest())
        npm(
            "install",
            "--package-lock-only",
            "--omit-lockfile-registry-resolved",
            *NPM_FLAGS,
            cwd=folder,
            unavailable=GatewayUnavailable,
        )
        shutil.copyfile(folder / "package-lock.json", LOCKFILE)


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Subgraph:
    """How the gateway reaches one subgraph."""

    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Sent with every request to it, introspection included (an API key)."""
    forward: tuple[str, ...] = ()
    """Headers of the client's request copied onto the subgraph's (per-caller credentials)."""
    sdl: str | None = None
    """compose mode only: this SDL instead of introspecting `url`."""

    def config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"url": self.url} if self.url else {}
        if self.headers:
            entry["headers"] = dict(self.headers)
        if self.forward:
            entry["forward"] = list(self.forward)
        if self.sdl is not None:
            entry["sdl"] = self.sdl
        return entry


Subgraphs = Mapping[str, "Subgraph | str"]
"""name → Subgraph, or just its URL."""


def subgraphs_json(subgraphs: Subgraphs) -> str:
    """The JSON gateway.mjs reads from $GATEWAY_SUBGRAPHS or --subgraphs."""
    return json.dumps(
        {
            name: entry if isinstance(entry, str) else entry.config()
            for name, entry in subgraphs.items()
        }
    )


def _events(text: str) -> list[dict[str, Any]]:
    """The JSON lines gateway.mjs printed (anything else in the output is skipped)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and "event" in event:
                    found.append(event)
    return found


# --- composition only -----------------------------------------------------------------------


@dataclass(frozen=True)
class Composition:
    """One `gateway.mjs compose` run: what @apollo/composition made of the subgraphs."""

    supergraph_sdl: str | None
    errors: list[dict[str, Any]]
    """{code, message} each."""
    hints: list[dict[str, Any]]
    """{code, level, message, coordinate} each."""
    fetch_ms: float
    """Introspecting every subgraph (`_service { sdl }`), in parallel."""
    compose_ms: list[float]
    """composeServices, once per repeat: the first includes V8's warm-up."""
    wall_s: float
    """The whole node process: start, imports, introspection, every composition."""

    def summary(self) -> str:
        first, *rest = self.compose_ms
        warm = f", then median {statistics.median(rest):.0f} ms of {len(rest)}" if rest else ""
        return (
            f"composition {first:.0f} ms{warm}; introspection {self.fetch_ms:.0f} ms; "
            f"node process {self.wall_s:.1f} s; {len(self.errors)} errors, "
            f"{len(self.hints)} hints"
        )


def compose(
    subgraphs: Subgraphs, *, repeat: int = 1, root: Path = CACHE, timeout: float = 300.0
) -> Composition:
    """Introspect and compose once (`repeat` compositions of the same SDLs, to time them);
    raises IntrospectionFailed when a subgraph cannot be introspected. Blocking: from async
    code (subgraphs served by the same loop), call it through asyncio.to_thread."""
    with tempfile.TemporaryDirectory() as scratch:
        # A file, not $GATEWAY_SUBGRAPHS: SDLs given inline outgrow an environment variable.
        config = Path(scratch) / "subgraphs.json"
        config.write_text(subgraphs_json(subgraphs))
        started = time.perf_counter()
        done = subprocess.run(
            [
                *("node", str(SCRIPT), "compose", "--repeat", str(repeat)),
                *("--subgraphs", f"@{config}", "--modules", str(root)),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    wall = time.perf_counter() - started
    fatal = [e for e in _events(done.stdout) if e["event"] == "fatal"]
    if fatal or not done.stdout.strip():
        message = fatal[0]["message"] if fatal else done.stderr.strip()[-2000:]
        raise IntrospectionFailed(f"gateway.mjs compose exited {done.returncode}: {message}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Composition(
        supergraph_sdl=result["supergraph_sdl"],
        errors=result["errors"],
        hints=result["hints"],
        fetch_ms=result["fetch_ms"],
        compose_ms=result["compose_ms"],
        wall_s=wall,
    )


async def measure_composition(subgraphs: Subgraphs, *, repeat: int = 10) -> Composition:
    """compose() from async code: the subgraphs may be served by this very event loop."""
    return await asyncio.to_thread(compose, subgraphs, repeat=repeat)


# --- the gateway as a process ---------------------------------------------------------------


class GatewayProcess(ServeProcess):
    """`node gateway.mjs serve` in its own process group, its output in cwd/gateway.log; the
    port is the one it bound (it is given 0), known once it listens."""

    def __init__(
        self,
        cwd: Path,
        subgraphs: Subgraphs,
        *,
        poll_ms: int | None = None,
        root: Path = CACHE,
    ) -> None:
        super().__init__(cwd, env={"GATEWAY_SUBGRAPHS": subgraphs_json(subgraphs)})
        self.port = 0  # ServeProcess picked one for connectql: node binds port 0 instead
        self.url = ""
        self.log = cwd / "gateway.log"
        self.offset = 0
        poll = ["--poll-ms", str(poll_ms)] if poll_ms is not None else []
        self.command = [
            "node",
            str(SCRIPT),
            "serve",
            "--port",
            "0",
            "--modules",
            str(root),
            *poll,
        ]

    def spawn(self) -> None:
        # Events are read from here on: a log kept from an earlier run says nothing of this one.
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until it prints that it listens (bounded); fail with its output if it exits."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listening = self.last("listening")
            if listening is not None:
                self.url = str(listening["url"]).rstrip("/")
                self.port = int(self.url.rpartition(":")[2])
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the gateway exited ({self.process.returncode}):\n{self.output[-4000:]}"
                )
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"the gateway did not listen in {timeout:.0f} s:\n{self.output[-4000:]}"
        )

    @property
    def events(self) -> list[dict[str, Any]]:
        """What this run printed (gateway.mjs's JSON lines), in order."""
        if not self.log.exists():
            return []
        return _events(self.log.read_bytes()[self.offset :].decode(errors="replace"))

    def last(self, event: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e["event"] == event), None)

    @property
    def compositions(self) -> list[dict[str, Any]]:
        """Every composition the gateway ran: {ms, subgraphs, errors, hints, …} each."""
        return [e for e in self.events if e["event"] == "composition"]


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.federation.gateway", description=__doc__)
    parser.add_argument("--relock", action="store_true", help="rewrite gateway-lock.json")
    sub = parser.add_subparsers(dest="command")
    timing = sub.add_parser("compose", help="introspect, compose, print timings and hints")
    timing.add_argument(
        "subgraphs", help='JSON or @FILE: {"name": "URL" | {"url", "headers", "sdl"}}'
    )
    timing.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    if args.relock:
        relock()
    root = prepare()
    if args.command == "compose":
        text = args.subgraphs
        given = json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)
        subgraphs = {
            name: entry
            if isinstance(entry, str)
            else Subgraph(**{**entry, "forward": tuple(entry.get("forward", ()))})
            for name, entry in given.items()
        }
        composition = compose(subgraphs, repeat=args.repeat)
        for item in composition.errors + composition.hints:
            print(f"[{item['code']}] {item['message']}")
        print(composition.summary())
        return 1 if composition.errors else 0
    print(f"gateway ready in {root}: {', '.join(f'{p}@{v}' for p, v in PINS.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
