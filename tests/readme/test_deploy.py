"""The README's install, development, Docker and compose blocks.

There is no Docker engine on these machines, so the image is checked the way it runs: the
Dockerfile's CMD with its ENV and the README's `-e`/`-v` options, volumes mapped to
directories (the config one mounted read-only), as the container would run it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.processes import Processes, clean_env, free_port, read_only
from tests.readme.test_quickstart import bash
from tests.readme_blocks import README, block
from tests.support import execute

ROOT = README.parent


def _commands(text: str) -> list[str]:
    """Each command of a shell block: comments dropped, `&&` chains split."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("  #")[0].strip()
        found += [part.strip() for part in line.split("&&") if part.strip()]
    return found


def _ci_commands() -> set[str]:
    ci = (ROOT / ".ci" / "run").read_text()
    return {" ".join(c.replace("--quiet ", "").split()) for c in _commands(ci)}


def test_the_install_and_test_commands_are_what_ci_runs() -> None:
    for command in _commands(block("install")):
        assert command in _ci_commands(), command


def test_the_development_commands(tmp_path: Path) -> None:
    lint, types, one_folder, bench, schema = block("development").strip().splitlines()
    for command in _commands(lint) + _commands(types):
        assert command in _ci_commands(), command
    env = clean_env({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})

    def run(command: str, *extra: str) -> str:
        argv = [*shlex.split(command.split("#")[0]), *extra]
        done = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        return done.stdout

    assert "tests/spec" in run(one_folder, "--collect-only", "-q")
    figures = tmp_path / "bench.json"
    printed = run(bench, "--requests", "200", "--concurrency", "4", "--json", str(figures))
    assert "connectql/baseline" in printed  # the benchmark ran and printed its table
    assert json.loads(figures.read_text())["summary"]
    # the README's command, told to check instead of write: a test never edits the sources
    assert run(schema, "--check").startswith("unchanged:")


def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split()[0], line.partition(" ")[2].strip())
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_dockerfile_caches_dependencies_and_keeps_state_in_a_volume() -> None:
    steps = _dockerfile()
    runs = [arg for op, arg in steps if op == "RUN"]
    copies = [arg for op, arg in steps if op == "COPY"]
    # the dependency wheels are built before the sources are copied in
    assert copies.index("src ./src") > 0
    first_run = next(i for i, (op, _) in enumerate(steps) if op == "RUN")
    assert steps.index(("COPY", "src ./src")) > first_run
    assert "pip wheel" in runs[0]
    env = dict(pair.split("=", 1) for op, arg in steps if op == "ENV" for pair in shlex.split(arg))
    assert env["CONNECTQL_STATE_DIR"] == "/data"
    assert ("VOLUME", '["/data"]') in steps
    (healthcheck,) = [arg for op, arg in steps if op == "HEALTHCHECK"]
    assert "--start-period=" in healthcheck
    assert "/healthz" in healthcheck


def _run_options(line: str) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The -e and -v options of a `docker run` line, and the command after the image."""
    argv = shlex.split(line)[2:]
    env: dict[str, str] = {}
    volumes: dict[str, str] = {}
    rest: list[str] = []
    while argv:
        arg = argv.pop(0)
        if arg == "-e":
            name, _, value = argv.pop(0).partition("=")
            env[name] = value or os.environ.get(name, f"{name.lower()}-from-the-host")
        elif arg == "-v":
            source, target, *_ = argv.pop(0).split(":")
            volumes[target] = source
        elif arg == "-p":
            argv.pop(0)
        elif arg == "--rm":
            continue
        else:
            rest = argv  # after the image name
            break
    return env, volumes, rest


async def test_the_docker_run_lines_as_the_container_runs_them(
    tmp_path: Path, processes: Processes
) -> None:
    steps = _dockerfile()
    image_env = dict(
        pair.split("=", 1) for op, arg in steps if op == "ENV" for pair in shlex.split(arg)
    )
    cmd = json.loads(next(arg for op, arg in steps if op == "CMD"))
    assert cmd[:2] == ["connectql", "serve"]
    serve_args = cmd[2:]
    serve_args[serve_args.index("--host") + 1] = "127.0.0.1"  # tests listen on loopback only
    port_at = serve_args.index("--port") + 1

    lines = [c for c in _commands(block("docker")) if c.startswith("docker run")]
    demo, configured, show_key = lines
    volumes_root = tmp_path / "volumes"
    pwd = tmp_path / "pwd"
    pwd.mkdir()
    (pwd / "connectql.yaml").write_text(
        yaml.safe_dump(
            {"connectors": [{"builtin": "github", "config": {"token": "{env.GITHUB_TOKEN}"}}]}
        )
    )

    def host_path(source: str) -> Path:
        if source == '"$PWD"' or source == "$PWD":
            return pwd
        path = volumes_root / source  # a named volume
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def run(line: str) -> tuple[str, dict[str, Path]]:
        env, volumes, _ = _run_options(line)
        mounts = {target: host_path(source) for target, source in volumes.items()}

        def on_host(value: str) -> str:
            for target, path in mounts.items():
                value = value.replace(target, str(path))
            return value

        full_env = {k: on_host(v) for k, v in {**image_env, **env}.items()}
        args = list(serve_args)
        args[port_at] = str(free_port())
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        server = processes.serve(
            home,
            *args[: port_at - 1],
            env={**full_env, "HOME": str(home)},
            port=int(args[port_at]),
            wrapper=read_only(pwd) if "/config" in mounts else (),
        )
        await server.start()
        return server.url, mounts

    url, mounts = await run(demo)
    state = mounts["/data"]
    assert (state / "connectql.admin-key").exists()
    await processes.started[-1].stop()

    url, _ = await run(configured)
    listed = await execute(url, "{ connectors { name } }", key=None)
    assert {"name": "github"} in listed.data["connectors"]
    assert sorted(p.name for p in pwd.iterdir()) == ["connectql.yaml"]  # read-only: untouched

    # The last line prints the admin key kept in the volume: it manages both runs' servers.
    _, volumes, command = _run_options(show_key)
    assert command[0] == "cat"
    key = Path(command[1].replace("/data", str(host_path(volumes["/data"])))).read_text().strip()
    created = await execute(url, 'mutation { stopConnector(name: "nope") { __typename } }', key=key)
    assert created.errors[0]["extensions"]["code"] == "NOT_FOUND"  # admitted, then refused


def _compose() -> list[str]:
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    message = "neither `docker compose` nor `docker-compose` is installed"
    if os.environ.get("CONNECTQL_REQUIRE_BROWSER") == "1":  # set by .ci/run, which installs it
        pytest.fail(message)
    pytest.skip(message)


def test_the_compose_file_validates_with_the_readme_commands(tmp_path: Path) -> None:
    compose = _compose()
    *exports, config_and_up = block("compose").strip().splitlines()
    values = bash("\n".join([*exports, "echo $CONNECTQL_SECRET_KEY $CONNECTQL_API_KEYS"]), ROOT)
    secret, keys = values.split()
    assert re.fullmatch(r"admin:[\w-]{16,}", keys)
    assert config_and_up.startswith("docker compose config --quiet && docker compose up")
    env = clean_env({"CONNECTQL_SECRET_KEY": secret, "CONNECTQL_API_KEYS": keys})
    done = subprocess.run(
        [*compose, "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    replicas = [services[name] for name in ("connectql-1", "connectql-2")]
    for replica in replicas:
        assert replica["environment"]["CONNECTQL_SECRET_KEY"] == secret
        assert replica["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert replica["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert replicas[0]["environment"] == replicas[1]["environment"]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server connectql-1:8000" in nginx
    assert "server connectql-2:8000" in nginx
    missing = subprocess.run(
        [*compose, "config", "--quiet"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0
    assert "CONNECTQL_SECRET_KEY" in missing.stderr  # a missing secret is named
