"""What only MySQL/MariaDB do: statements over ``max_allowed_packet``, the
session-scoped setup lock, DDL that commits on its own."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

from langgraph.checkpoint.sqlalchemy import PayloadTooLargeError, SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

SMALL_PACKET = 2 << 20  # 2 MiB, the smallest limit worth testing against
LOCK_NAME = "langgraph_checkpoint_setup"


@pytest.fixture
def small_packets(mariadb_url: str) -> Iterator[str]:
    """The server's max_allowed_packet lowered to 2 MiB for new connections."""
    admin = sa.create_engine(mariadb_url)
    with admin.begin() as conn:
        old = conn.exec_driver_sql("SELECT @@GLOBAL.max_allowed_packet").scalar_one()
        conn.exec_driver_sql(f"SET GLOBAL max_allowed_packet = {SMALL_PACKET}")
    try:
        yield mariadb_url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"SET GLOBAL max_allowed_packet = {int(old)}")
        admin.dispose()


def _stored(url: str, thread_id: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: conn.exec_driver_sql(
                    f"SELECT COUNT(*) FROM {table} WHERE thread_id = %s",
                    (thread_id,),
                ).scalar_one()
                for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
            }
    finally:
        engine.dispose()


# Three megabytes where the pre-check of blob sizes alone does not look: a
# string kept inline in the checkpoint document, metadata, and 1.5 MB of bytes
# that the driver's escaping doubles on the wire.
OVERSIZED: dict[str, Callable[[], dict[str, Any]]] = {
    "inline-text": lambda: {"values": {"text": "x" * (3 << 20)}},
    "escaped-blob": lambda: {"values": {"raw": b"\x00'" * (3 << 18)}},
    "metadata": lambda: {"metadata": {"note": "y" * (3 << 20)}},
    "writes": lambda: {"writes": [("raw", b"\x00" * (3 << 19))]},
}


def _put_args(
    values: dict[str, Any], step: int, **metadata: Any
) -> tuple[Any, Any, Any]:
    """A checkpoint of ``values``, its metadata and new versions."""
    versions: dict[str, str | int | float] = dict.fromkeys(values, "2")
    checkpoint = generate_checkpoint(channel_values=values, channel_versions=versions)
    return checkpoint, {**generate_metadata(step=step), **metadata}, versions


def _oversized_write(
    saver: SQLAlchemySaver, config: Any, case: str
) -> Callable[[], object]:
    payload = OVERSIZED[case]()
    if "writes" in payload:
        return lambda: saver.put_writes(config, payload["writes"], task_id="t")
    args = _put_args(payload.get("values", {}), 1, **payload.get("metadata", {}))
    return lambda: saver.put(config, *args)


def _aoversized_write(
    saver: AsyncSQLAlchemySaver, config: Any, case: str
) -> Callable[[], Awaitable[object]]:
    payload = OVERSIZED[case]()
    if "writes" in payload:
        return lambda: saver.aput_writes(config, payload["writes"], task_id="t")
    args = _put_args(payload.get("values", {}), 1, **payload.get("metadata", {}))
    return lambda: saver.aput(config, *args)


@pytest.mark.parametrize("case", list(OVERSIZED))
def test_oversized_statement_names_max_allowed_packet(
    small_packets: str, case: str
) -> None:
    thread = f"big-{case}-{uuid.uuid4().hex[:8]}"
    with SQLAlchemySaver.from_url(small_packets) as saver:
        saver.setup()
        first = saver.put(generate_config(thread), *_put_args({}, 0))
        before = _stored(small_packets, thread)
        write = _oversized_write(saver, first, case)
        with pytest.raises(PayloadTooLargeError, match="max_allowed_packet") as info:
            write()
        assert f"{SMALL_PACKET} bytes" in str(info.value)
        # Nothing partial, and the saver goes on working.
        assert _stored(small_packets, thread) == before
        loaded = saver.get_tuple(first)
        assert loaded is not None and loaded.pending_writes == []
        after = saver.put(first, *_put_args({"small": [1]}, 2))
        assert saver.get_tuple(after) is not None


@pytest.mark.parametrize("case", list(OVERSIZED))
async def test_oversized_statement_names_max_allowed_packet_async(
    small_packets: str, case: str
) -> None:
    thread = f"abig-{case}-{uuid.uuid4().hex[:8]}"
    async with AsyncSQLAlchemySaver.from_url(small_packets) as saver:
        await saver.setup()
        first = await saver.aput(generate_config(thread), *_put_args({}, 0))
        before = _stored(small_packets, thread)
        write = _aoversized_write(saver, first, case)
        with pytest.raises(PayloadTooLargeError, match="max_allowed_packet"):
            await write()
        assert _stored(small_packets, thread) == before
        loaded = await saver.aget_tuple(first)
        assert loaded is not None and loaded.pending_writes == []
        after = await saver.aput(first, *_put_args({"small": [1]}, 2))
        assert await saver.aget_tuple(after) is not None


def test_a_lost_connection_under_the_limit_stays_a_driver_error(
    mariadb_url: str,
) -> None:
    """Only statements over the limit are reported as too large: a
    connection killed under a small one is still an outage."""
    with SQLAlchemySaver.from_url(mariadb_url) as saver:
        saver.setup()
        engine = saver.bind
        assert isinstance(engine, sa.Engine)
        with engine.connect() as conn:
            own = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one()
            killer = sa.create_engine(mariadb_url)
            try:
                with killer.connect() as other:
                    other.exec_driver_sql(f"KILL {int(own)}")
            finally:
                killer.dispose()
            with pytest.raises(sa.exc.DBAPIError) as info:
                conn.exec_driver_sql("SELECT 1")
            assert not isinstance(info.value, PayloadTooLargeError)
            assert info.value.connection_invalidated


# -- setup ---------------------------------------------------------------------


def _setup_in_process(url: str) -> None:
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()


def test_concurrent_setup_on_a_fresh_database(mariadb_url: str) -> None:
    """Four processes create the tables at once on an empty database (the
    shared ``backend`` fixture's database already has them)."""
    from servers.mariadb import fresh_database

    url = fresh_database(mariadb_url, f"lgsa_setup_{uuid.uuid4().hex[:8]}")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_setup_in_process, args=(url,)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
        config = saver.put(generate_config("t"), *_put_args({}, 0))
        assert saver.get_tuple(config) is not None
        with saver.bind.connect() as conn:  # type: ignore[union-attr]
            version = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM langgraph_checkpoint_alembic_version"
            ).scalar()
    assert version == 1


def test_setup_lock_is_released(mariadb_url: str) -> None:
    """GET_LOCK belongs to the session, which the pool keeps open: setup()
    must release it, or every other process's setup() waits for it."""
    with SQLAlchemySaver.from_url(
        mariadb_url, engine_kwargs={"pool_size": 1, "max_overflow": 0}
    ) as saver:
        saver.setup()
        saver.setup()
        with saver.bind.connect() as conn:  # type: ignore[union-attr]
            # The pool's one connection: the one setup() ran on.
            assert (
                conn.exec_driver_sql(f"SELECT IS_USED_LOCK('{LOCK_NAME}')").scalar()
                is None
            )
        other = sa.create_engine(mariadb_url)
        try:
            with other.connect() as conn:
                got = conn.exec_driver_sql(
                    f"SELECT GET_LOCK('{LOCK_NAME}', 0)"
                ).scalar()
                conn.exec_driver_sql(f"SELECT RELEASE_LOCK('{LOCK_NAME}')")
        finally:
            other.dispose()
        assert got == 1
