"""benchmarks/bench_demo.py runs end to end with a few requests: its servers start, every
scenario prints its rows, the upstream calls per query are the expected ones and the profiles
are written. Its numbers are never asserted."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_demo.py"
CALLS = {"one-call": 1, "nested-50": 2, "nested-50-slow": 2, "workers-2": 2}


def run_bench(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """The script in its own process group (its servers too), all killed if it overruns."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.timeout(400)
def test_every_scenario_runs_with_the_expected_upstream_calls(tmp_path: Path) -> None:
    figures, profiles = tmp_path / "bench.json", tmp_path / "profiles"
    args = ("--requests", "20", "--concurrency", "4", "--json", str(figures))
    done = run_bench(*args, "--profile", str(profiles), timeout=360)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]

    result = json.loads(figures.read_text())
    ran = set(CALLS) - set(result["skipped"])
    assert ran >= {"one-call", "nested-50", "nested-50-slow"}
    table = done.stdout.splitlines()
    for scenario in ran:
        rows = {line.split()[1] for line in table if line.startswith(f"{scenario} ")}
        assert rows >= {"connectql", "baseline", "connectql/baseline"}, done.stdout
        for role in ("connectql", "baseline"):
            calls = result["summary"][scenario][role]["upstream_calls_per_query"]["median"]
            assert calls == CALLS[scenario], (scenario, role)
    if "workers-2" in result["skipped"]:
        assert f"workers-2: skipped, {result['skipped']['workers-2']}" in done.stdout
    assert not [w for w in result["warnings"] if "answer" in w or "upstream calls" in w]

    for scenario in ("one-call", "nested-50"):
        summary = (profiles / f"{scenario}.txt").read_text()
        assert "top 25 by own time" in summary
        assert (profiles / f"{scenario}.speedscope.json").stat().st_size > 0


def _bench_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH.parent))  # as when run: its folder is on the path
    spec = importlib.util.spec_from_file_location("bench_demo", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_cpu_time_counts_the_whole_process_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent that only waits, its child busy: the child's CPU time is the tree's."""
    bench = _bench_module(monkeypatch)
    busy_child = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while 1: pass'])"
    parent = subprocess.Popen([sys.executable, "-c", busy_child], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while bench.tree_cpu_seconds([parent.pid]) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(bench.process_tree([parent.pid])) == 2
        assert bench.tree_cpu_seconds([parent.pid]) >= 0.5
        assert bench.tree_cpu_seconds([parent.pid]) > 2 * _own_cpu_seconds(parent.pid)
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def _own_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
