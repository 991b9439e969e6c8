"""The ``langgraph-sqlalchemy`` command line, against real databases.

Most tests drive the click group in-process (``CliRunner``) on a database the
``backend`` fixture prepared; the CLI opens its own engine on the same URL, so
this module's backends leave out ``sqlite-memory`` (one database per engine).
One test runs the installed console script in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from langgraph.checkpoint.base import empty_checkpoint

from langgraph.checkpoint.sqlalchemy import (
    CheckpointBlobRecord,
    CheckpointWriteRecord,
    SQLAlchemySaver,
)
from langgraph.checkpoint.sqlalchemy.cli import main
from langgraph.checkpoint.sqlalchemy.cli._common import checkpoint_time
from langgraph.checkpoint.sqlalchemy.cli.demo import build_weather_agent
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    checkpoint_id_at,
)

from conftest import BACKENDS, Backend, make_backend

ENV = "LANGGRAPH_CHECKPOINT_URL"


# -- helpers ----------------------------------------------------------------


def _runner() -> CliRunner:
    try:  # click 8.1 keeps stderr apart only when asked
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def run(
    *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """Invoke the CLI in-process; never lets an exception escape silently."""
    return _runner().invoke(
        main,
        list(args),
        input=input,
        env={ENV: "", **(env or {})},
        catch_exceptions=True,
    )


def ok(*args: str, **kwargs: Any) -> Result:
    result = run(*args, **kwargs)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def ok_json(*args: str, **kwargs: Any) -> Any:
    return json.loads(ok(*args, "--json", **kwargs).stdout)


def assert_one_line_error(result: Result, *needles: str) -> str:
    assert result.exit_code != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# An in-memory database is private to the engine that made it: the CLI,
# with an engine of its own, could not see the test's data.
SHARED_BACKENDS = [b for b in BACKENDS if b != "sqlite-memory"]


@pytest.fixture(params=SHARED_BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, request, tmp_path)


def url_of(backend: Backend) -> str:
    """The backend's URL, for a CLI that must see the test's data."""
    return backend.sync_url


def chain(
    saver: SQLAlchemySaver,
    thread_id: str,
    count: int,
    *,
    ns: str = "",
    start: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[str]:
    """``count`` checkpoints in a chain, each with a blob and a write; IDs from
    ``start`` on (a millisecond apart) when given. Returns their IDs."""
    ids: list[str] = []
    parent: str | None = None
    for step in range(count):
        checkpoint = empty_checkpoint()
        if start is not None:
            base = uuid.UUID(checkpoint_id_at(start + timedelta(milliseconds=step)))
            checkpoint["id"] = str(
                uuid.UUID(int=base.int | (uuid.uuid4().int & 0xFFFF))
            )
        version = f"{step + 1:08}"
        checkpoint["channel_values"] = {"log": ["entry"] * (step + 1), "step": step}
        checkpoint["channel_versions"] = {"log": version, "step": version}
        configurable = {"thread_id": thread_id, "checkpoint_ns": ns}
        if parent is not None:
            configurable["checkpoint_id"] = parent
        config = saver.put(
            {"configurable": configurable},
            checkpoint,
            {"source": "loop", "step": step, **(metadata or {})},
            {"log": version},
        )
        saver.put_writes(config, [("log", f"write {step}")], task_id=f"task{step}")
        parent = config["configurable"]["checkpoint_id"]
        ids.append(parent)
    return ids


def count_checkpoints(saver: SQLAlchemySaver, thread_id: str) -> int:
    return len(list(saver.list({"configurable": {"thread_id": thread_id}})))


def stored_bytes(saver: SQLAlchemySaver, thread_id: str) -> int:
    total = 0
    with saver.bind.connect() as conn:  # type: ignore[union-attr]
        for table in (CheckpointBlobRecord, CheckpointWriteRecord):
            rows = conn.execute(
                sa.select(table.blob).where(table.thread_id == thread_id)
            )
            total += sum(len(blob or b"") for (blob,) in rows)
    return total


@pytest.fixture
def cli_saver(backend: Backend) -> Any:
    url_of(backend)
    saver = backend.saver()
    try:
        yield saver
    finally:
        saver.close()


# -- threads, history, show, diff --------------------------------------------


def test_threads_counts_bytes_and_last_update(backend: Backend, cli_saver: Any) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=40)
    chain(cli_saver, "old", 3, start=old)
    chain(cli_saver, "fresh", 5)
    chain(cli_saver, "fresh", 2, ns="child:1")

    listed = {t["thread_id"]: t for t in ok_json("threads", "--url", backend.sync_url)}
    assert set(listed) == {"old", "fresh"}
    assert listed["old"]["checkpoints"] == 3
    assert listed["fresh"]["checkpoints"] == 7
    assert listed["fresh"]["namespaces"] == 2
    for thread_id in listed:
        assert listed[thread_id]["bytes"] == stored_bytes(cli_saver, thread_id) > 0
    old_update = datetime.fromisoformat(listed["old"]["last_update"])
    assert abs(old_update - old) < timedelta(seconds=1)
    fresh_update = datetime.fromisoformat(listed["fresh"]["last_update"])
    assert datetime.now(timezone.utc) - fresh_update < timedelta(minutes=2)

    # The URL from the environment, and the table: newest first by default.
    table = ok("threads", env={ENV: backend.sync_url}).stdout
    assert table.index("fresh") < table.index("old")
    assert "2 thread(s)" in table


def test_threads_filter_sort_limit(backend: Backend, cli_saver: Any) -> None:
    chain(cli_saver, "a1", 2, metadata={"user": "alice"})
    chain(cli_saver, "a2", 4, metadata={"user": "alice"})
    chain(cli_saver, "b1", 3, metadata={"user": "bob"})
    url = backend.sync_url

    alice = ok_json("threads", "--url", url, "--filter", "user=alice")
    assert sorted(t["thread_id"] for t in alice) == ["a1", "a2"]
    step = ok_json("threads", "--url", url, "--filter", "step=2")  # JSON value
    assert sorted(t["thread_id"] for t in step) == ["b1"]
    both = ok_json(
        "threads", "--url", url, "--filter", "user=alice", "--filter", "step=3"
    )
    assert [t["thread_id"] for t in both] == ["a2"]
    biggest = ok_json("threads", "--url", url, "--sort", "checkpoints", "--limit", "2")
    assert [t["thread_id"] for t in biggest] == ["a2", "b1"]
    by_name = ok_json("threads", "--url", url, "--sort", "thread")
    assert [t["thread_id"] for t in by_name] == ["a1", "a2", "b1"]
    assert_one_line_error(
        run("threads", "--url", url, "--filter", "nokey"), "key=value"
    )


def test_history_shows_the_chain(backend: Backend, cli_saver: Any) -> None:
    ids = chain(cli_saver, "t", 3)
    child = chain(cli_saver, "t", 2, ns="child:1")

    rows = ok_json("history", "t", "--url", backend.sync_url)
    assert [r["checkpoint_id"] for r in rows] == ids[::-1]
    assert [r["step"] for r in rows] == [2, 1, 0]
    assert [r["source"] for r in rows] == ["loop"] * 3
    assert [r["parent_checkpoint_id"] for r in rows] == [ids[1], ids[0], None]
    for row in rows:
        moment = datetime.fromisoformat(row["time"])
        assert datetime.now(timezone.utc) - moment < timedelta(minutes=2)

    sub = ok_json("history", "t", "--ns", "child:1", "--url", backend.sync_url)
    assert [r["checkpoint_id"] for r in sub] == child[::-1]
    limited = ok("history", "t", "--limit", "1", "--url", backend.sync_url).stdout
    assert ids[2] in limited and ids[0] not in limited


def test_show_decodes_values_writes_and_interrupts(
    backend: Backend, cli_saver: Any
) -> None:
    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt
    from typing_extensions import TypedDict

    class State(TypedDict, total=False):
        topic: str
        answer: str

    def ask(state: State) -> State:
        return {"answer": interrupt(f"approve {state['topic']}?")}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=cli_saver)
    graph.invoke({"topic": "the weather"}, {"configurable": {"thread_id": "hitl"}})

    shown = ok_json("show", "hitl", "--url", backend.sync_url)
    assert shown["channel_values"]["topic"] == "the weather"
    assert [i["value"] for i in shown["interrupts"]] == ["approve the weather?"]
    assert any(w["channel"] == "__interrupt__" for w in shown["pending_writes"])
    latest = cli_saver.get_tuple({"configurable": {"thread_id": "hitl"}})
    assert shown["checkpoint_id"] == latest.config["configurable"]["checkpoint_id"]

    text = ok("show", "hitl", "--url", backend.sync_url).stdout
    assert "approve the weather?" in text and "the weather" in text

    # A chat thread: messages are printed as a conversation; an older
    # checkpoint is found by a unique leading part of its ID.
    build_weather_agent(cli_saver).invoke(
        {"messages": [("user", "what is the weather in sf?")]},
        {"configurable": {"thread_id": "chat"}},
    )
    text = ok("show", "chat", "--url", backend.sync_url).stdout
    assert "human: what is the weather in sf?" in text
    assert "tool get_weather: It's always sunny in sf" in text
    first = ok_json("history", "chat", "--url", backend.sync_url)[-1]["checkpoint_id"]
    older = ok_json("show", "chat", first[:30], "--url", backend.sync_url)
    assert older["checkpoint_id"] == first
    assert older["metadata"]["source"] == "input"


def test_diff_lists_changed_channels(backend: Backend, cli_saver: Any) -> None:
    ids = chain(cli_saver, "t", 3)
    result = ok_json("diff", "t", ids[0], ids[2], "--url", backend.sync_url)
    changes = {c["channel"]: c for c in result["changes"]}
    assert set(changes) == {"log", "step"}
    assert changes["log"]["a"] == ["entry"] and changes["log"]["b"] == ["entry"] * 3
    assert changes["log"]["change"] == "appended 2"
    assert (changes["step"]["a"], changes["step"]["b"]) == (0, 2)
    same = ok("diff", "t", ids[1], ids[1], "--url", backend.sync_url).stdout
    assert "no channel differs" in same
    table = ok("diff", "t", ids[0], ids[1], "--url", backend.sync_url).stdout
    assert "log" in table and "step" in table


# -- delete, copy-thread, prune -------------------------------------------------


def test_delete_dry_run_prompt_and_yes(backend: Backend, cli_saver: Any) -> None:
    chain(cli_saver, "gone", 3)
    chain(cli_saver, "kept", 2)
    url = backend.sync_url

    dry = ok("delete", "gone", "--dry-run", "--url", url).stdout
    assert "dry run" in dry and "nothing changed" in dry
    assert count_checkpoints(cli_saver, "gone") == 3
    refused = run("delete", "gone", "--url", url, input="n\n")
    assert refused.exit_code != 0
    assert count_checkpoints(cli_saver, "gone") == 3
    assert_one_line_error(run("delete", "gone", "nope", "-y", "--url", url), "'nope'")
    assert count_checkpoints(cli_saver, "gone") == 3  # nothing, if any is unknown

    ok("delete", "gone", "--yes", "--url", url)
    assert cli_saver.get_tuple({"configurable": {"thread_id": "gone"}}) is None
    assert stored_bytes(cli_saver, "gone") == 0
    assert count_checkpoints(cli_saver, "kept") == 2
    ok("delete", "kept", "--url", url, input="y\n")
    assert count_checkpoints(cli_saver, "kept") == 0


def test_copy_thread(backend: Backend, cli_saver: Any) -> None:
    ids = chain(cli_saver, "src", 3)
    chain(cli_saver, "taken", 1)
    url = backend.sync_url

    ok("copy-thread", "src", "dst", "--dry-run", "--url", url)
    assert count_checkpoints(cli_saver, "dst") == 0
    copied = ok_json("copy-thread", "src", "dst", "--yes", "--url", url)
    assert copied["checkpoints"] == 3
    assert count_checkpoints(cli_saver, "dst") == 3
    latest = cli_saver.get_tuple({"configurable": {"thread_id": "dst"}})
    assert latest.checkpoint["channel_values"]["log"] == ["entry"] * 3
    assert latest.config["configurable"]["checkpoint_id"] == ids[-1]

    assert_one_line_error(
        run("copy-thread", "src", "taken", "-y", "--url", url), "never overwrites"
    )
    assert count_checkpoints(cli_saver, "taken") == 1
    assert_one_line_error(run("copy-thread", "nope", "x", "-y", "--url", url), "'nope'")


def test_prune_older_than(backend: Backend, cli_saver: Any) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=40)
    chain(cli_saver, "stale", 3, start=old)
    chain(cli_saver, "stale2", 2, start=old)
    chain(cli_saver, "active", 3)
    url = backend.sync_url

    dry = ok_json("prune", "--older-than", "30d", "--delete", "--dry-run", "--url", url)
    assert sorted(t["thread_id"] for t in dry["threads"]) == ["stale", "stale2"]
    assert dry["dry_run"] is True
    assert count_checkpoints(cli_saver, "stale") == 3

    text = ok("prune", "--older-than", "30d", "--delete", "--dry-run", "--url", url)
    assert "stale" in text.stdout and "active" not in text.stdout

    done = ok_json("prune", "--older-than", "30d", "--delete", "--yes", "--url", url)
    assert done["checkpoints_deleted"] == 5
    assert count_checkpoints(cli_saver, "stale") == 0
    assert count_checkpoints(cli_saver, "stale2") == 0
    assert count_checkpoints(cli_saver, "active") == 3

    # Keep the latest of each thread, all threads, in batches of one.
    ok("prune", "--all", "--batch-size", "1", "--yes", "--url", url)
    assert count_checkpoints(cli_saver, "active") == 1


def test_prune_keep_last(backend: Backend, cli_saver: Any) -> None:
    ids = chain(cli_saver, "t", 6)
    chain(cli_saver, "other", 4)
    url = backend.sync_url

    refused = run("prune", "t", "--keep-last", "2", "--url", url, input="n\n")
    assert refused.exit_code != 0
    assert count_checkpoints(cli_saver, "t") == 6
    ok("prune", "t", "--keep-last", "2", "--yes", "--url", url)
    left = [
        c.config["configurable"]["checkpoint_id"]
        for c in cli_saver.list({"configurable": {"thread_id": "t"}})
    ]
    assert left == ids[:-3:-1]
    assert count_checkpoints(cli_saver, "other") == 4
    assert_one_line_error(
        run("prune", "t", "--keep-last", "2", "--delete", "-y", "--url", url),
        "--delete",
    )
    assert_one_line_error(run("prune", "--url", url), "--older-than")


# -- db ---------------------------------------------------------------------------


def _fresh_target(backend: Backend, tmp_path: Path) -> tuple[str, list[str]]:
    """A URL and --schema arguments for a database without our tables."""
    if backend.name.startswith("sqlite"):
        url_of(backend)
        return f"sqlite:///{tmp_path / 'fresh.db'}", []
    return backend.sync_url, ["--schema", f"cli_{uuid.uuid4().hex[:8]}"]


def test_db_upgrade_current_downgrade(backend: Backend, tmp_path: Path) -> None:
    url, schema = _fresh_target(backend, tmp_path)
    try:
        before = ok_json("db", "current", "--url", url, *schema)
        assert before["current"] == [] and before["up_to_date"] is False
        assert_one_line_error(run("threads", "--url", url, *schema))

        upgraded = ok_json("db", "upgrade", "--url", url, *schema)
        assert upgraded["before"] == [] and upgraded["after"] == before["head"]
        assert ok_json("db", "current", "--url", url, *schema)["up_to_date"] is True
        assert ok_json("threads", "--url", url, *schema) == []
        again = ok("db", "upgrade", "--url", url, *schema).stdout
        assert "nothing to do" in again
        history = ok_json("db", "history", "--url", url, *schema)
        # Each branch's head is current (the checkpoint tables' and the
        # store's), the rest lead up to them.
        current = sorted(r["revision"] for r in history if r["current"])
        assert (
            current
            == upgraded["after"]
            == sorted(r["revision"] for r in history if r["head"])
        )

        refused = run("db", "downgrade", "base", "--url", url, *schema, input="n\n")
        assert refused.exit_code != 0
        assert ok_json("db", "current", "--url", url, *schema)["up_to_date"] is True
        ok("db", "downgrade", "base", "--yes", "--url", url, *schema)
        assert ok_json("db", "current", "--url", url, *schema)["current"] == []
        engine = sa.create_engine(url)
        try:
            names = sa.inspect(engine).get_table_names(
                schema=schema[1] if schema else None
            )
        finally:
            engine.dispose()
        assert "checkpoints" not in names
        assert_one_line_error(
            run("db", "upgrade", "nope", "--url", url, *schema), "nope"
        )
    finally:
        if schema:
            engine = sa.create_engine(url)
            try:
                with engine.begin() as conn:
                    conn.execute(
                        sa.schema.DropSchema(
                            schema[1],
                            cascade=backend.database == "postgres",
                            if_exists=True,
                        )
                    )
            finally:
                engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://", "JSONB"),
        ("mysql://", "LONGBLOB"),
        ("sqlite://", "CREATE TABLE checkpoints"),
    ],
)
def test_db_sql_prints_ddl_offline(url: str, expected: str) -> None:
    ddl = ok("db", "sql", "--url", url).stdout
    assert "CREATE TABLE checkpoints" in ddl and expected in ddl
    assert "langgraph_checkpoint_alembic_version" in ddl
    qualified = ok("db", "sql", "--url", url, "--schema", "agents").stdout
    if not url.startswith("sqlite"):
        assert "agents.checkpoints" in qualified


# -- bad input ---------------------------------------------------------------------


def test_a_database_without_our_tables_is_one_line() -> None:
    assert_one_line_error(
        run("threads", "--url", "sqlite:///:memory:"), "no checkpoint tables"
    )


def test_bad_input_is_one_line(backend: Backend, tmp_path: Path) -> None:
    saver = backend.saver()
    try:
        chain(saver, "t", 1)
    finally:
        saver.close()
    url = backend.sync_url
    assert_one_line_error(run("history", "nope", "--url", url), "no thread 'nope'")
    assert_one_line_error(run("show", "nope", "--url", url), "no thread 'nope'")
    assert_one_line_error(run("show", "t", "ffff", "--url", url), "no checkpoint")
    assert_one_line_error(run("show", "t", "--ns", "x", "--url", url), "namespace")
    assert_one_line_error(run("delete", "nope", "-y", "--url", url), "no thread")
    wrong = run("threads", "--url", url, "--schema", "no_such_schema")
    assert_one_line_error(wrong, "no_such_schema")


def test_unreachable_and_unusable_urls() -> None:
    refused = run("threads", "--url", "postgresql://alice:hunter2@127.0.0.1:1/db")
    line = assert_one_line_error(refused, "cannot reach", "127.0.0.1")
    assert "hunter2" not in line and "alice:***@" in line
    for url in ("not a url:hunter2@x", "nosuchdialect://bob:hunter2@host/db"):
        line = assert_one_line_error(run("threads", "--url", url))
        assert "hunter2" not in line
    assert_one_line_error(run("threads"), ENV)
    assert_one_line_error(
        run("threads", "--url", "sqlite:///no/such/file.db"), "no such"
    )


def test_checkpoint_time_reads_uuid6_ids() -> None:
    from langgraph.checkpoint.base.id import uuid6

    moment = datetime(2024, 5, 17, 8, 30, 12, 345678, tzinfo=timezone.utc)
    assert checkpoint_time(checkpoint_id_at(moment)) == moment
    now = checkpoint_time(str(uuid6()))
    assert now is not None
    assert abs(now - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert checkpoint_time("not-a-uuid") is None


# -- demo, and the installed script ------------------------------------------------


def test_demo_runs_the_agent_and_remembers(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    first = ok("demo").stdout
    assert "human: what is the weather in sf?" in first
    assert "It's always sunny in sf" in first and "question 2" in first
    assert "langgraph-demo.db" in first
    assert (tmp_path / "langgraph-demo.db").exists()
    second = ok_json("demo", "--question", "and in sf?")
    assert "question 3" in second["messages"][-1]["content"]
    assert second["total_messages"] == 12

    with SQLAlchemySaver.from_url(
        f"sqlite:///{tmp_path / 'langgraph-demo.db'}"
    ) as saver:
        assert count_checkpoints(saver, "demo") == second["checkpoints"]


def test_demo_on_a_backend(backend: Backend) -> None:
    result = ok_json("demo", "--url", backend.sync_url, "--thread", "d1")
    assert result["thread_id"] == "d1" and result["total_messages"] == 8
    saver = backend.saver()
    try:
        assert count_checkpoints(saver, "d1") == result["checkpoints"]
    finally:
        saver.close()


def _script() -> str:
    found = Path(sys.executable).with_name("langgraph-sqlalchemy")
    if found.exists():
        return str(found)
    which = shutil.which("langgraph-sqlalchemy")
    if which is None:
        pytest.fail("the langgraph-sqlalchemy console script is not installed")
    return which


def test_debug_shows_the_traceback_of_a_connection_error(tmp_path: Path) -> None:
    """One line by default; with --debug (or LANGGRAPH_CLI_DEBUG=1) also the
    traceback of what failed underneath, as docs/cli.md promises."""
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'nothing.db'}"
    plain = run("threads", "--url", url)
    assert plain.exit_code != 0 and "Traceback" not in plain.stderr
    for args, env in ((["--debug"], None), ([], {"LANGGRAPH_CLI_DEBUG": "1"})):
        debugged = run(
            *args, "threads", "--url", "postgresql://nobody@127.0.0.1:1/x", env=env
        )
        assert debugged.exit_code != 0
        assert "Traceback (most recent call last)" in debugged.stderr
        assert "OperationalError" in debugged.stderr
        assert debugged.stderr.rstrip().splitlines()[-1].startswith("Error: ")


def test_console_script_in_a_subprocess(backend: Backend) -> None:
    url = url_of(backend)
    saver = backend.saver()
    try:
        chain(saver, "script-thread", 2)
    finally:
        saver.close()
    env = {**os.environ, ENV: url}
    listed = subprocess.run(
        [_script(), "threads", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert [t["thread_id"] for t in json.loads(listed.stdout)] == ["script-thread"]

    module = subprocess.run(
        [
            sys.executable,
            "-m",
            "langgraph.checkpoint.sqlalchemy",
            "history",
            "script-thread",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert module.returncode == 0, module.stderr
    assert "loop" in module.stdout

    bad = subprocess.run(
        [_script(), "show", "missing-thread"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no thread 'missing-thread'")
    password = sa.make_url(url).password
    assert not password or str(password) not in lines[0]
