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

Vectors (``store_vectors``) are not copied: the target's index may have
another dimension or distance, and its rows are derived data. Point a store
with the same ``index`` configuration at the target and re-put (or re-embed)
the items that need vectors there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from langgraph.checkpoint.sqlalchemy.repository.plan import Plan, T
from langgraph.checkpoint.sqlalchemy.repository.store import copying
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
    different in the target (``verified`` is ``None`` when not checked).
    """

    items: int = 0
    inserted: int = 0
    updated: int = 0
    kept: int = 0
    verified: bool | None = None
    mismatched: list[tuple[str, str]] | None = None

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
    """Copy the source's live items to the target by the conflict rule; set
    up the target's store table first (not in a dry run). The caller checked
    that the source has a store table (:func:`has_store`)."""
    now = datetime.now(timezone.utc)
    report = StoreReport(items=_read(source, copying.count_items(now), source_schema))
    if not dry_run:
        SQLAlchemyStore(target, schema=target_schema).setup()
    target_ready = not dry_run or has_store(target, target_schema)
    for page in _pages(source, source_schema, batch_size, now):
        if not target_ready:
            report.inserted += len(page)
            continue
        merged = _write(
            target, copying.merge_items(page, write=not dry_run), target_schema
        )
        report.inserted += merged.inserted
        report.updated += merged.updated
        report.kept += merged.kept
    if verify and not dry_run:
        bad: list[tuple[str, str]] = []
        for page in _pages(source, source_schema, batch_size, now):
            bad += _read(target, copying.differing(page), target_schema)
        report.verified = not bad
        report.mismatched = bad
    return report
