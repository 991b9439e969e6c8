"""The ``store`` table's handle, and how its rows are named and read.

A namespace is stored as its labels joined by ``"."`` (``prefix``), as the
official stores write it; labels never hold a ``"."`` (the store refuses
one), so the join is reversible and a namespace's descendants are exactly the
prefixes that start with it and a ``"."``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from langgraph.store.base import Item, SearchItem

from langgraph.checkpoint.sqlalchemy.models import StoreRecord
from sqlalchemy import ColumnElement, Table, or_

__all__ = [
    "COLUMNS",
    "STORE",
    "S",
    "alive",
    "filter_terms",
    "namespace_of",
    "prefix_of",
    "to_item",
    "to_search_item",
    "under",
]

STORE: Table = StoreRecord.__table__  # type: ignore[assignment]
S = STORE.c
#: What every read returns: enough for an Item, and ``ttl_minutes`` to
#: refresh the expiry of what was read.
COLUMNS = (S.prefix, S.key, S.value, S.created_at, S.updated_at, S.ttl_minutes)


def prefix_of(namespace: Sequence[str]) -> str:
    """The ``prefix`` column's value for ``namespace``."""
    return ".".join(namespace)


def namespace_of(prefix: str) -> tuple[str, ...]:
    """The namespace a ``prefix`` value stands for."""
    return tuple(prefix.split("."))


def alive(now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """Items not expired at ``now`` (a moment, or a parameter that will hold
    one): an expired item is never returned, swept or not."""
    return or_(S.expires_at.is_(None), S.expires_at > now)


def under(namespace: Sequence[str]) -> ColumnElement[bool]:
    """Items in ``namespace`` or below it. The ``LIKE`` pattern escapes
    ``%``, ``_`` and its escape character, so a label holding them matches
    only itself; anchored at the start, it can use the prefix index."""
    prefix = prefix_of(namespace)
    return or_(S.prefix == prefix, S.prefix.startswith(prefix + ".", autoescape=True))


def filter_terms(filter: Mapping[str, Any] | None) -> Iterator[tuple[str, str, Any]]:
    """``(key, operator, value)`` for each condition of a search filter: a
    dict whose keys all start with ``$`` is a set of operators, anything
    else a value to equal."""
    for key, wanted in (filter or {}).items():
        if (
            isinstance(wanted, Mapping)
            and wanted
            and all(isinstance(k, str) and k.startswith("$") for k in wanted)
        ):
            for operator, value in wanted.items():
                yield key, operator, value
        else:
            yield key, "$eq", wanted


def to_item(row: Any) -> Item:
    return Item(
        value=row.value,
        key=row.key,
        namespace=namespace_of(row.prefix),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_search_item(row: Any, score: float | None = None) -> SearchItem:
    return SearchItem(
        namespace=namespace_of(row.prefix),
        key=row.key,
        value=row.value,
        created_at=row.created_at,
        updated_at=row.updated_at,
        score=score,
    )
