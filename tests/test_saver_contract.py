"""Behaviour the conformance suite does not pin down, on every backend."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer

from langgraph.checkpoint.sqlalchemy import InvalidConfigError, SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

from conftest import Backend, needs_delta_channels

try:
    from langgraph.checkpoint.serde.types import _DeltaSnapshot
except ImportError:  # langgraph-checkpoint 4.0 (floor run): no delta channels
    _DeltaSnapshot = None


def _put_chain(
    saver: SQLAlchemySaver,
    thread_id: str,
    values: list[dict[str, Any]],
    ns: str = "",
) -> list[dict[str, Any]]:
    configs = []
    parent: dict[str, Any] | None = None
    for step, channel_values in enumerate(values):
        config = generate_config(thread_id, checkpoint_ns=ns)
        if parent is not None:
            config["configurable"]["checkpoint_id"] = parent["configurable"][
                "checkpoint_id"
            ]
        versions = {ch: saver.get_next_version(None) for ch in channel_values}
        checkpoint = generate_checkpoint(
            channel_values=channel_values, channel_versions=versions
        )
        parent = saver.put(config, checkpoint, generate_metadata(step=step), versions)
        configs.append(parent)
    return configs


# -- round trips -------------------------------------------------------------


def test_values_round_trip_inline_and_blob(saver: SQLAlchemySaver) -> None:
    values = {
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "none": None,
        "text": "héllo 👋",
        "nul_text": "a\x00b",
        "nan": float("nan"),
        "messages": [{"role": "user", "content": "hi"}],
        "raw": b"\x00\x01",
    }
    (config,) = _put_chain(saver, "t", [values])
    loaded = saver.get_tuple(config)
    assert loaded is not None
    got = loaded.checkpoint["channel_values"]
    assert got.pop("nan") != got.get("nan")  # NaN survives, as NaN
    expected = dict(values)
    expected.pop("nan")
    assert got == expected


def test_unchanged_channel_is_stored_once(saver: SQLAlchemySaver) -> None:
    big = {"items": list(range(100))}
    config = generate_config("t")
    versions = {"big": "1"}
    first = saver.put(
        config,
        generate_checkpoint(channel_values={"big": big}, channel_versions=versions),
        generate_metadata(step=0),
        versions,
    )
    # The next checkpoint keeps the same version of "big": no new blob.
    second = saver.put(
        first,
        generate_checkpoint(channel_values={"big": big}, channel_versions=versions),
        generate_metadata(step=1),
        {},
    )
    with saver.bind.connect() as conn:  # type: ignore[union-attr]
        from sqlalchemy import func, select

        from langgraph.checkpoint.sqlalchemy import CheckpointBlobRecord

        count = conn.execute(
            select(func.count()).select_from(CheckpointBlobRecord)
        ).scalar()
    assert count == 1
    loaded = saver.get_tuple(second)
    assert loaded is not None and loaded.checkpoint["channel_values"]["big"] == big


@needs_delta_channels
def test_delta_snapshot_marker_round_trip(saver: SQLAlchemySaver) -> None:
    snapshot = _DeltaSnapshot(value=[1, 2, 3])
    (config,) = _put_chain(saver, "t", [{"d": snapshot, "flag": True}])
    loaded = saver.get_tuple(config)
    assert loaded is not None
    assert loaded.checkpoint["channel_values"]["d"] == snapshot
    assert loaded.checkpoint["channel_values"]["flag"] is True


def test_pending_writes_sorted_by_writes_sort_key(saver: SQLAlchemySaver) -> None:
    (config,) = _put_chain(saver, "t", [{}])
    saver.put_writes(config, [("b", 1), ("a", 2)], task_id="task-z", task_path="~2")
    saver.put_writes(config, [("c", 3)], task_id="task-a", task_path="~1")
    saver.put_writes(config, [("__error__", "boom")], task_id="task-z", task_path="~2")
    loaded = saver.get_tuple(config)
    assert loaded is not None
    assert loaded.pending_writes == [
        ("task-a", "c", 3),
        ("task-z", "__error__", "boom"),
        ("task-z", "b", 1),
        ("task-z", "a", 2),
    ]


def test_put_writes_idempotent_and_special_writes_overwrite(
    saver: SQLAlchemySaver,
) -> None:
    (config,) = _put_chain(saver, "t", [{}])
    saver.put_writes(config, [("x", 1)], task_id="t1")
    saver.put_writes(config, [("x", 2)], task_id="t1")  # a replay: ignored
    saver.put_writes(config, [("__interrupt__", "first")], task_id="t1")
    saver.put_writes(config, [("__interrupt__", "second")], task_id="t1")
    loaded = saver.get_tuple(config)
    assert loaded is not None
    assert sorted(loaded.pending_writes or []) == [
        ("t1", "__interrupt__", "second"),
        ("t1", "x", 1),
    ]


def test_metadata_filter_nested_and_typed(saver: SQLAlchemySaver) -> None:
    config = generate_config("t")
    for i, meta in enumerate(
        [
            {"user": {"id": 7}, "score": 1, "ok": True},
            {"user": {"id": 8}, "score": 1.5, "ok": False},
            {"user": None, "score": "1", "ok": None},
        ]
    ):
        config = saver.put(
            config,
            generate_checkpoint(),
            {**generate_metadata(step=i), **meta},  # type: ignore[typeddict-item]
            {},
        )

    def steps(filter: dict[str, Any]) -> list[int]:
        return sorted(t.metadata["step"] for t in saver.list(None, filter=filter))

    assert steps({"user": {"id": 7}}) == [0]
    assert steps({"score": 1}) == [0]
    assert steps({"score": "1"}) == [2]
    assert steps({"ok": True}) == [0]
    assert steps({"ok": False}) == [1]
    assert steps({"user": None}) == [2]
    assert steps({"missing": 1}) == []


def test_list_pages_across_many_checkpoints(saver: SQLAlchemySaver) -> None:
    configs = _put_chain(saver, "t", [{"i": i} for i in range(250)])
    listed = list(saver.list(generate_config("t")))
    assert [t.config for t in listed] == list(reversed(configs))
    assert len(list(saver.list(generate_config("t"), limit=120))) == 120
    before = configs[100]
    older = list(saver.list(generate_config("t"), before=before))
    assert len(older) == 100


def test_encrypted_serializer(saver: SQLAlchemySaver) -> None:
    serde = EncryptedSerializer.from_pycryptodome_aes(key=b"0123456789abcdef")
    encrypted = SQLAlchemySaver(saver.bind, serde=serde)
    (config,) = _put_chain(encrypted, "t", [{"secret": {"card": "4111"}}])
    encrypted.put_writes(config, [("w", {"pin": 1234})], task_id="t1")
    loaded = encrypted.get_tuple(config)
    assert loaded is not None
    assert loaded.checkpoint["channel_values"]["secret"] == {"card": "4111"}
    assert loaded.pending_writes == [("t1", "w", {"pin": 1234})]
    with pytest.raises(Exception):
        saver.get_tuple(config)  # the plain serializer can't read ciphertext


@pytest.mark.skipif(
    not hasattr(BaseCheckpointSaver, "with_allowlist"),
    reason="langgraph-checkpoint 4.0 has no with_allowlist (LangGraph checks for it)",
)
def test_with_allowlist_keeps_working(saver: SQLAlchemySaver) -> None:
    clone = saver.with_allowlist([("builtins", "set")])
    (config,) = _put_chain(clone, "t", [{"s": {"a": 1}}])  # type: ignore[arg-type]
    loaded = clone.get_tuple(config)
    assert loaded is not None and loaded.checkpoint["channel_values"]["s"] == {"a": 1}


# -- bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"configurable": {}},
        {"configurable": {"thread_id": None}},
        None,
        "thread-1",
    ],
)
def test_config_without_thread_id_names_the_key(
    saver: SQLAlchemySaver, config: Any
) -> None:
    with pytest.raises(InvalidConfigError) as err:
        saver.get_tuple(config)
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert "thread_id" in str(err.value) or "configurable" in str(err.value)


def test_non_string_thread_ids(saver: SQLAlchemySaver) -> None:
    tid = uuid.uuid4()
    config = saver.put(
        {"configurable": {"thread_id": tid, "checkpoint_ns": ""}},
        generate_checkpoint(),
        generate_metadata(),
        {},
    )
    assert config["configurable"]["thread_id"] == str(tid)
    assert saver.get_tuple({"configurable": {"thread_id": str(tid)}}) is not None
    saver.put({"configurable": {"thread_id": 42}}, generate_checkpoint(), {}, {})
    assert saver.get_tuple({"configurable": {"thread_id": "42"}}) is not None
    with pytest.raises(InvalidConfigError):
        saver.get_tuple({"configurable": {"thread_id": {"a": 1}}})


def test_unknown_checkpoint_id_gives_none(saver: SQLAlchemySaver) -> None:
    _put_chain(saver, "t", [{}])
    assert saver.get_tuple(generate_config("t", checkpoint_id="nope")) is None
    assert saver.get_tuple(generate_config("other")) is None


def test_metadata_nul_and_injection_are_data(saver: SQLAlchemySaver) -> None:
    hostile = "x'); DROP TABLE checkpoints; --"
    meta = {
        **generate_metadata(),
        "note": "nul\x00inside",
        "nested": {"deep": "a\x00b"},
        hostile: "%s %(x)s ? :name",
        '$.a"b': 1,
    }
    config = saver.put(generate_config("t"), generate_checkpoint(), meta, {})  # type: ignore[arg-type]
    loaded = saver.get_tuple(config)
    assert loaded is not None
    assert loaded.metadata["note"] == "nulinside"
    assert loaded.metadata["nested"] == {"deep": "ab"}
    for key, value in [(hostile, "%s %(x)s ? :name"), ('$.a"b', 1)]:
        found = list(saver.list(None, filter={key: value}))
        assert [t.config for t in found] == [config]
    assert list(saver.list(None, filter={"source": hostile})) == []
    assert saver.get_tuple(config) is not None  # the table is still there


def test_unicode_and_emoji_everywhere(saver: SQLAlchemySaver) -> None:
    thread, ns, channel, task = "fil 🧵 ünï", "sub:グラフ🙂", "canal ✉️", "tâche 🛠"
    values = {channel: ["héllo 👋", {"clé 🔑": "välue ✅"}], "plain": "日本語 🎌"}
    config = generate_config(thread, checkpoint_ns=ns)
    versions = {ch: saver.get_next_version(None) for ch in values}
    meta = {**generate_metadata(), "note 📝": "ça va 😀", "deep": {"ключ": "значение"}}
    stored = saver.put(
        config,
        generate_checkpoint(channel_values=values, channel_versions=versions),
        meta,  # type: ignore[arg-type]
        versions,
    )
    saver.put_writes(stored, [(channel, "écrit ✍️")], task, "chemin 🛤")
    loaded = saver.get_tuple(generate_config(thread, checkpoint_ns=ns))
    assert loaded is not None
    assert loaded.config == stored
    assert loaded.checkpoint["channel_values"] == values
    assert loaded.metadata["note 📝"] == "ça va 😀"
    assert loaded.pending_writes == [(task, channel, "écrit ✍️")]
    found = list(saver.list(None, filter={"note 📝": "ça va 😀"}))
    assert [t.config for t in found] == [stored]
    assert list(saver.list(None, filter={"note 📝": "ça va 😁"})) == []


@pytest.mark.parametrize("field", ["thread_id", "checkpoint_ns", "task_id", "channel"])
def test_nul_in_a_key_is_refused_and_loses_nothing(
    saver: SQLAlchemySaver, field: str
) -> None:
    (stored,) = _put_chain(saver, "t", [{"a": 1}])
    saver.put_writes(stored, [("a", 2)], "task")
    before = saver.get_tuple(generate_config("t"))
    calls: dict[str, Any] = {
        "thread_id": lambda: saver.put(
            generate_config("t\x00x"), generate_checkpoint(), {}, {}
        ),
        "checkpoint_ns": lambda: saver.put(
            generate_config("t", checkpoint_ns="a\x00b"), generate_checkpoint(), {}, {}
        ),
        "task_id": lambda: saver.put_writes(stored, [("a", 3)], "ta\x00sk"),
        "channel": lambda: saver.put_writes(stored, [("a\x00", 3)], "task"),
    }
    with pytest.raises(ValueError, match=f"{field}'?]? contains a NUL"):
        calls[field]()
    assert saver.get_tuple(generate_config("t")) == before
    assert len(list(saver.list(None))) == 1


def test_before_from_another_thread_compares_ids_only(saver: SQLAlchemySaver) -> None:
    """``before`` is a checkpoint ID bound, wherever it came from, as in the
    official savers: listing thread "a" before one of thread "b"'s checkpoints
    gives thread "a"'s older checkpoints, never thread "b"'s."""
    first_a = _put_chain(saver, "a", [{}, {}])
    (b,) = _put_chain(saver, "b", [{}])
    last_a = _put_chain(saver, "a", [{}])
    listed = list(saver.list(generate_config("a"), before=b))
    assert [t.config for t in listed] == list(reversed(first_a))
    assert last_a[0] not in [t.config for t in listed]
    assert list(saver.list(generate_config("a"), before=first_a[0])) == []


def test_non_json_metadata_is_refused_and_loses_nothing(saver: SQLAlchemySaver) -> None:
    (config,) = _put_chain(saver, "t", [{"a": 1}])
    with pytest.raises(TypeError, match="metadata"):
        saver.put(config, generate_checkpoint(), {"obj": object()}, {})  # type: ignore[typeddict-unknown-key]
    assert len(list(saver.list(generate_config("t")))) == 1


def test_bad_list_arguments(saver: SQLAlchemySaver) -> None:
    _put_chain(saver, "t", [{}, {}])
    with pytest.raises(ValueError, match="limit"):
        list(saver.list(None, limit=-1))
    with pytest.raises(TypeError, match="limit"):
        list(saver.list(None, limit="2"))  # type: ignore[arg-type]
    assert list(saver.list(None, limit=0)) == []
    with pytest.raises(TypeError, match="filter"):
        list(saver.list(None, filter=["source"]))  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="before"):
        list(saver.list(None, before={"configurable": {}}))


def test_key_too_long_is_refused_not_truncated(backend: Backend) -> None:
    saver = backend.saver()
    try:
        long_id = "t" * 10_000
        if backend.database != "postgres":  # bounded VARCHAR keys
            with pytest.raises(ValueError, match="thread_id is 10000 characters"):
                saver.put(generate_config(long_id), generate_checkpoint(), {}, {})
            assert list(saver.list(None)) == []
        else:  # PostgreSQL: TEXT keys, stored whole (the index compresses them)
            config = saver.put(generate_config(long_id), generate_checkpoint(), {}, {})
            loaded = saver.get_tuple(generate_config(long_id))
            assert loaded is not None
            assert loaded.config == config
            assert loaded.config["configurable"]["thread_id"] == long_id
    finally:
        saver.close()


def test_copy_thread_refuses_a_taken_target(saver: SQLAlchemySaver) -> None:
    _put_chain(saver, "src", [{"a": 1}, {"a": 2}])
    _put_chain(saver, "dst", [{"a": 9}])
    with pytest.raises(ValueError, match="already has checkpoints"):
        saver.copy_thread("src", "dst")
    assert len(list(saver.list(generate_config("dst")))) == 1
    with pytest.raises(ValueError, match="same thread"):
        saver.copy_thread("src", "src")


def test_prune_arguments(saver: SQLAlchemySaver) -> None:
    with pytest.raises(TypeError):
        saver.prune("thread")
    with pytest.raises(ValueError, match="strategy"):
        saver.prune(["t"], strategy="all")


# -- delta history -----------------------------------------------------------


class _BaseWalk(BaseCheckpointSaver[str]):
    """The base class's reference walk (one get_tuple per ancestor) on our data."""

    def __init__(self, inner: SQLAlchemySaver) -> None:
        super().__init__(serde=inner.serde)
        self.get_tuple = inner.get_tuple  # type: ignore[method-assign]


@needs_delta_channels
def test_delta_channel_history_matches_reference_walk(saver: SQLAlchemySaver) -> None:
    thread = "t"
    parent: dict[str, Any] | None = None
    versions: dict[str, str] = {}
    configs = []
    for step in range(12):
        values: dict[str, Any] = {}
        new_versions: dict[str, str] = {}
        for ch in ("d", "e"):
            versions[ch] = saver.get_next_version(versions.get(ch))
            new_versions[ch] = versions[ch]
        if step % 5 == 0:
            values["d"] = _DeltaSnapshot(value=list(range(step)))
        if step == 3:
            values["e"] = "inline-seed"
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = values
        checkpoint["channel_versions"] = dict(versions)
        config = generate_config(thread)
        if parent is not None:
            config["configurable"]["checkpoint_id"] = parent["configurable"][
                "checkpoint_id"
            ]
        parent = saver.put(
            config, checkpoint, generate_metadata(step=step), new_versions
        )
        saver.put_writes(
            parent, [("d", step), ("e", -step)], task_id=f"a{step}", task_path="~1"
        )
        saver.put_writes(parent, [("d", step * 10)], task_id=f"b{step}", task_path="~0")
        configs.append(parent)
    reference = _BaseWalk(saver)
    for target in (configs[-1], configs[7], configs[1], generate_config(thread)):
        ours = saver.get_delta_channel_history(config=target, channels=["d", "e", "zz"])
        expected = reference.get_delta_channel_history(
            config=target, channels=["d", "e", "zz"]
        )
        assert ours == expected


# -- setup -------------------------------------------------------------------


def _setup_in_process(url: str) -> None:
    saver = SQLAlchemySaver.from_url(url)
    try:
        saver.setup()
    finally:
        saver.close()


def test_setup_is_idempotent_and_safe_concurrently(backend: Backend) -> None:
    if backend.name == "sqlite-memory":
        # One in-memory database can't span processes: four threads share it.
        saver = backend.saver()
        try:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: saver.setup(), range(4)))
            _put_chain(saver, "t", [{"a": 1}])
            assert saver.get_tuple(generate_config("t")) is not None
        finally:
            saver.close()
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_setup_in_process, args=(backend.sync_url,))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    saver = backend.saver()
    try:
        saver.setup()
        _put_chain(saver, "t", [{"a": 1}])
        assert saver.get_tuple(generate_config("t")) is not None
    finally:
        saver.close()


# -- async specifics ---------------------------------------------------------


async def test_async_sync_methods_from_threads_and_loop(
    asaver: AsyncSQLAlchemySaver,
) -> None:
    config = await asaver.aput(generate_config("t"), generate_checkpoint(), {}, {})
    got = await asyncio.to_thread(asaver.get_tuple, config)
    assert got is not None and got.config == config
    assert len(await asyncio.to_thread(lambda: list(asaver.list(None)))) == 1
    with pytest.raises(asyncio.InvalidStateError, match="event loop"):
        asaver.get_tuple(config)


async def test_async_memory_database_is_shared_and_serialized() -> None:
    async with AsyncSQLAlchemySaver.from_url("sqlite:///:memory:") as saver:
        await saver.setup()

        async def one(i: int) -> None:
            config = await saver.aput(
                generate_config(f"t{i}"), generate_checkpoint(), {}, {}
            )
            await saver.aput_writes(config, [("c", i)], task_id="x")

        await asyncio.gather(*(one(i) for i in range(20)))
        assert len([t async for t in saver.alist(None)]) == 20


def test_memory_engine_with_per_thread_pool_is_refused() -> None:
    import sqlalchemy as sa

    with pytest.raises(ValueError, match="StaticPool"):
        SQLAlchemySaver(sa.create_engine("sqlite://"))


async def test_an_autocommit_engine_is_refused_with_a_way_out(
    tmp_path: Path,
) -> None:
    """On an engine or connection that autocommits every statement, calls of
    several statements could not be atomic: the saver says so and how to
    give it the same engine with transactions, which then works."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    path = tmp_path / "c.db"
    engine = sa.create_engine(f"sqlite:///{path}", isolation_level="AUTOCOMMIT")
    aengine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    try:
        refused = [
            lambda: SQLAlchemySaver(engine),
            lambda: SQLAlchemySaver(
                sa.create_engine(f"sqlite:///{path}").execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            ),
            lambda: AsyncSQLAlchemySaver(
                aengine.execution_options(isolation_level="AUTOCOMMIT")
            ),
        ]
        for make in refused:
            with pytest.raises(
                ValueError, match=r"execution_options\(isolation_level="
            ):
                make()
        with engine.connect() as conn, pytest.raises(ValueError, match="autocommits"):
            SQLAlchemySaver(conn)
        saver = SQLAlchemySaver(
            engine.execution_options(isolation_level="SERIALIZABLE")
        )
        saver.setup()
        config = saver.put(generate_config("t"), generate_checkpoint(), {}, {})
        saver.copy_thread("t", "u")
        assert saver.get_tuple(generate_config("u")) is not None
        assert saver.get_tuple(config) is not None
    finally:
        engine.dispose()
        await aengine.dispose()


def test_connect_args_add_to_the_defaults(tmp_path: Path) -> None:
    """A caller's connect_args override ours key by key: a SQLite file keeps
    its busy timeout under a connect_args that does not name it, and a
    one-connection engine may be shared by LangGraph's threads."""
    import sqlite3

    from sqlalchemy.pool import StaticPool

    url = f"sqlite:///{tmp_path / 'c.db'}"
    seen: list[float] = []

    class Recording(sqlite3.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs["timeout"])
            super().__init__(*args, **kwargs)

    with SQLAlchemySaver.from_url(
        url, engine_kwargs={"connect_args": {"factory": Recording}}
    ) as saver:
        saver.setup()
    assert seen and set(seen) == {30}
    with SQLAlchemySaver.from_url(
        url, engine_kwargs={"connect_args": {"timeout": 5, "factory": Recording}}
    ) as saver:
        saver.setup()
    assert seen[-1] == 5
    with SQLAlchemySaver.from_url(
        url, engine_kwargs={"poolclass": StaticPool}
    ) as saver:
        config = generate_config("from-another-thread")
        worker = threading.Thread(
            target=saver.put, args=(config, generate_checkpoint(), {}, {})
        )
        worker.start()
        worker.join()
        assert saver.get_tuple(config) is not None  # sqlite3 did not refuse it


def test_repr_hides_password() -> None:
    saver = SQLAlchemySaver.from_url("postgresql://user:s3cret@db.invalid/x")
    assert "s3cret" not in repr(saver)
    assert "postgresql+psycopg" in repr(saver)
    saver.close()


def test_blob_over_the_packet_limit_is_refused_whole(mariadb_url: str) -> None:
    """MySQL/MariaDB drop the connection over a statement larger than
    max_allowed_packet; the saver refuses it first, naming the setting."""
    import sqlalchemy as sa

    from langgraph.checkpoint.sqlalchemy import PayloadTooLargeError

    admin = sa.create_engine(mariadb_url)
    with admin.begin() as conn:
        old = conn.exec_driver_sql("SELECT @@GLOBAL.max_allowed_packet").scalar()
        conn.exec_driver_sql("SET GLOBAL max_allowed_packet = 2097152")
    try:
        with SQLAlchemySaver.from_url(mariadb_url) as saver:
            saver.setup()
            (config,) = _put_chain(saver, "big", [{"small": [1]}])
            huge = {"blob": b"x" * (3 << 20)}
            versions = {"huge": "2"}
            with pytest.raises(PayloadTooLargeError, match="max_allowed_packet"):
                saver.put(
                    config,
                    generate_checkpoint(
                        channel_values={"huge": huge}, channel_versions=versions
                    ),
                    generate_metadata(step=1),
                    versions,
                )
            with pytest.raises(PayloadTooLargeError, match="max_allowed_packet"):
                saver.put_writes(config, [("huge", huge)], task_id="t")
            # Nothing partial, and the saver still works.
            assert [t.config for t in saver.list(generate_config("big"))] == [config]
            loaded = saver.get_tuple(config)
            assert loaded is not None
            assert loaded.pending_writes == []
            (more,) = _put_chain(saver, "big2", [{"fine": [2]}])
            assert saver.get_tuple(more) is not None
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"SET GLOBAL max_allowed_packet = {int(old)}")
        admin.dispose()


def test_fifty_megabyte_blob_round_trips(saver: SQLAlchemySaver) -> None:
    big = {"payload": b"\x00\xff" * (25 << 20)}
    (config,) = _put_chain(saver, "huge", [big])
    loaded = saver.get_tuple(config)
    assert loaded is not None
    assert loaded.checkpoint["channel_values"]["payload"] == big["payload"]
