"""Store items copied whole from one database to another (``transfer.py``).

The store's own writes (``plans.put_items``) stamp items with the moment of
the write; a copy must keep the source's ``created_at``, ``updated_at``,
``expires_at`` and ``ttl_minutes`` as they are, so it has plans of its own.
They are portable (a read of the keys, then plain inserts and updates), the
same on every database: a page of a transfer is one transaction, and what
decides a conflict is a comparison made in Python, not an upsert's.

The conflict rule: an item missing in the target is inserted; an item the
target holds too is overwritten only when the source's ``updated_at`` is
newer, so a rerun writes nothing and a target that moved on keeps its newer
version. A TTL refresh (a read that moves ``expires_at`` on) does not make
an item newer, so it is not copied by itself. Expired items are not copied:
they would be invisible there, and swept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from langgraph.checkpoint.sqlalchemy.repository.store.items import STORE, S, alive
from sqlalchemy import bindparam, func, insert, select, tuple_, update

__all__ = ["Merged", "count_items", "differing", "items_page", "merge_items"]

#: Every column of an item, in the order ``merge_items`` takes them.
_COLUMNS = (
    S.prefix,
    S.key,
    S.value,
    S.created_at,
    S.updated_at,
    S.expires_at,
    S.ttl_minutes,
)
# What must be equal in two copies of an item of the same ``updated_at``:
# a read that refreshes a TTL moves ``expires_at`` on, on either side,
# without making the item newer.
_CONTENT = ("value", "created_at", "ttl_minutes")
_REPLACE = (
    update(STORE)
    .where(S.prefix == bindparam("m_prefix"), S.key == bindparam("m_key"))
    .values(
        value=bindparam("m_value", type_=S.value.type),
        created_at=bindparam("m_created_at", type_=S.created_at.type),
        updated_at=bindparam("m_updated_at", type_=S.updated_at.type),
        expires_at=bindparam("m_expires_at", type_=S.expires_at.type),
        ttl_minutes=bindparam("m_ttl_minutes", type_=S.ttl_minutes.type),
    )
)


Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Merged:
    """What one page did: items ``inserted``, ``updated`` (the source's were
    newer), ``kept`` (the target's were as new or newer: left alone).

    ``written`` holds the keys inserted or updated, ``same`` those the
    target holds at the source's very ``updated_at`` (kept: the same
    version), for the vectors that go with them (``vectors/copying.py``)."""

    inserted: int = 0
    updated: int = 0
    kept: int = 0
    written: tuple[Key, ...] = ()
    same: tuple[Key, ...] = ()


def count_items(now: datetime) -> Plan[int]:
    """How many items are alive at ``now``."""
    result = yield Execute(select(func.count()).select_from(STORE).where(alive(now)))
    return int(result.scalar_one())


def items_page(
    after: tuple[str, str] | None, size: int, now: datetime
) -> Plan[list[dict[str, Any]]]:
    """The next ``size`` items alive at ``now`` after the key ``after``, in
    key order (a keyset page: each page one indexed range read)."""
    statement = select(*_COLUMNS).where(alive(now))
    if after is not None:
        statement = statement.where(tuple_(S.prefix, S.key) > tuple_(*after))
    statement = statement.order_by(S.prefix, S.key).limit(size)
    rows = yield Execute(statement)
    return [dict(row._mapping) for row in rows]


def merge_items(rows: Sequence[dict[str, Any]], *, write: bool = True) -> Plan[Merged]:
    """Bring ``rows`` (from :func:`items_page`) into this database by the
    conflict rule; with ``write=False``, only count what it would do."""
    if not rows:
        return Merged()
    keys = [(row["prefix"], row["key"]) for row in rows]
    found = yield Execute(
        select(S.prefix, S.key, S.updated_at).where(tuple_(S.prefix, S.key).in_(keys))
    )
    present = {(row.prefix, row.key): row.updated_at for row in found}
    new = [row for row in rows if (row["prefix"], row["key"]) not in present]
    newer = [
        row
        for row in rows
        if (row["prefix"], row["key"]) in present
        and _newer(row["updated_at"], present[(row["prefix"], row["key"])])
    ]
    same = tuple(
        key
        for row, key in zip(rows, keys, strict=True)
        if key in present and present[key] == row["updated_at"]
    )
    if write and new:
        yield Execute(insert(STORE), new)
    if write and newer:
        yield Execute(
            _REPLACE, [{f"m_{name}": value for name, value in r.items()} for r in newer]
        )
    return Merged(
        len(new),
        len(newer),
        len(rows) - len(new) - len(newer),
        written=tuple((r["prefix"], r["key"]) for r in [*new, *newer]),
        same=same,
    )


def _newer(source: datetime | None, target: datetime | None) -> bool:
    if source is None:
        return False
    return target is None or source > target


def differing(rows: Sequence[dict[str, Any]]) -> Plan[list[tuple[str, str]]]:
    """The keys of ``rows`` this database does not hold as the conflict rule
    leaves them: missing, older, or as new but with other contents."""
    if not rows:
        return []
    keys = [(row["prefix"], row["key"]) for row in rows]
    found = yield Execute(select(*_COLUMNS).where(tuple_(S.prefix, S.key).in_(keys)))
    held = {(row.prefix, row.key): dict(row._mapping) for row in found}
    bad = []
    for row, key in zip(rows, keys, strict=True):
        mine = held.get(key)
        if mine is None or _newer(row["updated_at"], mine["updated_at"]):
            bad.append(key)
            continue
        if mine["updated_at"] == row["updated_at"] and any(
            mine[c] != row[c] for c in _CONTENT
        ):
            bad.append(key)
    return bad
