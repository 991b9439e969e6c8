"""The memory store's part of a transfer (``transfer(..., with_store=True)``,
``langgraph-sqlalchemy transfer --with-store``).

Every item alive in the source's ``store`` table (this package's, on any
database, or the official ``PostgresStore``'s, which is the same table) is
brought to the target's, a page at a time in key order, each page one
transaction on the target. Namespaces, keys, values and the four time
columns (``created_at``, ``updated_at``, ``expires_at``, ``ttl_minutes``)
come across unchanged. The conflict rule (``repository.store.copying``):
missing items are inserted, an item the target holds too is overwritten only
if the source's ``updated_at`` is newer. So a rerun writes nothing, an
interrupted run resumes by doing the rest, and a target that moved on keeps
its newer items.

The items' vectors (``store_vectors``, a store with an ``index``) come
along in the same transactions, by the same rule
(``repository.store.vectors.copying``): with the version of an item that is
written, its vectors replace the target's; an item the target keeps as newer
keeps its own; an item already there at the same version gets them only if
it has none. Nothing is embedded: each embedding is decoded from the
source's column (pgvector's ``vector``/``halfvec``, or the float32 BLOB of
SQLite and MariaDB) and encoded for the target's. That needs the target's
``store_vectors`` made by a store with an ``index`` of the same ``dims``
(its ``setup()``; a copy does not know the distance or ANN index the target
should have). Where it is missing or has another dimension, the items are
copied all the same and ``StoreReport.vectors_note`` says how many vectors
were left behind, why, and what to do; once the table is right, a rerun
brings the vectors of the items it copied before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from langgraph.checkpoint.sqlalchemy.repository.plan import Plan, T
from langgraph.checkpoint.sqlalchemy.repository.store import copying
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.copying import (
    TABLE_NAME,
    VectorSide,
    count_vectors,
    indexed_fields,
    merge_vectors,
    read_vectors,
)
from langgraph.checkpoint.sqlalchemy.runtime.driver import run
from langgraph.store.sqlalchemy import SQLAlchemyStore
from sqlalchemy import Engine, inspect

__all__ = ["DEFAULT_STORE_BATCH_SIZE", "StoreReport", "copy_store", "has_store"]

DEFAULT_STORE_BATCH_SIZE = 1000
_TABLE = "store"


@dataclass
class StoreReport:
    """What a transfer did with the store's items.

    ``items`` is how many were alive in the source; ``inserted`` and
    ``updated`` how many this run wrote (or, in a dry run, would write);
    ``kept`` how many the target held as new or newer, left alone.
    ``mismatched`` lists (namespace, key) of items the verification found
    different in the target, in their values or in the fields their vectors
    are of (``verified`` is ``None`` when not checked).
    ``vectors_copied`` counts the vector rows written (or that would be);
    ``vectors_skipped`` those of the items the target holds at the
    source's version that could not be copied, and ``vectors_note`` why
    and what to do (None when none were skipped).
    """

    items: int = 0
    inserted: int = 0
    updated: int = 0
    kept: int = 0
    verified: bool | None = None
    mismatched: list[tuple[str, str]] | None = None
    vectors_copied: int = 0
    vectors_skipped: int = 0
    vectors_note: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the verification, if any, passed."""
        return self.verified is not False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return asdict(self)


def has_store(engine: Engine, schema: str | None) -> bool:
    """Whether the database (or ``schema``) has a ``store`` table."""
    return inspect(engine).has_table(_TABLE, schema=schema)


def _options(schema: str | None) -> dict[str, Any] | None:
    return {"schema_translate_map": {None: schema}} if schema else None


def _read(engine: Engine, plan: Plan[T], schema: str | None) -> T:
    with engine.connect() as conn:
        return run(plan, conn, _options(schema))


def _write(engine: Engine, plan: Plan[T], schema: str | None) -> T:
    with engine.begin() as conn:
        return run(plan, conn, _options(schema))


def _pages(engine: Engine, schema: str | None, size: int, now: datetime) -> Any:
    after: tuple[str, str] | None = None
    while True:
        page = _read(engine, copying.items_page(after, size, now), schema)
        if page:
            yield page
        if len(page) < size:
            return
        after = (page[-1]["prefix"], page[-1]["key"])


@dataclass(frozen=True)
class _VectorCopy:
    """Where vectors go: ``target`` None when they can't, and ``why``."""

    source: VectorSide
    target: VectorSide | None
    why: str = ""


def _vector_copy(
    source: Engine, target: Engine, source_schema: str | None, target_schema: str | None
) -> _VectorCopy | None:
    """How this transfer copies vectors; None when the source has none."""
    if not inspect(source).has_table(TABLE_NAME, schema=source_schema):
        return None
    src = VectorSide.of(source.dialect)
    _, dims = _read(source, src.shape(source_schema), source_schema)
    if dims is None:  # an empty BLOB table
        return None
    setup = (
        f"set up the target's index (SQLAlchemyStore(..., index={{'dims': {dims}, "
        "'embed': ...}).setup() on the target), then run the transfer again: it "
        "brings the vectors of the items already copied"
    )
    if not inspect(target).has_table(TABLE_NAME, schema=target_schema):
        return _VectorCopy(src, None, f"the target has no {TABLE_NAME} table; {setup}")
    dst = VectorSide.of(target.dialect)
    kind, found = _read(target, dst.shape(target_schema), target_schema)
    if not dst.accepts(kind, found, dims):
        held = f"{found}-dimensional vectors" if found else f"embeddings as {kind!r}"
        return _VectorCopy(
            src,
            None,
            f"the target's {TABLE_NAME} holds {held} and the source's are "
            f"{dims}-dimensional (vectors of two models can't be compared); "
            f"either drop the target's {TABLE_NAME} and {setup}, or keep the "
            "target's model and put the items there again to embed them with it",
        )
    return _VectorCopy(src, dst)


def _merge_page(
    page: list[dict[str, Any]],
    target: VectorSide | None,
    vectors: dict[tuple[str, str], list[Any]],
    write: bool,
) -> Plan[tuple[copying.Merged, int]]:
    """A page's items, then their vectors: one transaction on the target."""
    merged = yield from copying.merge_items(page, write=write)
    if target is None:
        return merged, 0
    copied = yield from merge_vectors(
        target, vectors, merged.written, merged.same, write=write
    )
    return merged, copied


def copy_store(
    source: Engine,
    target: Engine,
    *,
    source_schema: str | None,
    target_schema: str | None,
    dry_run: bool,
    verify: bool,
    batch_size: int = DEFAULT_STORE_BATCH_SIZE,
) -> StoreReport:
    """Copy the source's live items, and their vectors where the target can
    take them, to the target by the conflict rule; set up the target's store
    table first (not in a dry run). The caller checked that the source has a
    store table (:func:`has_store`)."""
    now = datetime.now(timezone.utc)
    report = StoreReport(items=_read(source, copying.count_items(now), source_schema))
    if not dry_run:
        SQLAlchemyStore(target, schema=target_schema).setup()
    target_ready = not dry_run or has_store(target, target_schema)
    plan = _vector_copy(source, target, source_schema, target_schema)
    for page in _pages(source, source_schema, batch_size, now):
        keys = [(row["prefix"], row["key"]) for row in page]
        vectors: dict[tuple[str, str], list[Any]] = {}
        if plan is not None and plan.target is not None:
            versions = {(r["prefix"], r["key"]): r["updated_at"] for r in page}
            vectors = _read(source, read_vectors(plan.source, versions), source_schema)
        if target_ready:
            merged, copied = _write(
                target,
                _merge_page(
                    page, None if plan is None else plan.target, vectors, not dry_run
                ),
                target_schema,
            )
        else:
            merged, copied = copying.Merged(len(page), written=tuple(keys)), 0
        report.inserted += merged.inserted
        report.updated += merged.updated
        report.kept += merged.kept
        report.vectors_copied += copied
        if plan is not None and plan.target is None:
            counts = _read(source, count_vectors(plan.source, keys), source_schema)
            report.vectors_skipped += sum(
                counts.get(key, 0) for key in (*merged.written, *merged.same)
            )
    if plan is not None and report.vectors_skipped:
        report.vectors_note = (
            f"vectors skipped: {report.vectors_skipped}, because {plan.why}"
        )
    if verify and not dry_run:
        bad: list[tuple[str, str]] = []
        for page in _pages(source, source_schema, batch_size, now):
            bad += _read(target, copying.differing(page), target_schema)
            if plan is not None and plan.target is not None:
                versions = {(r["prefix"], r["key"]): r["updated_at"] for r in page}
                mine = _read(
                    source, indexed_fields(plan.source, versions), source_schema
                )
                theirs = _read(
                    target, indexed_fields(plan.target, versions), target_schema
                )
                bad += _vectors_differing(mine, theirs)
        report.verified = not bad
        report.mismatched = list(dict.fromkeys(bad))
    return report


def _vectors_differing(
    mine: dict[tuple[str, str], list[str]], theirs: dict[tuple[str, str], list[str]]
) -> list[tuple[str, str]]:
    """The items held at the same version on both sides (``indexed_fields``
    of each) whose vector rows are not for the same fields. An item either
    side holds at another version is the items' check's to judge: the
    target may keep a newer one, with vectors of its own."""
    return [key for key, fields in mine.items() if theirs.get(key, fields) != fields]
