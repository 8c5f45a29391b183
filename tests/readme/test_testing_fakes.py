"""The README's "Testing your app against the prebuilt fakes" example, run as a user would:
written to a file of its own and run by pytest in a subprocess, with no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.readme_blocks import block


def test_the_example_passes_as_a_users_test_file(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(block("testing-fakes"), encoding="utf-8")
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
