"""`connectql serve --workers N`: N server processes sharing one port.

The supervisor (the process the operator started) checks that the port is free, keeps it
reserved, serves the demo upstream when there is one, and runs each worker as
`python -m connectql.cli.main serve …` with a `WorkerContext` in its environment. Each
worker binds the port itself with SO_REUSEPORT, so the kernel spreads connections over
them, and runs its own runtime and uvicorn.

Worker 1 starts alone: it creates the state directory's files (secrets key, admin key) and
migrates the registry before the others read them, and a broken config is reported once.
A worker that dies unexpectedly is started again after a pause that doubles while it keeps
dying young. SIGTERM and SIGINT are forwarded to every worker; the supervisor exits when
they all have, non-zero if they could not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from connectql.errors import ConfigError
from connectql.server.worker import WORKER_ENV, DemoUpstream, WorkerContext

log = logging.getLogger("connectql.workers")

FIRST_RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
STABLE_SECONDS = 30.0
"""A worker that ran this long before dying is restarted after the first delay again."""
PARENT_CHECK_SECONDS = 1.0


def worker_count(value: int | str) -> int:
    """`auto` is the number of CPUs this process may run on."""
    if value == "auto":
        return len(os.sched_getaffinity(0))
    return int(value)


def _address(host: str, port: int) -> tuple[socket.AddressFamily, Any]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    return family, address


def shared_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` that other processes of this user may bind too
    (SO_REUSEPORT): the kernel spreads new connections over those that listen."""
    family, address = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """The port, checked free (a plain bind fails if anyone listens there, SO_REUSEPORT or
    not) and then held by a shared socket that does not listen: no connection waits in it,
    and no other program takes the port while workers restart. Port 0 picks a free one."""
    family, address = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise ConfigError(
                f"cannot listen on {host}:{port}: {reason} (is another server running there? "
                "choose another with --port)"
            ) from None
        port = probe.getsockname()[1]
    return shared_socket(host, port)


def run_worker(app: Any, host: str, port: int, ready_fd: int, **options: Any) -> None:
    """Serve `app` under uvicorn on this worker's own SO_REUSEPORT socket; tell the supervisor
    through `ready_fd` once connections are accepted; stop when the supervisor is gone."""
    import uvicorn

    sock = shared_socket(host, port)
    config = uvicorn.Config(app, host=host, port=port, **options)
    server = uvicorn.Server(config)
    parent = os.getppid()

    async def serve() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        pending_fd = ready_fd
        while not serving.done():
            if pending_fd >= 0 and server.started:
                os.write(pending_fd, b"1")
                os.close(pending_fd)
                pending_fd = -1
            if os.getppid() != parent:  # the supervisor was killed: don't serve orphaned
                server.should_exit = True
            wait = 0.05 if pending_fd >= 0 else PARENT_CHECK_SECONDS
            await asyncio.wait({serving}, timeout=wait)
        serving.result()

    # uvicorn raises the signal that stopped it again once it has shut down: for SIGINT
    # that is a KeyboardInterrupt, which here means only "done" (as in uvicorn.run)
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=config.get_loop_factory()) as runner,
    ):
        runner.run(serve())


class Supervisor:
    def __init__(
        self,
        count: int,
        serve_args: Callable[[int], Sequence[str]],
        *,
        demo: DemoUpstream | None = None,
    ) -> None:
        self.count = count
        self._serve_args = serve_args
        """`connectql serve` options for a worker, given the port."""
        self._demo = demo
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._stop = asyncio.Event()
        self._interrupted = False
        """Stopped by a signal (not because a worker could not start)."""

    async def run(self, host: str, port: int, on_ready: Callable[[int], None]) -> int:
        """Serve until a signal; the exit code. `on_ready(port)` once all workers are up."""
        holder = reserve_port(host, port)
        port = holder.getsockname()[1]
        cleanup: Callable[[], Awaitable[None]] | None = None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._interrupt, sig)
        try:
            with tempfile.TemporaryDirectory(prefix="connectql-") as scratch:
                demo_config = None
                if self._demo is not None:
                    demo_config, cleanup = await self._demo()
                contexts = {
                    index: WorkerContext(
                        index=index,
                        peers=Path(scratch, "events"),
                        metrics=Path(scratch, "metrics"),
                        demo=demo_config,
                    )
                    for index in range(1, self.count + 1)
                }
                for directory in ("events", "metrics"):
                    os.mkdir(Path(scratch, directory))
                args = [*self._serve_args(port)]
                code = await self._start_all(contexts, args)
                if code is not None:
                    return code
                contexts[1].all_started.touch()
                log.info("%d workers serving on %s:%d", self.count, host, port)
                on_ready(port)
                await asyncio.gather(*(self._keep(ctx, args) for ctx in contexts.values()))
                return 0
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            holder.close()
            if cleanup is not None:
                await cleanup()

    async def _start_all(self, contexts: dict[int, WorkerContext], args: list[str]) -> int | None:
        """Worker 1, then the others together; an exit code if one could not start."""
        first = await self._spawn(contexts[1], args)
        started = [first]
        if first and not self._stop.is_set():
            rest = [self._spawn(ctx, args) for index, ctx in contexts.items() if index > 1]
            started += await asyncio.gather(*rest)
        if all(started) and not self._stop.is_set():
            return None
        self._forward(signal.SIGTERM)
        codes = [await process.wait() for process in self._processes.values()]
        if self._interrupted:
            return 0
        failed = next(code for ok, code in zip(started, codes, strict=False) if not ok)
        log.error("a worker could not start (exit code %d); stopping", failed)
        return failed if failed > 0 else 1

    async def _spawn(self, context: WorkerContext, args: list[str]) -> bool:
        """Start worker `context.index`; whether it accepts connections (False: it exited,
        or the supervisor is stopping)."""
        if self._stop.is_set():
            return False
        readable, writable = os.pipe()
        context = WorkerContext(
            index=context.index,
            peers=context.peers,
            metrics=context.metrics,
            demo=context.demo,
            ready_fd=writable,
        )
        env = {
            **os.environ,
            WORKER_ENV: context.to_env(),
            "PROMETHEUS_MULTIPROC_DIR": str(context.metrics),
        }
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "connectql.cli.main",
                "serve",
                *args,
                env=env,
                pass_fds=(writable,),
                process_group=0,  # a terminal's Ctrl-C reaches the supervisor, which forwards it
            )
        finally:
            os.close(writable)
        self._processes[context.index] = process
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(readable, "rb", 0)
        )
        try:
            ready = await reader.read(1)  # b"" when the worker exits without being ready
        finally:
            transport.close()
        if ready:
            log.info("worker %d (pid %d) is ready", context.index, process.pid)
        return bool(ready)

    async def _keep(self, context: WorkerContext, args: list[str]) -> None:
        """Wait for the worker to exit; start it again unless the supervisor is stopping."""
        failures = 0
        while True:
            process = self._processes[context.index]
            since = time.monotonic()
            code = await process.wait()
            self._gone(context, process.pid)
            if self._stop.is_set():
                return
            failures = 0 if time.monotonic() - since > STABLE_SECONDS else failures + 1
            delay = min(MAX_RESTART_DELAY, FIRST_RESTART_DELAY * 2 ** (failures - 1))
            log.warning(
                "worker %d (pid %d) exited unexpectedly (%s); starting it again in %.1f s",
                context.index,
                process.pid,
                f"signal {-code}" if code < 0 else f"exit code {code}",
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
            await self._spawn(context, args)

    def _gone(self, context: WorkerContext, pid: int) -> None:
        """Forget a dead worker's live gauges and event socket."""
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, str(context.metrics))
        with contextlib.suppress(FileNotFoundError):
            (context.peers / f"{pid}.sock").unlink()

    def _interrupt(self, sig: signal.Signals) -> None:
        self._interrupted = True
        self._forward(sig)

    def _forward(self, sig: signal.Signals) -> None:
        """Stop: pass the signal on to every worker (a second one makes them hurry)."""
        self._stop.set()
        for process in self._processes.values():
            if process.returncode is None:
                # os.kill, not process.send_signal: Popen polls first, and would reap a worker
                # that just exited under asyncio's child watcher, which then reports exit
                # code 255 instead of the worker's. An unreaped worker's pid is not reused.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)
