"""Moving threads between databases (``transfer`` and ``migrate``), on real
databases: the official SQLite saver's file, the official PostgreSQL saver's
tables, and ours on SQLite, PostgreSQL and MariaDB.

Each source is filled by running a compiled graph that stops at an interrupt
(beside a parallel task whose writes wait as pending writes, and inside a
subgraph, so there are two namespaces). What the target holds is compared
with what the source's own saver returns, and the graph resumes on the target.
"""

from __future__ import annotations

import json
import operator
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    CheckpointTuple,
    empty_checkpoint,
)
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import NotRequired, TypedDict

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.cli.transfer import transfer_command
from langgraph.checkpoint.sqlalchemy.transfer import (
    TransferError,
    TransferProgress,
    UnknownLayoutError,
    checksum,
    detect_layout,
    transfer,
    verify,
)

SqliteSaver = pytest.importorskip("langgraph.checkpoint.sqlite").SqliteSaver

REPO = Path(__file__).resolve().parents[1]

# -- databases -----------------------------------------------------------------


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (a SQLAlchemy URL)."""
    from servers.postgres import drop_database, fresh_database

    name = f"transfer_{uuid.uuid4().hex[:10]}"
    url = fresh_database(postgres_url, name)
    yield url
    drop_database(postgres_url, name)


@pytest.fixture
def maria_db(mariadb_url: str) -> Iterator[str]:
    """A fresh MariaDB database for one test (a SQLAlchemy URL)."""
    from servers.mariadb import fresh_database

    name = f"transfer_{uuid.uuid4().hex[:10]}"
    url = fresh_database(mariadb_url, name)
    yield url
    engine = sa.create_engine(mariadb_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        engine.dispose()


def _libpq(url: str) -> str:
    return (
        sa.engine.make_url(url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


# -- the graph -----------------------------------------------------------------


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    # A list of dicts (a blob in our tables) and a primitive (inline).
    notes: Annotated[list[dict[str, Any]], operator.add]
    turns: int
    reply: NotRequired[str]


class Ask(TypedDict):
    """The subgraph's state: what it shares with the parent."""

    turns: int
    reply: str


def _graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """start, then ask (a subgraph that interrupts) beside side, then finish."""

    def start(state: State) -> dict[str, Any]:
        return {"log": ["start"], "notes": [{"n": [1, 2]}], "turns": state["turns"] + 1}

    def side(state: State) -> dict[str, Any]:
        return {"log": ["side"], "notes": [{"side": True}]}

    def question(state: Ask) -> dict[str, Any]:
        answer = interrupt({"question": "name?", "turns": state["turns"]})
        return {"reply": answer, "turns": state["turns"] + 1}

    def finish(state: State) -> dict[str, Any]:
        return {"log": [f"finish:{state['reply']}"]}

    inner = StateGraph(Ask)
    inner.add_node("question", question)
    inner.add_edge(START, "question")
    inner.add_edge("question", END)

    builder = StateGraph(State)
    builder.add_node("start", start)
    builder.add_node("side", side)
    builder.add_node("ask", inner.compile())
    builder.add_node("finish", finish)
    builder.add_edge(START, "start")
    builder.add_edge("start", "ask")
    builder.add_edge("start", "side")
    builder.add_edge(["ask", "side"], "finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer)


START_STATE = {"log": [], "notes": [], "turns": 0}
FINAL_LOG = ["start", "side", "finish:ada"]


def _cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def _fill(
    saver: BaseCheckpointSaver[Any], interrupted: list[str], finished: list[str]
) -> None:
    """Threads stopped at the interrupt, and threads run to the end."""
    graph = _graph(saver)
    for thread in interrupted + finished:
        stopped = graph.invoke(
            START_STATE, {**_cfg(thread), "metadata": {"team": "blue"}}
        )
        assert [i.value for i in stopped["__interrupt__"]] == [
            {"question": "name?", "turns": 1}
        ]
    for thread in finished:
        assert graph.invoke(Command(resume="ada"), _cfg(thread))["log"] == FINAL_LOG


def _all_tuples(saver: BaseCheckpointSaver[Any], thread: str) -> list[CheckpointTuple]:
    """Every checkpoint of every namespace of a thread, sorted by (ns, id)."""
    found = list(saver.list(_cfg(thread)))
    return sorted(
        found,
        key=lambda t: (
            t.config["configurable"]["checkpoint_ns"],
            t.config["configurable"]["checkpoint_id"],
        ),
    )


def _same_thread(
    source: BaseCheckpointSaver[Any], target: BaseCheckpointSaver[Any], thread: str
) -> int:
    """Each source checkpoint, read with the source saver's get_tuple, equals
    the target's; returns how many there are."""
    tuples = _all_tuples(source, thread)
    assert {t.config["configurable"]["checkpoint_ns"] for t in tuples} != {""}
    for theirs in tuples:
        official = source.get_tuple(theirs.config)
        ours = target.get_tuple(theirs.config)
        assert official is not None and ours is not None
        assert ours.checkpoint == official.checkpoint
        assert ours.metadata == official.metadata
        assert ours.parent_config == official.parent_config
        assert ours.pending_writes == official.pending_writes
    assert len(_all_tuples(target, thread)) == len(tuples)
    return len(tuples)


def _resume(saver: BaseCheckpointSaver[Any], thread: str) -> None:
    graph = _graph(saver)
    state = graph.get_state(_cfg(thread))
    assert state.next == ("ask",)
    assert [i.value for i in state.interrupts] == [{"question": "name?", "turns": 1}]
    final = graph.invoke(Command(resume="ada"), _cfg(thread))
    assert final["log"] == FINAL_LOG
    assert final["turns"] == 2
    assert graph.get_state(_cfg(thread)).next == ()


# -- the official SQLite saver -> ours on PostgreSQL ---------------------------


def test_official_sqlite_to_postgres_then_resume(tmp_path: Path, pg_db: str) -> None:
    path = tmp_path / "official.sqlite"
    with SqliteSaver.from_conn_string(str(path)) as official:
        _fill(official, interrupted=["waiting"], finished=["done"])

    events: list[TransferProgress] = []
    report = transfer(f"sqlite:///{path}", pg_db, batch_size=2, progress=events.append)

    assert report.source_layout == "sqlite"
    assert report.ok, report.to_dict()
    by_id = {t.thread_id: t for t in report.threads}
    assert set(by_id) == {"waiting", "done"}
    assert all(t.status == "copied" and t.verified for t in by_id.values())
    assert {e.phase for e in events} == {"copy", "verify"}
    assert events[-1].phase == "verify" and events[-1].threads_done == 2

    with (
        SqliteSaver.from_conn_string(str(path)) as official,
        SQLAlchemySaver.from_url(pg_db) as ours,
    ):
        for thread in ("waiting", "done"):
            assert _same_thread(official, ours, thread) == by_id[thread].checkpoints
    # Task paths come across as stored.
    theirs_paths = sorted(
        r
        for r in sqlite3.connect(path).execute(
            "SELECT checkpoint_id, task_id, idx, task_path FROM writes"
        )
    )
    ours_paths = sorted(
        _rows(
            pg_db,
            "SELECT checkpoint_id, task_id, idx, task_path FROM checkpoint_writes",
        )
    )
    assert ours_paths == theirs_paths
    assert any(p for *_, p in ours_paths)

    with SQLAlchemySaver.from_url(pg_db) as ours:
        _resume(ours, "waiting")


# -- the official PostgreSQL saver -> ours on MariaDB --------------------------


def test_official_postgres_to_mariadb_then_resume(pg_db: str, maria_db: str) -> None:
    with PostgresSaver.from_conn_string(_libpq(pg_db)) as official:
        official.setup()
        _fill(official, interrupted=["waiting"], finished=["done"])

    report = transfer(pg_db, maria_db, batch_size=3)

    assert report.source_layout == "postgres"
    assert report.ok, report.to_dict()
    assert [t.status for t in report.threads] == ["copied", "copied"]
    # The source is read only: no version table, no extra index appear there.
    assert (
        "langgraph_checkpoint_alembic_version"
        not in sa.inspect(sa.create_engine(pg_db)).get_table_names()
    )
    with (
        PostgresSaver.from_conn_string(_libpq(pg_db)) as official,
        SQLAlchemySaver.from_url(maria_db) as ours,
    ):
        for thread in ("waiting", "done"):
            _same_thread(official, ours, thread)
        _resume(ours, "waiting")


# -- ours on SQLite -> ours on PostgreSQL, in a schema -------------------------


def test_ours_sqlite_to_postgres_schema(tmp_path: Path, pg_db: str) -> None:
    source = f"sqlite:///{tmp_path / 'ours.db'}"
    with SQLAlchemySaver.from_url(source) as saver:
        saver.setup()
        _fill(saver, interrupted=["a", "b"], finished=["c"])
    assert detect_layout(sa.create_engine(source)) == "sqlalchemy"

    report = transfer(source, pg_db, target_schema="moved", thread_ids=["a", "c", "zz"])

    assert [(t.thread_id, t.status) for t in report.threads] == [
        ("a", "copied"),
        ("c", "copied"),
        ("zz", "not-found"),
    ]
    assert not report.ok  # "zz" was asked for and is not there
    assert [t.verified for t in report.threads] == [True, True, None]
    assert _rows(
        pg_db, "SELECT DISTINCT thread_id FROM moved.checkpoints ORDER BY 1"
    ) == [("a",), ("c",)]
    assert _rows(
        pg_db,
        "SELECT count(*) FROM pg_tables WHERE tablename = 'checkpoints' AND schemaname = 'public'",
    ) == [(0,)]
    with (
        SQLAlchemySaver.from_url(source) as src,
        SQLAlchemySaver.from_url(pg_db, schema="moved") as dst,
    ):
        _same_thread(src, dst, "a")
        _same_thread(src, dst, "c")
        _resume(dst, "a")


# -- stopping and starting again -----------------------------------------------


class Stop(Exception):
    pass


def test_interrupted_transfer_resumes(tmp_path: Path, pg_db: str) -> None:
    source = f"sqlite:///{tmp_path / 'ours.db'}"
    with SQLAlchemySaver.from_url(source) as saver:
        saver.setup()
        _fill(saver, interrupted=["t1", "t3"], finished=["t2"])

    calls: list[TransferProgress] = []

    def stop_in_t2(event: TransferProgress) -> None:
        calls.append(event)
        if (
            event.thread_id == "t2"
            and event.checkpoints_copied > calls[0].checkpoints_copied + 2
        ):
            raise Stop

    with pytest.raises(Stop):
        transfer(source, pg_db, batch_size=1, progress=stop_in_t2)
    counts = dict(
        _rows(pg_db, "SELECT thread_id, count(*) FROM checkpoints GROUP BY thread_id")
    )
    with SQLAlchemySaver.from_url(source) as src:
        full = {t: len(_all_tuples(src, t)) for t in ("t1", "t2", "t3")}
    assert counts["t1"] == full["t1"]
    assert 0 < counts["t2"] < full["t2"]
    assert "t3" not in counts

    report = transfer(source, pg_db, batch_size=1)

    assert report.ok, report.to_dict()
    assert [(t.thread_id, t.status) for t in report.threads] == [
        ("t1", "skipped"),
        ("t2", "resumed"),
        ("t3", "copied"),
    ]
    by_id = {t.thread_id: t for t in report.threads}
    assert by_id["t2"].copied == full["t2"] - counts["t2"]
    assert by_id["t1"].copied == 0 and by_id["t3"].copied == full["t3"]
    assert all(t.verified for t in report.threads)
    with (
        SQLAlchemySaver.from_url(source) as src,
        SQLAlchemySaver.from_url(pg_db) as dst,
    ):
        for thread in full:
            _same_thread(src, dst, thread)
        assert _graph(dst).get_state(_cfg("t2")).values["log"] == FINAL_LOG

    again = transfer(source, pg_db)
    assert [t.status for t in again.threads] == ["skipped"] * 3
    assert again.checkpoints_copied == 0 and again.ok


def test_a_target_thread_that_moved_on_is_left_alone(tmp_path: Path) -> None:
    source, target = (f"sqlite:///{tmp_path / n}" for n in ("src.db", "dst.db"))
    with SQLAlchemySaver.from_url(source) as saver:
        saver.setup()
        _fill(saver, interrupted=["t"], finished=[])
    assert transfer(source, target).ok
    with SQLAlchemySaver.from_url(target) as dst:
        _resume(dst, "t")
        before = len(_all_tuples(dst, "t"))

    report = transfer(source, target)

    assert [(t.thread_id, t.status, t.copied) for t in report.threads] == [
        ("t", "conflict", 0)
    ]
    assert not report.ok
    with pytest.raises(TransferError, match="conflict"):
        report.raise_for_problems()
    with SQLAlchemySaver.from_url(target) as dst:
        assert len(_all_tuples(dst, "t")) == before


# -- verification --------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE checkpoint_writes SET blob = X'c0' WHERE channel = 'notes' AND {bad}",
        "DELETE FROM checkpoint_writes WHERE channel = '__interrupt__' AND {bad}",
        "UPDATE checkpoints SET metadata = json_set(metadata, '$.team', 'red') WHERE {bad}",
        "UPDATE checkpoint_blobs SET blob = X'90' WHERE channel = 'notes' AND {bad}",
    ],
    ids=["write-value", "write-missing", "metadata", "channel-value"],
)
def test_checksum_mismatch_is_detected(tmp_path: Path, tamper: str) -> None:
    path = tmp_path / "official.sqlite"
    with SqliteSaver.from_conn_string(str(path)) as official:
        _fill(official, interrupted=["bad", "good"], finished=[])
    target_path = tmp_path / "ours.db"
    source, target = f"sqlite:///{path}", f"sqlite:///{target_path}"
    assert transfer(source, target).ok
    with sqlite3.connect(target_path) as conn:
        assert conn.execute(tamper.format(bad="thread_id = 'bad'")).rowcount > 0

    checked = verify(source, target)

    assert {t.thread_id: t.verified for t in checked.threads} == {
        "bad": False,
        "good": True,
    }
    bad = checked.mismatched[0]
    assert bad.source_checksum != bad.target_checksum
    assert not checked.ok
    # A transfer run again skips the complete thread and still reports it.
    again = transfer(source, target)
    assert {t.thread_id: (t.status, t.verified) for t in again.threads} == {
        "bad": ("skipped", False),
        "good": ("skipped", True),
    }
    result = CliRunner().invoke(
        transfer_command, ["--from", source, "--to", target, "--yes"]
    )
    assert result.exit_code == 1
    assert "MISMATCH" in result.output and "verification FAILED for 1" in result.output


# -- the command line ----------------------------------------------------------


def test_cli_dry_run_then_copy_as_json(tmp_path: Path) -> None:
    path = tmp_path / "official.sqlite"
    with SqliteSaver.from_conn_string(str(path)) as official:
        _fill(official, interrupted=["x"], finished=["y"])
    source, target = f"sqlite:///{path}", f"sqlite:///{tmp_path / 'ours.db'}"
    runner = CliRunner()

    dry = runner.invoke(
        transfer_command, ["--from", source, "--to", target, "--dry-run", "--json"]
    )
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.output)
    assert planned["dry_run"] and planned["source_layout"] == "sqlite"
    assert [(t["thread_id"], t["status"]) for t in planned["threads"]] == [
        ("x", "planned"),
        ("y", "planned"),
    ]
    assert planned["checkpoints_copied"] > 0
    assert not sa.inspect(sa.create_engine(target)).get_table_names()  # nothing written

    refused = runner.invoke(
        transfer_command, ["--from", source, "--to", target], input="n\n"
    )
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert not sa.inspect(sa.create_engine(target)).get_table_names()

    done = runner.invoke(
        transfer_command,
        ["--from", source, "--to", target, "--thread", "x", "--yes", "--json"],
    )
    assert done.exit_code == 0, done.output
    moved = json.loads(done.output)
    assert moved["ok"] and [t["thread_id"] for t in moved["threads"]] == ["x"]
    assert moved["threads"][0]["verified"] is True
    assert _rows(target, "SELECT DISTINCT thread_id FROM checkpoints") == [("x",)]

    table = runner.invoke(transfer_command, ["--from", source, "--to", target, "-y"])
    assert table.exit_code == 0, table.output
    assert "1 skipped" in table.output and "1 copied" in table.output


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sqlite:///{tmp}/missing.db", "source database file not found"),
        ("sqlite:///{tmp}/other.db", "no LangGraph checkpoint tables"),
        (
            "postgresql://user:hunter2@127.0.0.1:1/nowhere",
            "cannot connect to the source",
        ),
        ("not a url", "bad source URL"),
    ],
    ids=["missing-file", "unknown-layout", "unreachable", "bad-url"],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, source: str, message: str) -> None:
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    result = CliRunner().invoke(
        transfer_command,
        [
            "--from",
            source.format(tmp=tmp_path),
            "--to",
            f"sqlite:///{tmp_path / 't.db'}",
            "--yes",
        ],
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # no traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert "hunter2" not in result.output


def test_unknown_layout_and_same_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE checkpoints (id INTEGER)")
    with pytest.raises(UnknownLayoutError, match="found: checkpoints"):
        transfer(f"sqlite:///{other}", f"sqlite:///{tmp_path / 't.db'}")
    ours = f"sqlite:///{tmp_path / 'ours.db'}"
    with SQLAlchemySaver.from_url(ours) as saver:
        saver.setup()
    with pytest.raises(TransferError, match="same database"):
        transfer(ours, ours)


# -- the example ---------------------------------------------------------------


def test_example_sqlite_to_postgres(tmp_path: Path, pg_db: str) -> None:
    env = {
        **os.environ,
        "SOURCE_URL": f"sqlite:///{tmp_path / 'example.db'}",
        "TARGET_URL": pg_db,
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "sqlite_to_postgres.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "verified: True" in result.stdout
    assert "next: ('review',)" in result.stdout
    assert "resumed on PostgreSQL: ['drafted', 'review: yes, ship it']" in result.stdout


@pytest.mark.parametrize("name", ["transfer", "migrate"])
def test_transfer_is_a_command_of_the_cli(tmp_path: Path, name: str) -> None:
    """``transfer``, and ``migrate``, its old name: still working, hidden
    from the command list and said to be deprecated."""
    from langgraph.checkpoint.sqlalchemy.cli import main

    source = f"sqlite:///{tmp_path / 'src.db'}"
    with SQLAlchemySaver.from_url(source) as saver:
        saver.setup()
        _fill(saver, interrupted=["t"], finished=[])
    result = CliRunner().invoke(
        main,
        [name, "--from", source, "--to", f"sqlite:///{tmp_path / 'dst.db'}", "-y"],
    )
    assert result.exit_code == 0, result.output
    assert "1 copied" in result.output
    listed = CliRunner().invoke(main, ["--help"]).output
    assert ("transfer" in listed) and ("migrate" not in listed)
    if name == "migrate":
        assert "deprecated" in result.output.lower()


def _order_sensitive_pair() -> tuple[str, str]:
    """Two strings whose set iterates in a different order depending on which
    was added first (in this process: string hashes vary per process)."""
    words = [f"k{n}" for n in range(200)]
    for a in words:
        for b in words:
            first, second = {a}, {b}
            first.add(b)
            second.add(a)
            if list(first) != list(second):
                return a, b
    raise AssertionError("every pair iterates alike")


def test_checksum_does_not_depend_on_set_order() -> None:
    """Barrier channels hold sets; equal sets built in different orders
    iterate (and serialize) differently, and must still checksum alike."""
    a, b = _order_sensitive_pair()
    first, second = {a}, {b}
    first.add(b)
    second.add(a)
    assert first == second and list(first) != list(second)  # the precondition

    def tuples(value: set[str]) -> list[CheckpointTuple]:
        checkpoint = {**empty_checkpoint(), "id": "1", "ts": "2026-11-25T00:00:00"}
        checkpoint["channel_values"] = {"join:a+b:c": value}
        config: Any = {
            "configurable": {
                "thread_id": "t",
                "checkpoint_ns": "",
                "checkpoint_id": "1",
            }
        }
        return [CheckpointTuple(config, checkpoint, {}, None, [("task", "x", value)])]

    assert checksum(tuples(first)) == checksum(tuples(second))
    assert checksum(tuples(first)) != checksum(tuples({a}))
