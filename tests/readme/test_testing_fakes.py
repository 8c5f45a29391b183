"""The README's "Testing your app against the prebuilt fakes" example, run as a user would:
written to a file of its own and run by pytest in a subprocess, with no network.

The lead wires EXAMPLE to the README block (`block("testing-fakes")`); until then it is the
block's text, inline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = """
import pytest
import pytest_asyncio

from connectql import UpstreamError, open_connector
from connectql.testing import FakeUpstream, Fault
from connectql.testing.fakes.openrouter import (
    DEFAULT_API_KEY, OpenRouterState, create_openrouter_app,
)


async def summarize(llm, text):  # the code under test: yours
    reply = await llm.call(
        "chatCompletion", model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": text}],
    )
    return reply["content"]


@pytest_asyncio.fixture
async def openrouter():
    state = OpenRouterState()  # its models, knobs (rate_limit_next, credits…) and records
    async with FakeUpstream(create_openrouter_app(state)) as fake:  # 127.0.0.1, a free port
        config = {"base_url": f"{fake.url}/api/v1", "api_key": DEFAULT_API_KEY}
        async with open_connector("openrouter", config=config) as llm:
            yield llm, fake, state
    assert state.violations == []  # every request fitted OpenRouter's published schema


@pytest.mark.asyncio
async def test_summarize(openrouter):
    llm, fake, state = openrouter
    assert await summarize(llm, "hello") == "echo: hello"
    assert fake.count("POST", "/api/v1/chat/completions") == 1  # the call log
    assert fake.requests[-1].json()["messages"][0]["content"] == "hello"


@pytest.mark.asyncio
async def test_summarize_survives_a_rate_limit(openrouter):
    llm, fake, state = openrouter
    state.rate_limit_next = 1  # one 429, then the window resets
    assert await summarize(llm, "hello") == "echo: hello"
    assert fake.count() == 2


@pytest.mark.asyncio
async def test_summarize_reports_an_outage(openrouter):
    llm, fake, state = openrouter
    fake.faults.add(Fault(status=502), times=None)  # any status, delay, reset or bad body
    with pytest.raises(UpstreamError) as caught:
        await summarize(llm, "hello")
    assert caught.value.status == 502
    assert fake.count() == 1  # a chat completion is a POST: never retried on a 5xx
"""


def test_the_example_passes_as_a_users_test_file(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(EXAMPLE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
