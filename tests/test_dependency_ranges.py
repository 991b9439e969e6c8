"""The dependency ranges we declare, and the private SQLAlchemy API we check.

The floors are declared in three places that must agree: ``pyproject.toml``
(what pip enforces), ``_floors.FLOORS`` (what the package itself enforces
with a message that names the fix) and ``tests/constraints-lowest.txt`` (what
CI's floor run installs, so that each floor is tested).

Each private piece of SQLAlchemy the fast paths use has a check that must
say no when the piece changes, and the package must work with every check
saying no: CI runs the backend suite that way too
(``LANGGRAPH_SQLALCHEMY_PRIVATE_API=0``); here a fresh interpreter does a
round trip, sync and async.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from packaging.requirements import Requirement
from sqlalchemy import Connection, create_engine

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver, _compat, _floors
from langgraph.checkpoint.sqlalchemy.runtime import engines as engine_module
from langgraph.checkpoint.sqlalchemy.runtime import greenlet as _greenlet
from langgraph.checkpoint.sqlalchemy.runtime import private_api as private

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "tests" / "constraints-lowest.txt"


def _declared_floors() -> dict[str, str]:
    """``name -> floor`` of every ``>=`` requirement of the package and its
    user-facing extras in pyproject.toml (test tooling aside)."""
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = text.split("\ndependencies = [", 1)[1].split("\n]", 1)[0]
    extras = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    requirements = re.findall(r'"([^"]+)"', dependencies)
    extra = ""
    for line in extras.splitlines():
        named = re.match(r"^([\w-]+) = \[", line)
        extra = named.group(1) if named else extra
        if not extra.startswith("test") and extra not in (
            "bench",
            "lint",
            "dev",
            "docs",
        ):
            requirements += re.findall(r'"([^"]+)"', line)
    floors: dict[str, str] = {}
    for quoted in requirements:
        requirement = Requirement(quoted)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                floors[requirement.name.lower()] = spec.version
    return floors


def _constraint_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_package_enforces_the_floors_pyproject_declares() -> None:
    declared = _declared_floors()
    for name, floor in _floors.FLOORS.items():
        assert declared.get(name) == floor, (name, floor, declared.get(name))


def test_ci_floor_run_installs_every_declared_floor() -> None:
    """Versions we declare are versions we test: each floor is pinned, at
    exactly that release, in the constraints of CI's floor run."""
    pins = _constraint_pins()
    for name, floor in _declared_floors().items():
        pinned = pins.get(name)
        assert pinned is not None, f"{name}>={floor} is declared, never installed"
        assert _trimmed(pinned) == _trimmed(floor), (name, pinned)


def _trimmed(version: str) -> tuple[int, ...]:
    parts = list(_floors._release(version))
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_a_dependency_below_its_floor_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(_floors.FLOORS, "sqlalchemy", "99.1")
    with pytest.raises(ImportError) as raised:
        _floors.require("sqlalchemy")
    message = str(raised.value)
    assert "sqlalchemy>=99.1" in message and "pip install" in message
    _floors.require("alembic")  # at or above its floor: nothing to say
    monkeypatch.setitem(_floors.FLOORS, "psycopg", "99.0")
    with pytest.raises(ImportError, match=r"psycopg>=99\.0"):
        SQLAlchemySaver.from_url("postgresql://nobody@localhost/none")


def test_the_undeclared_pairing_of_checkpoint_and_core_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """langgraph-checkpoint 4.1+ fails inside its serializer with a
    langchain-core older than 1.2.5; we say so before importing it."""
    installed = {
        "langgraph-checkpoint": "4.3.0",
        "langchain-core": "1.2.4",
        "sqlalchemy": "2.0.30",
        "greenlet": "3.0",
    }
    monkeypatch.setattr(_floors, "_installed", installed.get)
    with pytest.raises(ImportError, match=r"langchain-core>=1\.2\.5"):
        _floors.require_core()
    installed["langgraph-checkpoint"] = "4.0.0"  # the pairing 4.0 imports with
    _floors.require_core()


async def test_an_async_saver_on_a_sqlite_file_keeps_a_pool(tmp_path: Path) -> None:
    """SQLAlchemy before 2.0.38 gave an aiosqlite file a NullPool: a new
    connection, and a new thread, for every call, and no pool_size."""
    from sqlalchemy.pool import AsyncAdaptedQueuePool

    from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

    url = f"sqlite:///{tmp_path / 'pool.db'}"
    async with AsyncSQLAlchemySaver.from_url(
        url, engine_kwargs={"pool_size": 3}
    ) as saver:
        pool = saver.bind.pool  # type: ignore[union-attr]
        assert isinstance(pool, AsyncAdaptedQueuePool) and pool.size() == 3
        await saver.setup()


@pytest.mark.parametrize(
    ("version", "parts"),
    [
        ("2.0.30", (2, 0, 30)),
        ("4.1", (4, 1)),
        ("1.2.0rc1", (1, 2, 0)),
        ("3.0.post1", (3, 0)),
    ],
)
def test_release_numbers_compare_by_their_numeric_parts(
    version: str, parts: tuple[int, ...]
) -> None:
    assert _floors._release(version) == parts


def test_writes_sort_key_orders_by_path_then_task_then_index() -> None:
    keys = [("b", "t1", 0), ("a", "t2", 1), ("a", "t2", 0), ("a", "t1", 5)]
    ordered = sorted(keys, key=lambda k: _compat.writes_sort_key(*k))
    assert ordered == [("a", "t1", 5), ("a", "t2", 0), ("a", "t2", 1), ("b", "t1", 0)]
    assert _compat._writes_sort_key(*keys[0]) == ("b", "t1", 0)


# -- The checks of private API say no when it changes -----------------------------


def test_cursor_execute_check_refuses_a_missing_or_reordered_method(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert private._cursor_execute_usable()

    def reordered(self: Any, statement: Any, cursor: Any, parameters: Any) -> None:
        raise AssertionError("never called")

    monkeypatch.setattr(Connection, "_cursor_execute", reordered)
    assert not private._cursor_execute_usable()
    monkeypatch.delattr(Connection, "_cursor_execute")
    assert not private._cursor_execute_usable()


def test_isolation_level_check_refuses_a_dialect_that_no_longer_keeps_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.engine.default import DefaultDialect

    assert private._on_connect_isolation_level_usable()
    original = DefaultDialect.__init__

    def forgetful(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        del self._on_connect_isolation_level

    monkeypatch.setattr(DefaultDialect, "__init__", forgetful)
    assert not private._on_connect_isolation_level_usable()


def test_autocommit_connection_is_refused_by_the_public_route(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the private attribute, a connection handed to the saver is
    asked directly (SQLAlchemy 2.1); older releases have no public way."""
    monkeypatch.setattr(engine_module, "ON_CONNECT_ISOLATION_LEVEL", False)
    engine = create_engine(
        f"sqlite:///{tmp_path / 'a.db'}", isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            detects = hasattr(conn.dialect, "detect_autocommit_setting")
            if detects:
                with pytest.raises(ValueError, match="autocommits every statement"):
                    SQLAlchemySaver(conn)
            else:
                SQLAlchemySaver(conn)  # no public way to tell: accepted
    finally:
        engine.dispose()


def test_greenlet_check_refuses_a_greenlet_sqlalchemy_does_not_accept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SQLAlchemy 2.0.31 made await_only accept any greenlet with the marker;
    # before, only its own class (CI's floor run has such a release).
    marked_releases = _floors._release(sqlalchemy.__version__) >= (2, 0, 31)
    assert _greenlet.follows_await_protocol() is marked_releases
    monkeypatch.setattr(_greenlet._Worker, "__sqlalchemy_greenlet_provider__", False)
    assert not _greenlet.follows_await_protocol()


# -- Every public route at once, in a fresh interpreter ----------------------------

_ROUND_TRIP = textwrap.dedent(
    """
    import asyncio, sys
    from langgraph.checkpoint.conformance.test_utils import (
        generate_checkpoint, generate_config, generate_metadata)
    from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
    from langgraph.checkpoint.sqlalchemy.runtime import greenlet as _greenlet
    from langgraph.checkpoint.sqlalchemy.runtime import private_api as private
    from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

    flags = (private.CURSOR_EXECUTE, private.ON_CONNECT_ISOLATION_LEVEL,
             _greenlet.REUSES_GREENLETS)
    url = sys.argv[1]
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
        saver.put(generate_config("t"), generate_checkpoint(), generate_metadata(), {})
        saved = saver.get_tuple(generate_config("t"))

    async def main():
        async with AsyncSQLAlchemySaver.from_url(url) as asaver:
            return await asaver.aget_tuple(generate_config("t"))

    loaded = asyncio.run(main())
    print(flags, saved.checkpoint["id"] == loaded.checkpoint["id"])
    """
)


def test_every_public_route_at_once_keeps_the_saver_working(tmp_path: Path) -> None:
    env = dict(os.environ, **{private.ENV_VAR: "0"})
    done = subprocess.run(
        [sys.executable, "-c", _ROUND_TRIP, f"sqlite:///{tmp_path / 'p.db'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(False, False, False) True"
