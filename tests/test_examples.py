"""The examples run as documented, against SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
)

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver, migrate
from langgraph.store.sqlalchemy import SQLAlchemyStore

from conftest import Backend, make_backend

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
OUR_TABLES = {"checkpoints", "checkpoint_blobs", "checkpoint_writes"}


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


# -- examples/fastapi_app.py: one AsyncEngine for the app and the checkpointer --


def _fastapi_example() -> ModuleType:
    """examples/fastapi_app.py, imported once (it is not a package module)."""
    if (module := sys.modules.get("fastapi_app")) is not None:
        return module
    spec = importlib.util.spec_from_file_location(
        "fastapi_app", REPO / "examples" / "fastapi_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fastapi_app"] = module  # pydantic resolves annotations through it
    spec.loader.exec_module(module)
    return module


def _fresh_postgres(postgres_url: str, prefix: str) -> tuple[str, str, str]:
    """A new database on the session's server: (its URL, the server's, its name)."""
    from servers.postgres import fresh_database

    server = postgres_url.rsplit("/", 1)[0] + "/postgres"
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return fresh_database(server, name), server, name


@pytest.fixture(params=["sqlite", "postgres"])
def example_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for one example: a SQLite file, or a new PostgreSQL one.

    The URL names an async driver (``sqlite+aiosqlite``; ``postgresql+psycopg``
    serves both), as the FastAPI app's ``DATABASE_URL`` does.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'example.db'}"
        return
    from servers.postgres import drop_database

    url, server, name = _fresh_postgres(
        request.getfixturevalue("postgres_url"), "example"
    )
    try:
        yield url
    finally:
        drop_database(server, name)


def _ask(client: TestClient, thread: str, text: str) -> dict[str, Any]:
    response = client.post(f"/threads/{thread}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_fastapi_app_shares_one_engine(
    example_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    example = _fastapi_example()
    thread = "weather-1"
    with TestClient(example.create_app(example_db)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        assert state.saver.bind is state.engine  # one engine, one pool
        first = _ask(client, thread, "what is the weather in sf?")
        assert "always sunny in sf" in first["reply"]
        assert "question 1 in this conversation" in first["reply"]
        second = _ask(client, thread, "and in nyc?")
        assert "cloudy in nyc" in second["reply"]
        assert "question 2 in this conversation" in second["reply"]
        assert second["turns"] == 2

        history = client.get(f"/threads/{thread}").json()
        assert [m["type"] for m in history["messages"]] == ["human", "ai"] * 2
        assert history["messages"][0]["content"] == "what is the weather in sf?"
        assert history["messages"][3]["content"] == second["reply"]
        assert history["turns"] == 2
        full = client.get(f"/threads/{thread}", params={"tools": True}).json()
        assert len(full["messages"]) == 8  # with the tool calls and their results
        assert client.get("/threads/nobody").status_code == 404
        assert client.get("/threads").json() == [{"thread_id": thread, "turns": 2}]
        assert client.post(f"/threads/{thread}/messages", json={}).status_code == 422

    # The app's own table, read without the app: one row for the thread.
    engine = sa.create_engine(migrate.sync_url(example_db))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT thread_id, turns FROM conversations"))
            assert rows.all() == [(thread, 2)]
            tables = set(sa.inspect(conn).get_table_names())
            assert {"conversations", *OUR_TABLES, migrate.VERSION_TABLE} <= tables
    finally:
        engine.dispose()

    # A new app instance (a restarted server) on the same database.
    with TestClient(example.create_app(example_db)) as client:
        again = client.get(f"/threads/{thread}").json()
        assert again == history
        third = _ask(client, thread, "and in san francisco?")
        assert "question 3 in this conversation" in third["reply"]
        assert third["turns"] == 3


def test_fastapi_app_defaults_to_a_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`app` reads DATABASE_URL when it starts; unset, a file in the working directory."""
    from fastapi.testclient import TestClient

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with TestClient(_fastapi_example().app) as client:
        assert "always sunny in sf" in _ask(client, "t", "sf?")["reply"]
    assert (tmp_path / "fastapi-demo.db").is_file()

    other = tmp_path / "other.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{other}")
    with TestClient(_fastapi_example().app) as client:
        assert client.get("/threads/t").status_code == 404  # another database
    assert other.is_file()


# -- examples/host_app_migrations: the host's Alembic history includes ours ------


def test_host_app_migrations_example(example_db: str) -> None:
    """The README's command, as written: `alembic -c ... upgrade heads` with the
    URL in DATABASE_URL (an async URL: env.py runs it with the sync driver)."""
    ini = "examples/host_app_migrations/alembic.ini"
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", ini, "upgrade", "heads"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": example_db},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> lgcp0001" in result.stderr
    assert "Running upgrade lgcp0001 -> lgcp0002" in result.stderr
    assert "Running upgrade lgcp0002 -> lgcp0003" in result.stderr
    assert "Running upgrade  -> host0001" in result.stderr

    engine = sa.create_engine(migrate.sync_url(example_db))
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {"users", "alembic_version", *OUR_TABLES} <= tables
            assert migrate.VERSION_TABLE not in tables  # one record: the host's
            assert "store" in tables  # the memory store's branch came too
            # One row per branch: host0001 (its depends_on brought lgcp0001
            # first) and the heads of our two branches.
            heads = set(MigrationContext.configure(conn).get_current_heads())
            assert heads == {"host0001", "lgcp0003", "lgst0002"}
            conn.execute(sa.text("INSERT INTO users (name) VALUES ('ada')"))
            conn.commit()
        # Our saver works there as it is, with no setup().
        saver = SQLAlchemySaver(engine)
        stored = saver.put(generate_config("t"), generate_checkpoint(), {}, {})
        assert saver.get_tuple(stored) is not None
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM users")).scalar() == "ada"
        # And so does the memory store.
        store = SQLAlchemyStore(engine)
        store.put(("users", "ada"), "profile", {"likes": "tea"})
        assert store.get(("users", "ada"), "profile") is not None
    finally:
        engine.dispose()


# -- examples/store_app.py: one Engine for the app, the saver and the store ----


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def store_app_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    backend = make_backend(request.param, request, tmp_path)
    yield backend
    # The server's test database lives for the session: leave no app table.
    engine = sa.create_engine(backend.sync_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS app_visits"))
    finally:
        engine.dispose()


def test_store_app_remembers_across_threads_and_processes(
    store_app_db: Backend, tmp_path: Path
) -> None:
    url = ["--url", store_app_db.sync_url]
    told = _run(
        "store_app.py",
        *url,
        "--thread",
        "t1",
        "--say",
        "remember: I drink tea",
        cwd=tmp_path,
    )
    assert "noted: I drink tea" in told and "turn 1" in told
    _run(
        "store_app.py",
        *url,
        "--thread",
        "t1",
        "--say",
        "remember: I live in Oslo",
        cwd=tmp_path,
    )
    # Another thread, another process: the store remembers, the thread is new.
    asked = _run("store_app.py", *url, "--thread", "t2", cwd=tmp_path)
    assert "what I know about you: I drink tea; I live in Oslo" in asked
    assert "thread 't2': turn 1" in asked
    assert "app table: 3 visit(s) by ada" in asked
    # Per user: another user's namespace is empty.
    other = _run("store_app.py", *url, "--user", "bob", "--thread", "t3", cwd=tmp_path)
    assert "what I know about you: nothing yet" in other

    # All three kinds of table in the one database.
    engine = sa.create_engine(store_app_db.sync_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            turns = conn.execute(
                sa.text("SELECT count(*) FROM checkpoints WHERE thread_id = 't1'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert {"app_visits", "store", *OUR_TABLES} <= tables
    assert turns > 0
