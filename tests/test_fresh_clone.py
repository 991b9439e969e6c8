"""The README's quick start, as a newcomer meets it: a fresh ``git clone`` of
this repository, then ``bash scripts/quickstart.sh --url postgresql://...``.

A clone holds only what is committed, so this catches a file the quick start
needs that exists only in a developer's working tree, as well as an extra the
script forgets to install (it once installed only ``[examples]``, and the
PostgreSQL run died on ``No module named 'psycopg'``). The script makes its own
virtual environment and installs the project into it: slow (a minute or two),
and that is what is under test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from outside import run_outside

REPO = Path(__file__).resolve().parents[1]

# Settings of the shell running the tests that the quick start must not see:
# a database URL or model key of the caller's.
_CALLERS = ("CHECKPOINT_URL", "LANGGRAPH_CHECKPOINT_URL", "OPENAI_API_KEY")


def _run(*args: str | Path, cwd: Path, timeout: float) -> str:
    return run_outside(*args, cwd=cwd, timeout=timeout, drop=_CALLERS)


def _fresh_clone(into: Path) -> Path:
    git = shutil.which("git")
    if git is None:
        pytest.fail("this test clones the repository and needs git on PATH")
    top = subprocess.run(
        [git, "-C", str(REPO), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != REPO:
        pytest.fail(
            f"{REPO} is not the top of a git checkout, so there is nothing to "
            f"clone (run the suite from a clone of the repository): "
            f"{top.stderr.strip() or top.stdout.strip()}"
        )
    clone = into / "clone"
    _run(git, "clone", "--quiet", REPO, clone, cwd=into, timeout=120)
    return clone


@pytest.mark.timeout(1200)
def test_quickstart_sh_on_postgres_from_a_fresh_clone(
    postgres_url: str, tmp_path: Path
) -> None:
    from servers.postgres import fresh_database

    # A database of its own, so the first run starts the conversation; in the
    # README's form, with no driver named (the saver picks psycopg 3).
    database = fresh_database(postgres_url, "lgsa_quickstart_clone")
    url = (
        sa.engine.make_url(database)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    clone = _fresh_clone(tmp_path)

    out = _run("bash", "scripts/quickstart.sh", "--url", url, cwd=clone, timeout=1000)
    first, second = out.split("== run 2: a new process, same thread ==")
    assert "== run 1: a fresh process ==" in first
    assert "always sunny in sf" in first
    assert "question 1 in this conversation" in first
    assert "'weather-demo' now holds 4 messages" in first
    # The second process found the first one's conversation in PostgreSQL.
    assert "always sunny in sf" in second
    assert "question 2 in this conversation" in second
    assert "'weather-demo' now holds 8 messages" in second

    # What the README shows next runs in the quick start's environment too:
    # the async quick start on its SQLite default (aiosqlite), the command
    # line (click, rich) on the same database, and the MySQL drivers.
    python = clone / ".venv" / "bin" / "python"
    out = _run(python, "examples/quickstart_async.py", cwd=clone, timeout=300)
    assert "question 1 in this conversation" in out
    out = _run(
        clone / ".venv" / "bin" / "langgraph-sqlalchemy",
        "threads",
        "--json",
        "--url",
        url,
        cwd=clone,
        timeout=300,
    )
    assert [t["thread_id"] for t in json.loads(out)] == ["weather-demo"]
    _run(python, "-c", "import pymysql, asyncmy", cwd=clone, timeout=120)
