"""The README's "Coming from the previous connector system": the old system's four usage
examples as connectql runs them, each README block run as a script in a subprocess against
real servers (the OpenAI fake, a fake of the old example's API, `connectql serve`)."""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path

from aiohttp import web

from connectql import open_connector
from connectql.testing import FakeUpstream
from connectql.testing.fakes.openai import DEFAULT_API_KEY, OpenAIState, create_openai_app
from tests.processes import Processes, clean_env, run_cli
from tests.readme_blocks import block

ADMIN_KEY = "legacy-admin-key-0123456789"
SCRIPT_TIMEOUT = 120.0


async def run_script(text: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run `text` as `python example.py` in `cwd`; its stdout (it must exit 0)."""
    cwd.mkdir(exist_ok=True)
    script = cwd / "example.py"
    script.write_text(text, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=cwd,
        env=clean_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), SCRIPT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_prebuilt_connector_from_python(tmp_path: Path) -> None:
    async with FakeUpstream(create_openai_app(OpenAIState())) as openai:
        env = {"OPENAI_API_KEY": DEFAULT_API_KEY, "OPENAI_BASE_URL": f"{openai.url}/v1"}
        out = await run_script(block("legacy-python-connector"), tmp_path, env)
    assert out.startswith("echo: Hello! ")  # the fake echoes; then the total tokens
    assert int(out.split()[-1]) > 0
    [sent] = openai.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["Authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert sent.json()["messages"] == [{"role": "user", "content": "Hello!"}]


def weather_api(key: str) -> web.Application:
    async def current(request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != key:
            return web.json_response({"error": "bad key"}, status=401)
        return web.json_response({"city": request.query["q"], "temp_c": 11.5})

    app = web.Application()
    app.router.add_get("/current", current)
    return app


async def test_building_a_connector_from_python(tmp_path: Path) -> None:
    await run_script(block("legacy-builder"), tmp_path)

    checked = run_cli("validate", "weather_api.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    docs = (tmp_path / "weather_api.md").read_text()
    assert "#### `getCurrentWeather`" in docs
    assert "`X-API-Key` header" in docs
    client = tmp_path / "clients" / "weather_api_client"
    assert (client / "client.py").is_file()
    imported = await run_script(
        "import weather_api_client\nprint(weather_api_client.__all__)\n",
        tmp_path,
        {"PYTHONPATH": str(tmp_path / "clients")},
    )
    assert "WeatherApiClient" in imported
    # and the spec the builder wrote calls the API as described
    async with FakeUpstream(weather_api("weather-key-0123")) as upstream:
        config = {"base_url": upstream.url, "api_key": "weather-key-0123"}
        async with open_connector(tmp_path / "weather_api.yaml", config) as weather:
            assert await weather.call("getCurrentWeather", q="London") == {
                "city": "London",
                "temp_c": 11.5,
            }
    assert upstream.requests[0].query["q"] == "London"


def example_api(key: str) -> web.Application:
    """The API of the old example: GET /data?limit=N behind an X-API-Key."""

    async def data(request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != key:
            return web.json_response({"error": "bad key"}, status=401)
        limit = int(request.query.get("limit", "100"))
        return web.json_response([{"id": i} for i in range(min(limit, 25))])

    app = web.Application()
    app.router.add_get("/data", data)
    return app


async def test_the_management_api_takes_the_old_bodies(
    tmp_path: Path, processes: Processes
) -> None:
    (tmp_path / "connectql.yaml").write_text("egress: {allow: [127.0.0.1]}\n")
    server = processes.serve(
        tmp_path, "--config", "connectql.yaml", env={"CONNECTQL_API_KEYS": f"admin:{ADMIN_KEY}"}
    )
    await server.start()
    async with FakeUpstream(example_api("test-key")) as upstream:
        env = {
            "CONNECTQL_URL": server.url,
            "CONNECTQL_API_KEY": ADMIN_KEY,
            "API_BASE_URL": upstream.url,
        }
        out = await run_script(block("legacy-rest"), tmp_path / "client", env)
    ok, data = out.split(" ", 1)
    assert ok == "True"
    assert ast.literal_eval(data) == [{"id": i} for i in range(10)]
    [sent] = upstream.requests
    assert (sent.path, sent.query["limit"]) == ("/data", "10")
    assert sent.headers["X-API-Key"] == "test-key"
    assert "test-key" not in server.output  # the secret is not logged either


async def test_mapping_a_record(tmp_path: Path) -> None:
    text = block("legacy-mapping")
    expected = text.strip().splitlines()[-1].removeprefix("# ")
    assert (await run_script(text, tmp_path)).strip() == expected
