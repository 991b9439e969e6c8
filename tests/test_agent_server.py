"""The Agent Server factory (``langgraph.checkpoint.sqlalchemy.server``).

End to end: a real ``langgraph dev`` server (langgraph-cli with the in-memory
runtime, the ``test-server`` extra) loads our factory from ``langgraph.json``,
runs a graph that interrupts, is resumed, restarted, and still has the
thread's state; its thread copy and delete reach our tables. The server
listens on the loopback only, every wait is bounded, and the process group is
killed in a ``finally``. Then the factory alone: its error, its set-up, its
close.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from langgraph.checkpoint.sqlalchemy import (
    CheckpointBlobRecord,
    CheckpointRecord,
    CheckpointWriteRecord,
    SQLAlchemySaver,
)
from langgraph.checkpoint.sqlalchemy.migrate import URL_ENV_VAR
from langgraph.checkpoint.sqlalchemy.models import StoreRecord
from langgraph.checkpoint.sqlalchemy.server import LANGGRAPH_JSON_LINE, checkpointer
from langgraph.store.sqlalchemy.server import LANGGRAPH_JSON_LINE as STORE_JSON_LINE
from langgraph.store.sqlalchemy.server import STORE_URL_ENV_VAR, store

from servers._local import free_port

GRAPH_MODULE = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from langgraph.types import interrupt


class State(TypedDict, total=False):
    question: str
    answer: str


def ask(state: State) -> dict:
    return {"answer": interrupt(state["question"])}


builder = StateGraph(State)
builder.add_node("ask", ask)
builder.add_edge(START, "ask")
builder.add_edge("ask", END)
# No checkpointer here: the server gives the graph the one langgraph.json names.
graph = builder.compile()


class Note(TypedDict, total=False):
    key: str
    text: str
    stored: str


async def remember(state: Note, *, store: BaseStore) -> dict:
    # The store the server gives the graph: the one langgraph.json names.
    await store.aput(("notes",), state["key"], {"text": state["text"]})
    item = await store.aget(("notes",), state["key"])
    return {"stored": item.value["text"]}


memo_builder = StateGraph(Note)
memo_builder.add_node("remember", remember)
memo_builder.add_edge(START, "remember")
memo = memo_builder.compile()
"""

#: langgraph.json's store TTL: items expire an hour after they are written.
STORE_TTL = {"default_ttl": 60, "refresh_on_read": False}

#: Generous for a loaded 2-core machine: the server imports langgraph-api,
#: the graph and our package before it answers.
START_TIMEOUT = 120.0


def _langgraph_cli() -> Path:
    cli = Path(sys.executable).parent / "langgraph"
    if not cli.exists():
        pytest.skip("langgraph-cli is not installed (the test-server extra)")
    return cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny LangGraph project: one graph and a langgraph.json naming our factory."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "graph.py").write_text(GRAPH_MODULE)
    config = json.loads("{" + LANGGRAPH_JSON_LINE + ", " + STORE_JSON_LINE + "}")
    # The rest of the store's section reaches the factory (see STORE_TTL).
    config["store"]["ttl"] = STORE_TTL
    config["graphs"] = {"agent": "./graph.py:graph", "memo": "./graph.py:memo"}
    config["dependencies"] = ["."]
    (root / "langgraph.json").write_text(json.dumps(config))
    return root


class DevServer:
    """``langgraph dev`` in a subprocess of its own process group."""

    def __init__(self, project: Path, url: str, log: Path) -> None:
        self.project = project
        self.url = url
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ)
        # The store shares the checkpointer's database, by its URL.
        env.pop(STORE_URL_ENV_VAR, None)
        env.update(
            {
                URL_ENV_VAR: self.url,
                # Nothing leaves the machine: no analytics, no tracing.
                "LANGGRAPH_CLI_NO_ANALYTICS": "1",
                "LANGSMITH_TRACING": "false",
                "LANGCHAIN_TRACING_V2": "false",
            }
        )
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(_langgraph_cli()),
                    "dev",
                    "--no-browser",
                    # The watcher would restart the server on every file the
                    # test writes (the SQLite file among them).
                    "--no-reload",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=self.project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(
                    f"langgraph dev exited ({self.proc.returncode}):\n{self._tail()}"
                )
            try:
                if httpx.get(self.base_url + "/ok", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(
            f"langgraph dev did not answer in {START_TIMEOUT}s:\n{self._tail()}"
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # SIGINT first, as Ctrl-C: the server exits its lifespan, which closes
        # our saver; SIGKILL on the group if it takes too long.
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'checkpoints.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.mark.timeout(600)
def test_langgraph_dev_runs_on_our_saver(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    # langgraph-api (the server) needs Python 3.11; CI's newest run has it.
    pytest.importorskip("langgraph_api")
    from langgraph_sdk import get_sync_client

    server = DevServer(project, database_url, tmp_path / "server.log")
    try:
        server.start()
        client = get_sync_client(url=server.base_url, timeout=60)
        thread_id = client.threads.create()["thread_id"]

        client.runs.wait(thread_id, "agent", input={"question": "your name?"})
        state = client.threads.get_state(thread_id)
        assert state["next"] == ["ask"]
        assert state["tasks"][0]["interrupts"][0]["value"] == "your name?"

        result = client.runs.wait(thread_id, "agent", command={"resume": "Ada"})
        assert isinstance(result, dict) and result["answer"] == "Ada"

        # A node that writes to the store, a run without a thread.
        key = uuid.uuid4().hex  # the database may be shared: a key of our own
        memo = client.runs.wait(None, "memo", input={"key": key, "text": "hello"})
        assert isinstance(memo, dict) and memo["stored"] == "hello"

        # A new process: the state comes back from the database, not memory.
        server.stop()
        server.start()
        client = get_sync_client(url=server.base_url, timeout=60)
        state = client.threads.get_state(thread_id)
        assert state["values"] == {"question": "your name?", "answer": "Ada"}
        assert state["next"] == []
        # The store's item, through the server's store API after the restart.
        item = client.store.get_item(["notes"], key)
        assert item is not None and item["value"] == {"text": "hello"}

        # The server's thread copy, run deletion, thread deletion and prune,
        # each read back from our tables while the server still runs.
        copy_id = client.threads.copy(thread_id)["thread_id"]
        assert _checkpoints(database_url, copy_id) == _checkpoints(
            database_url, thread_id
        )

        # Two runs on one thread: deleting the second (adelete_for_runs)
        # removes the checkpoints it wrote and keeps the first run's.
        other = client.threads.create()["thread_id"]
        asked = client.runs.create(other, "agent", input={"question": "again?"})
        client.runs.join(other, asked["run_id"])
        answered = client.runs.create(other, "agent", command={"resume": "Bo"})
        client.runs.join(other, answered["run_id"])
        runs = _run_ids(database_url, other)
        assert runs.keys() == {asked["run_id"], answered["run_id"]}
        client.runs.delete(other, answered["run_id"])
        assert _run_ids(database_url, other) == {asked["run_id"]: runs[asked["run_id"]]}

        # The server's prune: "delete" deletes the thread through our saver
        # (adelete_thread); "keep_latest" the in-memory runtime refuses
        # itself (langgraph_runtime_inmem.ops.Threads.prune), before any
        # saver is asked: see test_the_grpc_servicer_prunes_through_our_saver.
        with pytest.raises(httpx.HTTPStatusError) as refused:
            client.threads.prune([other], strategy="keep_latest")
        assert refused.value.response.status_code == 422
        assert _checkpoints(database_url, other)
        assert client.threads.prune([other], strategy="delete")["pruned_count"] == 1
        assert _checkpoints(database_url, other) == {}

        client.threads.delete(thread_id)
        assert _checkpoints(database_url, thread_id) == {}
        server.stop()
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert "Using custom checkpointer: AsyncSQLAlchemySaver" in log
    finally:
        server.kill()

    # The store's row: langgraph.json's TTL reached the factory.
    (note,) = [
        r for r in _rows(database_url, StoreRecord.__table__, None) if r.key == key
    ]
    assert (note.prefix, note.value) == ("notes", {"text": "hello"})
    assert note.ttl_minutes == STORE_TTL["default_ttl"]
    assert note.expires_at is not None

    # The copy, read through our saver once the server is gone.
    with SQLAlchemySaver.from_url(database_url) as saver:
        assert saver.get_tuple({"configurable": {"thread_id": thread_id}}) is None
        copied = saver.get_tuple({"configurable": {"thread_id": copy_id}})
        assert copied is not None
        assert copied.checkpoint["channel_values"]["answer"] == "Ada"


def _rows(url: str, table: sa.Table, thread_id: str | None) -> list[Any]:
    """``table``'s rows (of ``thread_id``), read from the database directly."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            query = sa.select(table)
            if thread_id is not None:
                query = query.where(table.c.thread_id == thread_id)
            return list(conn.execute(query))
    finally:
        engine.dispose()


def _checkpoints(url: str, thread_id: str) -> dict[str, int]:
    """How many rows each of our tables holds for ``thread_id``, the
    checkpoint IDs aside (a copy keeps them)."""
    counts = {
        model.__tablename__: len(_rows(url, model.__table__, thread_id))
        for model in (CheckpointRecord, CheckpointBlobRecord, CheckpointWriteRecord)
    }
    return {table: count for table, count in counts.items() if count}


def _run_ids(url: str, thread_id: str) -> dict[str, int]:
    """The run IDs in ``thread_id``'s checkpoint metadata, with how many
    checkpoints each run wrote."""
    runs: dict[str, int] = {}
    for row in _rows(url, CheckpointRecord.__table__, thread_id):
        run_id = row._mapping["metadata"].get("run_id")
        runs[run_id] = runs.get(run_id, 0) + 1
    return runs


async def test_factory_without_a_url_names_the_env_var_and_the_json_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(URL_ENV_VAR, raising=False)
    with pytest.raises(RuntimeError) as info:
        async with checkpointer():
            pass
    assert URL_ENV_VAR in str(info.value)
    assert "langgraph.checkpoint.sqlalchemy.server.checkpointer" in str(info.value)


async def test_factory_sets_up_yields_and_closes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "factory.db"
    monkeypatch.setenv(URL_ENV_VAR, f"sqlite:///{path}")
    config: Any = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    async with checkpointer() as saver:
        # setup() ran: the tables exist before anything was written.
        def tables(conn: Any) -> set[str]:
            return set(inspect(conn).get_table_names())

        engine = saver._owned_engine
        assert engine is not None
        async with engine.connect() as conn:
            names = await conn.run_sync(tables)
        assert {"checkpoints", "checkpoint_blobs", "checkpoint_writes"} <= names
        assert await saver.aget_tuple(config) is None
    # Closed on exit: the saver gave up the engine it made, and disposed of it.
    assert saver._owned_engine is None
    assert engine.pool.checkedout() == 0


async def test_factory_takes_an_explicit_url_over_the_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(URL_ENV_VAR, "sqlite:///" + str(tmp_path / "not-this.db"))
    async with checkpointer(f"sqlite:///{tmp_path / 'this.db'}"):
        pass
    assert (tmp_path / "this.db").exists()
    assert not (tmp_path / "not-this.db").exists()


# -- the server's checkpointer service ---------------------------------------------

GRPC_SERVER = """
import asyncio
import sys

from langgraph_api import _checkpointer
from langgraph_api.grpc.server import start_python_grpc_server


async def main(port: int) -> None:
    # What the server does at start-up: load langgraph.json's checkpointer
    # (LANGGRAPH_CHECKPOINTER), then serve it to the server's core.
    await _checkpointer.start_checkpointer()
    server = await start_python_grpc_server(port=port, host="127.0.0.1")
    try:
        await server.wait_for_termination()
    finally:
        await _checkpointer.exit_checkpointer()


asyncio.run(main(int(sys.argv[1])))
"""


@pytest.mark.timeout(300)
def test_the_grpc_servicer_prunes_through_our_saver(
    database_url: str, tmp_path: Path
) -> None:
    """``aprune`` is called by langgraph-api's checkpointer gRPC service
    (``langgraph_api.grpc.servicers.checkpointer``, ``Prune``), which the
    server's core calls for thread TTL sweeps; ``langgraph dev`` never
    starts that service, and its own prune endpoint deletes threads only
    (see test_langgraph_dev_runs_on_our_saver). So the service is started
    here as the server starts it, on our factory, and asked to prune."""
    pytest.importorskip("langgraph_api")
    import grpc
    from langgraph_grpc_common.proto import checkpointer_pb2
    from langgraph_grpc_common.proto.checkpointer_pb2_grpc import CheckpointerStub

    from test_graphs import _counter

    kept, deleted = "grpc-kept", "grpc-deleted"
    with SQLAlchemySaver.from_url(database_url) as saver:
        saver.setup()
        graph = _counter(saver, until=2)
        for thread_id in (kept, deleted):
            for _ in range(3):
                graph.invoke(
                    {"count": 0, "log": []}, {"configurable": {"thread_id": thread_id}}
                )
        state = graph.get_state({"configurable": {"thread_id": kept}}).values
    assert len(_rows(database_url, CheckpointRecord.__table__, kept)) > 1

    script = tmp_path / "grpc_server.py"
    script.write_text(GRPC_SERVER)
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            URL_ENV_VAR: database_url,
            "LANGGRAPH_CHECKPOINTER": json.dumps(
                {"path": "langgraph.checkpoint.sqlalchemy.server.checkpointer"}
            ),
            # What `langgraph dev` sets for the in-memory runtime.
            "DATABASE_URI": ":memory:",
            "REDIS_URI": "fake",
            "MIGRATIONS_PATH": "__inmem",
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
        }
    )
    log = tmp_path / "grpc.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            ready = grpc.channel_ready_future(channel)
            deadline = time.monotonic() + START_TIMEOUT
            while not ready.done():
                if proc.poll() is not None or time.monotonic() > deadline:
                    ready.cancel()
                    pytest.fail(f"the gRPC service did not start:\n{log.read_text()}")
                time.sleep(0.5)
            stub = CheckpointerStub(channel)
            request = checkpointer_pb2.PruneRequest
            stub.Prune(
                request(thread_ids=[kept], strategy=request.KEEP_LATEST), timeout=60
            )
            stub.Prune(
                request(thread_ids=[deleted], strategy=request.DELETE_ALL), timeout=60
            )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    # keep_latest: one checkpoint left, the state whole; delete_all: nothing.
    assert len(_rows(database_url, CheckpointRecord.__table__, kept)) == 1
    assert _checkpoints(database_url, deleted) == {}
    with SQLAlchemySaver.from_url(database_url) as saver:
        graph = _counter(saver, until=2)
        assert graph.get_state({"configurable": {"thread_id": kept}}).values == state


# -- the store's factory ------------------------------------------------------------


async def test_store_factory_without_a_url_names_both_env_vars_and_the_json_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(URL_ENV_VAR, raising=False)
    monkeypatch.delenv(STORE_URL_ENV_VAR, raising=False)
    with pytest.raises(RuntimeError) as info:
        async with store():
            pass
    for name in (STORE_URL_ENV_VAR, URL_ENV_VAR, STORE_JSON_LINE):
        assert name in str(info.value)


async def test_store_factory_prefers_its_own_url_and_falls_back_to_the_checkpointers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LANGGRAPH_STORE", raising=False)
    shared, own = tmp_path / "shared.db", tmp_path / "own.db"
    monkeypatch.setenv(URL_ENV_VAR, f"sqlite:///{shared}")
    monkeypatch.delenv(STORE_URL_ENV_VAR, raising=False)
    async with store() as made:
        # setup() ran: the table is there before anything was written.
        await made.aput(("a",), "k", {"v": 1})
    assert _store_keys(f"sqlite:///{shared}") == ["k"]
    monkeypatch.setenv(STORE_URL_ENV_VAR, f"sqlite:///{own}")
    async with store() as made:
        await made.aput(("a",), "mine", {"v": 2})
    assert _store_keys(f"sqlite:///{own}") == ["mine"]
    assert _store_keys(f"sqlite:///{shared}") == ["k"]
    # Closed on exit: the engine it made is disposed of.
    assert made._owned_engine is None


async def test_store_factory_takes_the_ttl_of_langgraph_json_and_sweeps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What langgraph-api passes on from langgraph.json's store section.
    section = {
        "path": "langgraph.store.sqlalchemy.server.store",
        "ttl": {"default_ttl": 5, "sweep_interval_minutes": 10},
    }
    monkeypatch.setenv("LANGGRAPH_STORE", json.dumps(section))
    async with store(f"sqlite:///{tmp_path / 'ttl.db'}") as made:
        assert made.ttl_config == section["ttl"]
        # The server runs no sweeper for a custom store: the factory does.
        assert made._sweeper is not None and made._sweeper.running
        sweeper = made._sweeper
    assert not sweeper.running  # stopped on exit
    # An explicit ttl wins; without sweep_interval_minutes, no sweeper.
    async with store(
        f"sqlite:///{tmp_path / 'ttl.db'}", ttl={"default_ttl": 1}
    ) as made:
        assert made.ttl_config == {"default_ttl": 1}
        assert made._sweeper is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('{"index": {"dims": 3, "embed": "nowhere.py:embed"}}', "not a file"),
        ('{"index": [3]}', "must be an object"),
        ("not json", "LANGGRAPH_STORE is not JSON"),
        ("[1]", "must be a JSON object"),
    ],
)
async def test_store_factory_refuses_a_section_it_cannot_honour(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, section: str, message: str
) -> None:
    monkeypatch.setenv("LANGGRAPH_STORE", section)
    with pytest.raises(ValueError, match=message):
        async with store(f"sqlite:///{tmp_path / 'refused.db'}"):
            pass
    assert not (tmp_path / "refused.db").exists()  # refused before connecting


async def test_store_factory_takes_the_index_of_langgraph_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # langgraph.json names the embedding function by file and name.
    (tmp_path / "embed.py").write_text(
        "def embed(texts):\n"
        "    return [[1.0, 0.0] if 'cat' in t else [0.0, 1.0] for t in texts]\n"
    )
    monkeypatch.chdir(tmp_path)
    section = {"index": {"dims": 2, "embed": "./embed.py:embed", "fields": ["text"]}}
    monkeypatch.setenv("LANGGRAPH_STORE", json.dumps(section))
    async with store(f"sqlite:///{tmp_path / 'index.db'}") as made:
        await made.aput(("docs",), "a", {"text": "a dog"})
        await made.aput(("docs",), "b", {"text": "a cat"})
        found = await made.asearch(("docs",), query="cats")
    assert [item.key for item in found] == ["b", "a"]
    assert found[0].score is not None and found[0].score > found[1].score  # type: ignore[operator]
    monkeypatch.setenv(
        "LANGGRAPH_STORE",
        json.dumps({"index": {**section["index"], "embed": "./embed.py:nope"}}),
    )
    with pytest.raises(ValueError, match="has no 'nope'"):
        async with store(f"sqlite:///{tmp_path / 'index.db'}"):
            pass


def _store_keys(url: str) -> list[str]:
    return sorted(row.key for row in _rows(url, StoreRecord.__table__, None))
