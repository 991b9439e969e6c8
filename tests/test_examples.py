"""The examples run as documented, against SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Backend

REPO = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("script", ["quickstart.py", "quickstart_async.py"])
def test_quickstart_remembers_across_processes(
    backend: Backend, script: str, tmp_path: Path
) -> None:
    if backend.name == "sqlite-memory":
        url = []  # the documented default: a SQLite file in the working directory
    else:
        url = ["--url", backend.async_url if "async" in script else backend.sync_url]
    first = _run(script, *url, cwd=tmp_path)
    assert "always sunny in sf" in first
    assert "question 1 in this conversation" in first
    assert "holds 4 messages" in first
    second = _run(script, *url, "--question", "and in nyc?", cwd=tmp_path)
    assert "cloudy in nyc" in second
    assert "question 2 in this conversation" in second
    assert "holds 8 messages" in second
