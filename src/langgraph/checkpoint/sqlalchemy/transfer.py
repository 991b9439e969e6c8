"""Moving threads from one database to another.

:func:`transfer` copies threads from a source database to a target database
that this package's :class:`~langgraph.checkpoint.sqlalchemy.SQLAlchemySaver`
manages (``setup()`` runs on it first). The source is found by looking at its
tables, and may hold:

* ``"sqlalchemy"``: this package's tables, on any database it supports;
* ``"postgres"``: langgraph-checkpoint-postgres's tables (``PostgresSaver``),
  which on PostgreSQL are this package's tables too;
* ``"sqlite"``: langgraph-checkpoint-sqlite's tables (``SqliteSaver``:
  ``checkpoints`` with the whole checkpoint serialized in one column, and
  ``writes``).

Every checkpoint is read as its saver reads it (deserialized with the
serializer), and written with the target saver's ``put_writes`` and ``put``:
checkpoint IDs, parents, metadata, channel versions and pending writes (with
their task paths) come across unchanged, and the target's own rules apply (key
lengths, JSON metadata). A checkpoint's writes go in before the checkpoint, so
a checkpoint present in the target always has all its writes.

The copy can be stopped at any point and run again: a thread whose checkpoints
are all in the target is skipped, a half-copied one gets its missing
checkpoints (the target's ``put`` and ``put_writes`` are upserts), and a
target thread holding checkpoints the source lacks is left alone and reported
as a conflict. At the end each thread is verified: the number of checkpoints
and a SHA-256 over everything a saver returns for them (IDs, parents, the
checkpoint with its channel values serialized, metadata, pending writes) must
be the same on both sides.

Reads go a batch of checkpoints at a time; per thread, only the checkpoint
keys (namespace and ID) are held in memory.

With ``with_store=True`` the memory store's items come along too (the whole
store, whichever threads are chosen): see
:mod:`langgraph.checkpoint.sqlalchemy.store_transfer` for how, and for the
conflict rule (the newer ``updated_at`` wins).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy._compat import writes_sort_key
from langgraph.checkpoint.sqlalchemy.dialects import database_file, same_database
from langgraph.checkpoint.sqlalchemy.migrate import VERSION_TABLE
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import (
    inspection,
    official_sqlite,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    Codec,
    config_for,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.tables import CHECKPOINTS
from langgraph.checkpoint.sqlalchemy.repository.plan import Plan, T
from langgraph.checkpoint.sqlalchemy.runtime.driver import run
from langgraph.checkpoint.sqlalchemy.runtime.engines import make_engine, printable_url
from langgraph.checkpoint.sqlalchemy.store_transfer import (
    DEFAULT_STORE_BATCH_SIZE,
    StoreReport,
    copy_store,
    has_store,
)
from sqlalchemy import Engine, and_, inspect, or_, select
from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.sql.expression import TableClause

__all__ = [
    "LAYOUTS",
    "ChecksumMismatchError",
    "Layout",
    "SourceInfo",
    "StoreReport",
    "ThreadReport",
    "TransferError",
    "TransferProgress",
    "TransferReport",
    "UnknownLayoutError",
    "checksum",
    "detect_layout",
    "inspect_source",
    "transfer",
    "verify",
]

Layout = Literal["sqlalchemy", "postgres", "sqlite"]
LAYOUTS: tuple[Layout, ...] = ("sqlalchemy", "postgres", "sqlite")

#: What happened to a thread: ``copied`` (all of it, this run), ``resumed``
#: (the checkpoints a previous run had not copied), ``skipped`` (already
#: complete in the target), ``planned`` (a dry run would copy it),
#: ``conflict`` (the target thread has checkpoints the source lacks; left
#: alone), ``not-found`` (asked for, but not in the source).
ThreadStatus = Literal[
    "copied", "resumed", "skipped", "planned", "conflict", "not-found"
]

DEFAULT_BATCH_SIZE = 100
# The official PostgreSQL saver's bookkeeping table.
_POSTGRES_MIGRATIONS = "checkpoint_migrations"
_OUR_TABLES = {"checkpoints", "checkpoint_blobs", "checkpoint_writes"}


class TransferError(Exception):
    """A transfer cannot start or go on: unreachable database, bad URL, the
    same database on both sides, and the like. The message is one line."""


class UnknownLayoutError(TransferError):
    """The source has no checkpoint tables this module knows how to read."""


class ChecksumMismatchError(TransferError):
    """Raised by :meth:`TransferReport.raise_for_problems` when a thread in the
    target differs from the source."""


@dataclass(frozen=True)
class SourceInfo:
    """What :func:`inspect_source` found."""

    layout: Layout
    dialect: str
    threads: int


@dataclass(frozen=True)
class TransferProgress:
    """Handed to the ``progress`` callback after each batch and each thread.

    ``phase`` is ``"copy"`` (also during a dry run) or ``"verify"``;
    ``threads_done`` counts the threads finished in that phase, out of
    ``threads_total``; ``checkpoints_copied`` counts the checkpoints written
    so far in this run.
    """

    phase: Literal["copy", "verify"]
    thread_id: str
    threads_done: int
    threads_total: int
    checkpoints_copied: int


@dataclass
class ThreadReport:
    """The outcome for one thread.

    ``checkpoints`` is the source's count; ``copied`` how many of them this run
    wrote (or would write, in a dry run). ``verified`` is ``True`` when the
    target matched the source, ``False`` when it did not (see
    ``source_checksum``/``target_checksum`` and ``target_checkpoints``), and
    ``None`` when it was not checked.
    """

    thread_id: str
    status: ThreadStatus
    checkpoints: int = 0
    copied: int = 0
    verified: bool | None = None
    target_checkpoints: int | None = None
    source_checksum: str | None = None
    target_checksum: str | None = None

    @property
    def ok(self) -> bool:
        """Neither a conflict, a missing thread nor a failed verification."""
        return (
            self.status not in ("conflict", "not-found") and self.verified is not False
        )


@dataclass
class TransferReport:
    """What :func:`transfer` or :func:`verify` did, thread by thread."""

    source_layout: Layout
    source: str
    target: str
    dry_run: bool = False
    threads: list[ThreadReport] = field(default_factory=list)
    #: The store's items, with ``with_store=True``; else None.
    store: StoreReport | None = None

    @property
    def ok(self) -> bool:
        """Whether every thread is fine (see :attr:`ThreadReport.ok`), and
        the store's items too when they were copied."""
        return all(t.ok for t in self.threads) and (self.store is None or self.store.ok)

    @property
    def checkpoints_copied(self) -> int:
        """Checkpoints written (or, in a dry run, to be written) by this run."""
        return sum(t.copied for t in self.threads)

    def count(self, status: ThreadStatus) -> int:
        """How many threads ended with ``status``."""
        return sum(t.status == status for t in self.threads)

    @property
    def mismatched(self) -> list[ThreadReport]:
        """The threads whose verification failed."""
        return [t for t in self.threads if t.verified is False]

    def raise_for_problems(self) -> None:
        """Raise :class:`ChecksumMismatchError` if a thread failed verification,
        :class:`TransferError` for a conflict or a missing thread."""
        if bad := self.mismatched:
            raise ChecksumMismatchError(
                f"{len(bad)} thread(s) differ between source and target: "
                + ", ".join(repr(t.thread_id) for t in bad[:5])
            )
        if self.store is not None and not self.store.ok:
            raise ChecksumMismatchError(
                f"{len(self.store.mismatched or ())} store item(s) differ between "
                "source and target"
            )
        if bad := [t for t in self.threads if not t.ok]:
            raise TransferError(
                f"{len(bad)} thread(s) not transferred: "
                + ", ".join(f"{t.thread_id!r} ({t.status})" for t in bad[:5])
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "source_layout": self.source_layout,
            "dry_run": self.dry_run,
            "checkpoints_copied": self.checkpoints_copied,
            "threads": [asdict(t) for t in self.threads],
            "store": None if self.store is None else self.store.to_dict(),
        }


ProgressCallback = Callable[[TransferProgress], None]
Bind = str | URL | Engine


# -- connecting ----------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


class _Engines:
    """The engines a transfer made (and disposes of) or was given (and keeps)."""

    def __init__(self) -> None:
        self._owned: list[Engine] = []

    def open(self, bind: Bind, what: str, *, must_exist: bool) -> Engine:
        if isinstance(bind, Engine):
            engine = bind
        else:
            try:
                url = make_url(bind) if isinstance(bind, str) else bind
                path = database_file(url) if must_exist else None
                if path is not None and not Path(path).is_file():
                    raise TransferError(f"{what} database file not found: {path}")
                engine = make_engine(url, one_owner=False)
            except TransferError:
                raise
            except (ArgumentError, SQLAlchemyError, ImportError, ValueError) as exc:
                raise TransferError(
                    f"bad {what} URL {printable_url(bind)}: {_first_line(exc)}"
                ) from exc
            self._owned.append(engine)
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as exc:
            raise TransferError(
                f"cannot connect to the {what} {printable_url(bind)}: {_first_line(exc)}"
            ) from exc
        return engine

    def close(self) -> None:
        for engine in self._owned:
            engine.dispose()
        self._owned.clear()


def _same_database(
    a: Engine, b: Engine, schema_a: str | None, schema_b: str | None
) -> bool:
    return same_database(a.url, b.url) and (schema_a or None) == (schema_b or None)


# -- layouts -------------------------------------------------------------------


def detect_layout(engine: Engine, *, schema: str | None = None) -> Layout:
    """Which saver's tables the database (or ``schema``) holds.

    Raises :class:`UnknownLayoutError` when there are none it can read.
    """
    inspector = inspect(engine)
    try:
        names = set(inspector.get_table_names(schema=schema))
    except SQLAlchemyError as exc:
        raise UnknownLayoutError(
            f"cannot list the tables of {printable_url(engine)}"
            + (f" (schema {schema!r})" if schema else "")
            + f": {_first_line(exc)}"
        ) from exc
    if names >= _OUR_TABLES:
        if VERSION_TABLE not in names and _POSTGRES_MIGRATIONS in names:
            return "postgres"
        return "sqlalchemy"
    if {"checkpoints", "writes"} <= names:
        columns = {
            c["name"] for c in inspector.get_columns("checkpoints", schema=schema)
        }
        if {"checkpoint_id", "type", "checkpoint", "metadata"} <= columns:
            return "sqlite"
    where = f"schema {schema!r} of " if schema else ""
    found = ", ".join(sorted(names)) or "no tables"
    raise UnknownLayoutError(
        f"no LangGraph checkpoint tables in {where}{printable_url(engine)} (found: {found})"
    )


def _read(engine: Engine, plan: Plan[T], schema: str | None) -> T:
    """Run a repository plan on a connection of its own, on the tables in
    ``schema`` (named unqualified in the plan, as the saver names them)."""
    options = {"schema_translate_map": {None: schema}} if schema else None
    with engine.connect() as conn:
        return run(plan, conn, options)


@dataclass(slots=True)
class _Write:
    task_id: str
    task_path: str
    idx: int
    channel: str
    value: Any


@dataclass(slots=True)
class _Record:
    """One source checkpoint as its saver returns it, with its writes as
    stored (task paths and indexes included)."""

    saved: CheckpointTuple
    writes: list[_Write]

    @property
    def key(self) -> tuple[str, str]:
        conf = self.saved.config["configurable"]
        return conf.get("checkpoint_ns", ""), conf["checkpoint_id"]


def _pending(writes: Sequence[_Write]) -> list[PendingWrite]:
    ordered = sorted(
        writes, key=lambda w: writes_sort_key(w.task_path, w.task_id, w.idx)
    )
    return [(w.task_id, w.channel, w.value) for w in ordered]


class _Reader:
    """Reads one source layout; the common part is the checkpoint keys."""

    layout: Layout

    def __init__(
        self, engine: Engine, schema: str | None, serde: SerializerProtocol
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.serde = serde
        # The checkpoint keys are read alike in every layout; ours by default.
        self._checkpoints: TableClause = CHECKPOINTS

    def _read(self, plan: Plan[T]) -> T:
        return _read(self.engine, plan, self.schema)

    def count_threads(self) -> int:
        return self._read(inspection.thread_count(self._checkpoints))

    def thread_ids(self, batch_size: int) -> Iterator[str]:
        """Every thread, in ID order, read ``batch_size`` at a time."""
        after: str | None = None
        while True:
            page = self._read(
                inspection.thread_ids_page(after, batch_size, self._checkpoints)
            )
            yield from page
            if len(page) < batch_size:
                return
            after = page[-1]

    def keys(self, thread_id: str) -> set[tuple[str, str]]:
        return self._read(inspection.checkpoint_keys(thread_id, self._checkpoints))

    def records(
        self, thread_id: str, skip: set[tuple[str, str]], batch_size: int
    ) -> Iterator[list[_Record]]:
        """The thread's checkpoints not in ``skip``, a batch at a time."""
        raise NotImplementedError

    def tuples(self, thread_id: str, batch_size: int) -> Iterator[CheckpointTuple]:
        """Every checkpoint of the thread, as its saver returns it."""
        for batch in self.records(thread_id, set(), batch_size):
            for record in batch:
                yield record.saved


class _SaverReader(_Reader):
    """This package's tables, or the official PostgreSQL saver's (the same):
    read with :class:`SQLAlchemySaver`, which never writes here (no setup)."""

    def __init__(
        self,
        engine: Engine,
        schema: str | None,
        serde: SerializerProtocol,
        layout: Layout,
    ) -> None:
        super().__init__(engine, schema, serde)
        self.layout = layout
        self.saver = SQLAlchemySaver(engine, schema=schema, serde=serde)

    def tuples(self, thread_id: str, batch_size: int) -> Iterator[CheckpointTuple]:
        return self.saver.list({"configurable": {"thread_id": thread_id}})

    def records(
        self, thread_id: str, skip: set[tuple[str, str]], batch_size: int
    ) -> Iterator[list[_Record]]:
        batch: list[CheckpointTuple] = []
        for tup in self.tuples(thread_id, batch_size):
            conf = tup.config["configurable"]
            if (conf.get("checkpoint_ns", ""), conf["checkpoint_id"]) in skip:
                continue
            batch.append(tup)
            if len(batch) >= batch_size:
                yield self._with_writes(thread_id, batch)
                batch = []
        if batch:
            yield self._with_writes(thread_id, batch)

    def _with_writes(
        self, thread_id: str, batch: list[CheckpointTuple]
    ) -> list[_Record]:
        ids = sorted({t.config["configurable"]["checkpoint_id"] for t in batch})
        found: dict[tuple[str, str], list[_Write]] = {}
        rows = self._read(inspection.writes_of(thread_id, ids))
        for ns, cid, task_id, task_path, idx, channel, type_, blob in rows:
            value = self.serde.loads_typed((type_ or "", bytes(blob or b"")))
            found.setdefault((ns or "", cid), []).append(
                _Write(task_id, task_path or "", int(idx), channel, value)
            )
        records = []
        for tup in batch:
            conf = tup.config["configurable"]
            records.append(
                _Record(
                    tup,
                    found.get(
                        (conf.get("checkpoint_ns", ""), conf["checkpoint_id"]), []
                    ),
                )
            )
        return records


class _SqliteReader(_Reader):
    """langgraph-checkpoint-sqlite's tables, read as ``SqliteSaver`` reads
    them: the checkpoint deserialized whole, metadata as JSON, writes with the
    serializer (``task_path`` only if the table has it)."""

    layout: Layout = "sqlite"

    def __init__(
        self, engine: Engine, schema: str | None, serde: SerializerProtocol
    ) -> None:
        super().__init__(engine, schema, serde)
        columns = {
            c["name"] for c in inspect(engine).get_columns("writes", schema=schema)
        }
        self._has_task_path = "task_path" in columns
        # Qualified by ``schema`` itself: these are not our tables, which are
        # what a schema_translate_map would rename.
        self._checkpoints = self._rows = official_sqlite.checkpoints_table(schema)
        self._writes = official_sqlite.writes_table(
            schema, with_task_path=self._has_task_path
        )

    def _read(self, plan: Plan[T]) -> T:
        return _read(self.engine, plan, None)

    def records(
        self, thread_id: str, skip: set[tuple[str, str]], batch_size: int
    ) -> Iterator[list[_Record]]:
        c = self._rows.c
        after: tuple[str, str] | None = None
        while True:
            query = (
                select(
                    c.checkpoint_ns,
                    c.checkpoint_id,
                    c.parent_checkpoint_id,
                    c.type,
                    c.checkpoint,
                    c.metadata,
                )
                .where(c.thread_id == thread_id)
                .order_by(c.checkpoint_ns, c.checkpoint_id)
                .limit(batch_size)
            )
            if after is not None:
                query = query.where(
                    or_(
                        c.checkpoint_ns > after[0],
                        and_(c.checkpoint_ns == after[0], c.checkpoint_id > after[1]),
                    )
                )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            after = (rows[-1][0] or "", rows[-1][1])
            wanted = [r for r in rows if ((r[0] or ""), r[1]) not in skip]
            if wanted:
                yield self._decode(thread_id, wanted)
            if len(rows) < batch_size:
                return

    def _decode(self, thread_id: str, rows: Sequence[Any]) -> list[_Record]:
        c = self._writes.c
        ids = sorted({r[1] for r in rows})
        cols = [
            c.checkpoint_ns,
            c.checkpoint_id,
            c.task_id,
            c.idx,
            c.channel,
            c.type,
            c.value,
        ]
        if self._has_task_path:
            cols.append(c.task_path)
        query = select(*cols).where(c.thread_id == thread_id, c.checkpoint_id.in_(ids))
        writes: dict[tuple[str, str], list[_Write]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                ns, cid, task_id, idx, channel, type_, value = row[:7]
                task_path = (row[7] or "") if self._has_task_path else ""
                loaded = self.serde.loads_typed((type_, value))
                writes.setdefault((ns or "", cid), []).append(
                    _Write(task_id, task_path, int(idx), channel, loaded)
                )
        records = []
        for ns, cid, parent, type_, blob, metadata in rows:
            ns = ns or ""
            checkpoint = self.serde.loads_typed((type_, blob))
            if isinstance(metadata, str):
                metadata = metadata.encode()
            meta: CheckpointMetadata = (
                json.loads(metadata) if metadata is not None else {}
            )
            stored = writes.get((ns, cid), [])
            records.append(
                _Record(
                    CheckpointTuple(
                        config=config_for(thread_id, ns, cid),
                        checkpoint=checkpoint,
                        metadata=meta,
                        parent_config=config_for(thread_id, ns, parent)
                        if parent
                        else None,
                        pending_writes=_pending(stored),
                    ),
                    stored,
                )
            )
        return records


def _reader(engine: Engine, schema: str | None, serde: SerializerProtocol) -> _Reader:
    layout = detect_layout(engine, schema=schema)
    if layout == "sqlite":
        return _SqliteReader(engine, schema, serde)
    return _SaverReader(engine, schema, serde, layout)


# -- checksums -----------------------------------------------------------------


def _feed(h: Any, *parts: str | bytes | None) -> None:
    for part in parts:
        data = (
            b"\xff"
            if part is None
            else (part.encode() if isinstance(part, str) else part)
        )
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


def _canonical(value: Any) -> Any:
    """``value`` with every set in a fixed order, so that equal values
    serialize to equal bytes. A set serializes in iteration order, which for
    equal sets depends on how each was built (and on the process's string
    hashes): LangGraph keeps barrier channels (``join:a+b:c``) as sets, so
    the two sides of a transfer could hash differently for the same value."""
    if isinstance(value, (set, frozenset)):
        items = sorted((_canonical(v) for v in value), key=repr)
        return ("__set__", items)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if type(value) is tuple:
        return tuple(_canonical(v) for v in value)
    return value


def checksum(
    tuples: Iterable[CheckpointTuple], serde: SerializerProtocol | None = None
) -> tuple[int, str]:
    """(count, SHA-256 hex) of a thread's checkpoints as a saver returns them.

    Covers, per checkpoint in (namespace, ID) order: the IDs and the parent,
    the checkpoint document (channel values serialized with ``serde``), the
    metadata as the target saver stores it, and the pending writes in order.
    Two savers holding the same thread give the same result.
    """
    serde = serde or JsonPlusSerializer()
    entries: list[tuple[str, str, str]] = []
    for tup in tuples:
        conf = tup.config["configurable"]
        ns, cid = conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
        parent = (
            tup.parent_config["configurable"]["checkpoint_id"]
            if tup.parent_config
            else None
        )
        h = hashlib.sha256()
        _feed(h, ns, cid, parent)
        document = {k: v for k, v in tup.checkpoint.items() if k != "channel_values"}
        _feed(h, _canonical_json(document))
        values = tup.checkpoint.get("channel_values") or {}
        for channel in sorted(values):
            _feed(h, channel, *serde.dumps_typed(_canonical(values[channel])))
        _feed(h, _canonical_json(Codec.metadata({}, tup.metadata)))
        for task_id, channel, value in tup.pending_writes or ():
            _feed(h, task_id, channel, *serde.dumps_typed(_canonical(value)))
        entries.append((ns, cid, h.hexdigest()))
    entries.sort()
    total = hashlib.sha256()
    for entry in entries:
        _feed(total, *entry)
    return len(entries), total.hexdigest()


# -- writing -------------------------------------------------------------------


def _call_order(writes: Sequence[_Write]) -> list[_Write]:
    """A task's writes in the order of the ``put_writes`` call that stored
    them, so that the target gives each the index it had.

    A regular write's index is its position in that call; a special write's
    (errors, interrupts, resumes) is fixed by its channel, so the specials go
    in the positions no regular write took. Indexes that no call could have
    made keep their order, numbered afresh.
    """
    regular = sorted(
        (w for w in writes if w.channel not in WRITES_IDX_MAP), key=lambda w: w.idx
    )
    special = [w for w in writes if w.channel in WRITES_IDX_MAP]
    size = len(regular) + len(special)
    positions = [w.idx for w in regular]
    if len(set(positions)) != len(positions) or any(
        not 0 <= i < size for i in positions
    ):
        return regular + special
    slots: list[_Write | None] = [None] * size
    for w in regular:
        slots[w.idx] = w
    rest = iter(special)
    return [w if w is not None else next(rest) for w in slots]


def _copy_record(
    target: SQLAlchemySaver,
    thread_id: str,
    record: _Record,
    stored_blobs: set[tuple[str, str, str]],
) -> None:
    """Writes first, then the checkpoint: a checkpoint in the target implies
    its writes are there too."""
    ns, cid = record.key
    tasks: dict[tuple[str, str], list[_Write]] = {}
    for write in record.writes:
        tasks.setdefault((write.task_id, write.task_path), []).append(write)
    for (task_id, task_path), writes in tasks.items():
        target.put_writes(
            config_for(thread_id, ns, cid),
            [(w.channel, w.value) for w in _call_order(writes)],
            task_id,
            task_path,
        )
    tup = record.saved
    checkpoint = tup.checkpoint
    versions = checkpoint.get("channel_versions") or {}
    values = checkpoint.get("channel_values") or {}
    # Every channel value not yet stored at its version in this run: the
    # upsert makes a value stored by an earlier, interrupted run harmless.
    new_versions = {
        ch: v for ch, v in versions.items() if (ns, ch, str(v)) not in stored_blobs
    }
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if tup.parent_config is not None:
        configurable["checkpoint_id"] = tup.parent_config["configurable"][
            "checkpoint_id"
        ]
    config: RunnableConfig = {"configurable": configurable}
    target.put(config, checkpoint, tup.metadata, new_versions)
    stored_blobs.update(
        (ns, ch, str(v)) for ch, v in new_versions.items() if ch in values
    )


# -- the public functions ------------------------------------------------------


def inspect_source(
    source: Bind,
    *,
    schema: str | None = None,
    thread_ids: Sequence[str] | None = None,
) -> SourceInfo:
    """The source's layout, dialect and number of threads (those of
    ``thread_ids`` it holds, if given), without writing anything."""
    engines = _Engines()
    try:
        engine = engines.open(source, "source", must_exist=True)
        reader = _reader(engine, schema, JsonPlusSerializer())
        if thread_ids is None:
            count = reader.count_threads()
        else:
            count = sum(bool(reader.keys(t)) for t in dict.fromkeys(thread_ids))
        return SourceInfo(reader.layout, engine.dialect.name, count)
    except SQLAlchemyError as exc:
        raise TransferError(f"reading the source failed: {_first_line(exc)}") from exc
    finally:
        engines.close()


def transfer(
    source: Bind,
    target: Bind,
    *,
    source_schema: str | None = None,
    target_schema: str | None = None,
    thread_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    verify: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    serde: SerializerProtocol | None = None,
    progress: ProgressCallback | None = None,
    with_store: bool = False,
    store_batch_size: int = DEFAULT_STORE_BATCH_SIZE,
) -> TransferReport:
    """Copy threads from ``source`` to ``target`` and verify them.

    Args:
        source: a URL (or an ``Engine``) of a database holding this package's
            tables, the official PostgreSQL saver's, or the official SQLite
            saver's; found by its tables. Nothing is written to it.
        target: a URL (or an ``Engine``) of any database this package
            supports; its tables are set up (``SQLAlchemySaver.setup()``).
        source_schema: the schema the source tables are in.
        target_schema: the schema for the target tables (as the saver's
            ``schema=``).
        thread_ids: copy only these threads (default: every thread).
        dry_run: write nothing; report what would be copied.
        verify: compare counts and checksums of every thread afterwards.
        batch_size: checkpoints (and threads) read per query.
        serde: the serializer both databases' values were written with
            (default: LangGraph's ``JsonPlusSerializer``; pass the same
            ``EncryptedSerializer`` the application uses, if any).
        progress: called after every batch and thread; an exception it
            raises stops the transfer, and a later run picks up from there.
        with_store: also copy the memory store's items (all of them, after
            the threads; ``TransferReport.store``), the newer ``updated_at``
            winning where both sides hold an item, with their vectors where
            the target's vector table has the same dimension (see
            :mod:`~langgraph.checkpoint.sqlalchemy.store_transfer`).
        store_batch_size: store items per page (one target transaction each).

    Returns:
        A :class:`TransferReport`; check :attr:`TransferReport.ok` or call
        :meth:`TransferReport.raise_for_problems`.

    Raises:
        TransferError: a database is unreachable, the source's tables are
            unknown (:class:`UnknownLayoutError`), both sides are the same
            database, or ``with_store`` and the source has no store table.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if store_batch_size < 1:
        raise ValueError("store_batch_size must be at least 1")
    serde = serde or JsonPlusSerializer()
    engines = _Engines()
    try:
        src_engine = engines.open(source, "source", must_exist=True)
        dst_engine = engines.open(target, "target", must_exist=False)
        if _same_database(src_engine, dst_engine, source_schema, target_schema):
            raise TransferError("source and target are the same database")
        reader = _reader(src_engine, source_schema, serde)
        if with_store and not has_store(src_engine, source_schema):
            raise TransferError(
                f"--with-store: no store table in the source {printable_url(source)}"
                + (f" (schema {source_schema!r})" if source_schema else "")
            )
        saver = SQLAlchemySaver(dst_engine, schema=target_schema, serde=serde)
        report = TransferReport(
            reader.layout, printable_url(source), printable_url(target), dry_run=dry_run
        )
        try:
            _run_copy(reader, saver, report, thread_ids, dry_run, batch_size, progress)
            if verify and not dry_run:
                _run_verify(reader, saver, report, batch_size, progress)
            if with_store:
                report.store = copy_store(
                    src_engine,
                    dst_engine,
                    source_schema=source_schema,
                    target_schema=target_schema,
                    dry_run=dry_run,
                    verify=verify,
                    batch_size=store_batch_size,
                )
        except SQLAlchemyError as exc:
            raise TransferError(f"transfer failed: {_first_line(exc)}") from exc
        return report
    finally:
        engines.close()


def verify(
    source: Bind,
    target: Bind,
    *,
    source_schema: str | None = None,
    target_schema: str | None = None,
    thread_ids: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    serde: SerializerProtocol | None = None,
    progress: ProgressCallback | None = None,
) -> TransferReport:
    """Compare threads of ``source`` and ``target`` without copying anything:
    per thread, the checkpoint counts and :func:`checksum` on both sides.
    Every thread's status is ``skipped`` (``not-found`` if the source lacks
    it) and ``verified`` tells whether the two sides agree."""
    serde = serde or JsonPlusSerializer()
    engines = _Engines()
    try:
        src_engine = engines.open(source, "source", must_exist=True)
        dst_engine = engines.open(target, "target", must_exist=True)
        reader = _reader(src_engine, source_schema, serde)
        saver = SQLAlchemySaver(dst_engine, schema=target_schema, serde=serde)
        report = TransferReport(
            reader.layout, printable_url(source), printable_url(target)
        )
        ids = _selected(reader, thread_ids, batch_size)
        for thread_id in ids:
            status: ThreadStatus = "skipped" if reader.keys(thread_id) else "not-found"
            report.threads.append(ThreadReport(thread_id, status))
        try:
            _run_verify(reader, saver, report, batch_size, progress)
        except SQLAlchemyError as exc:
            raise TransferError(f"verification failed: {_first_line(exc)}") from exc
        return report
    finally:
        engines.close()


def _selected(
    reader: _Reader, thread_ids: Sequence[str] | None, batch_size: int
) -> Iterable[str]:
    if thread_ids is None:
        return reader.thread_ids(batch_size)
    if isinstance(thread_ids, str):
        raise TypeError("thread_ids must be a sequence of str, not a str")
    return list(dict.fromkeys(str(t) for t in thread_ids))


def _run_copy(
    reader: _Reader,
    saver: SQLAlchemySaver,
    report: TransferReport,
    thread_ids: Sequence[str] | None,
    dry_run: bool,
    batch_size: int,
    progress: ProgressCallback | None,
) -> None:
    total = len(set(thread_ids)) if thread_ids is not None else reader.count_threads()
    target_ready = False
    if not dry_run:
        saver.setup()
        target_ready = True
    else:
        target_ready = inspect(saver.bind).has_table("checkpoints", schema=saver.schema)
    copied_total = 0
    for done, thread_id in enumerate(_selected(reader, thread_ids, batch_size), 1):
        source_keys = reader.keys(thread_id)
        thread = ThreadReport(thread_id, "skipped", checkpoints=len(source_keys))
        report.threads.append(thread)
        if not source_keys:
            thread.status = "not-found"
        else:
            target_keys = (
                _read(
                    saver.bind,  # type: ignore[arg-type]
                    inspection.checkpoint_keys(thread_id),
                    saver.schema,
                )
                if target_ready
                else set()
            )
            missing = source_keys - target_keys
            if target_keys - source_keys:
                thread.status = "conflict"
            elif not missing:
                thread.status = "skipped"
            elif dry_run:
                thread.status = "planned"
                thread.copied = len(missing)
            else:
                thread.status = "resumed" if target_keys else "copied"
                stored_blobs: set[tuple[str, str, str]] = set()
                for batch in reader.records(thread_id, target_keys, batch_size):
                    for record in batch:
                        _copy_record(saver, thread_id, record, stored_blobs)
                    thread.copied += len(batch)
                    copied_total += len(batch)
                    if progress is not None and thread.copied < len(missing):
                        progress(
                            TransferProgress(
                                "copy", thread_id, done - 1, total, copied_total
                            )
                        )
        if progress is not None:
            progress(TransferProgress("copy", thread_id, done, total, copied_total))


def _run_verify(
    reader: _Reader,
    saver: SQLAlchemySaver,
    report: TransferReport,
    batch_size: int,
    progress: ProgressCallback | None,
) -> None:
    checked = [t for t in report.threads if t.status not in ("conflict", "not-found")]
    for done, thread in enumerate(checked, 1):
        count, source_sum = checksum(
            reader.tuples(thread.thread_id, batch_size), reader.serde
        )
        target_count, target_sum = checksum(
            saver.list({"configurable": {"thread_id": thread.thread_id}}), reader.serde
        )
        thread.checkpoints = count
        thread.target_checkpoints = target_count
        thread.source_checksum = source_sum
        thread.target_checksum = target_sum
        thread.verified = count == target_count and source_sum == target_sum
        if progress is not None:
            progress(
                TransferProgress(
                    "verify",
                    thread.thread_id,
                    done,
                    len(checked),
                    report.checkpoints_copied,
                )
            )
