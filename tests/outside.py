"""Running a command as a newcomer would: in another environment, with
nothing of this test run's interpreter leaking into it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

# Variables that would point a child interpreter at this environment instead
# of the one under test.
INTERPRETER_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH")


def run_outside(
    *args: str | Path,
    cwd: Path,
    timeout: float = 600,
    drop: Sequence[str] = (),
) -> str:
    """Run ``args`` in ``cwd`` without this run's interpreter variables (nor
    those in ``drop``); fail with its output unless it succeeds. Returns its
    stdout."""
    hidden = set(INTERPRETER_VARIABLES) | set(drop)
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k not in hidden},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout
