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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.migrate import URL_ENV_VAR
from langgraph.checkpoint.sqlalchemy.server import LANGGRAPH_JSON_LINE, checkpointer

from servers._local import free_port

GRAPH_MODULE = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
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
"""

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
    config = json.loads("{" + LANGGRAPH_JSON_LINE + "}")
    config["graphs"] = {"agent": "./graph.py:graph"}
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

        # A new process: the state comes back from the database, not memory.
        server.stop()
        server.start()
        client = get_sync_client(url=server.base_url, timeout=60)
        state = client.threads.get_state(thread_id)
        assert state["values"] == {"question": "your name?", "answer": "Ada"}
        assert state["next"] == []

        copy_id = client.threads.copy(thread_id)["thread_id"]
        client.threads.delete(thread_id)
        server.stop()
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert "Using custom checkpointer: AsyncSQLAlchemySaver" in log
    finally:
        server.kill()

    # The rows, read through our saver: the copy is there, the original gone.
    with SQLAlchemySaver.from_url(database_url) as saver:
        assert saver.get_tuple({"configurable": {"thread_id": thread_id}}) is None
        copied = saver.get_tuple({"configurable": {"thread_id": copy_id}})
        assert copied is not None
        assert copied.checkpoint["channel_values"]["answer"] == "Ada"


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
