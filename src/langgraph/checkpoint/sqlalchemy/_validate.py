"""Checks on what callers hand the savers, before anything reaches a database.

Each check raises an error that names the offending key, so a bad config fails
at the call that passed it and never as an obscure driver error halfway
through a transaction.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from enum import Enum
from typing import Any, NamedTuple

from langchain_core.runnables import RunnableConfig

from langgraph.checkpoint.sqlalchemy import _types

__all__ = [
    "InvalidConfigError",
    "PayloadTooLargeError",
    "PoolerWarning",
    "PreparedStatementsBehindAPoolerError",
    "TTLSettings",
    "ThreadKey",
    "check_length",
    "clean_json",
    "no_nul",
    "parse_config",
    "parse_filter",
    "parse_limit",
    "parse_thread_id",
    "parse_thread_ids",
    "parse_ttl",
]


class InvalidConfigError(KeyError, ValueError):
    """A config lacks a required key or holds a value of the wrong kind.

    A ``KeyError`` for code written against the official savers (which raise
    one for a missing ``thread_id``) and a ``ValueError`` for everyone else.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PayloadTooLargeError(ValueError):
    """A write is larger than the database accepts in one statement."""


class PoolerWarning(UserWarning):
    """An engine the caller made reaches PostgreSQL through a connection
    pooler while psycopg prepares statements: create it with
    ``connect_args={"prepare_threshold": None}``."""


class PreparedStatementsBehindAPoolerError(RuntimeError):
    """A prepared statement was missing or its name taken on the server
    session, the sign of a pooler in transaction mode in front of an engine
    that prepares; the message names the setting. Its ``__cause__`` is the
    driver's error."""


class ThreadKey(NamedTuple):
    """Where a config points: a thread, a namespace, maybe one checkpoint."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None


def parse_thread_id(value: Any, *, where: str = "thread_id") -> str:
    """A thread ID as stored: strings as given, ints and UUIDs as text."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, uuid.UUID)) and not isinstance(value, bool):
        text = str(value)
    else:
        raise InvalidConfigError(
            f"{where} must be a str (or an int or UUID), not {type(value).__name__}"
        )
    if not text:
        raise InvalidConfigError(f"{where} must not be empty")
    return no_nul(text, where)


def parse_thread_ids(values: Any, *, where: str = "thread_ids") -> list[str]:
    """A sequence of thread IDs (a lone string is a mistake, not a sequence)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | set):
        raise TypeError(
            f"{where} must be a sequence of IDs, not {type(values).__name__}"
        )
    return list(dict.fromkeys(parse_thread_id(v, where=where) for v in values))


def parse_config(config: RunnableConfig | None, *, where: str = "config") -> ThreadKey:
    """Read ``thread_id``, ``checkpoint_ns`` and ``checkpoint_id`` from a config."""
    if not isinstance(config, Mapping):
        raise InvalidConfigError(
            f"{where} must be a RunnableConfig dict such as "
            "{'configurable': {'thread_id': ...}}, "
            f"not {type(config).__name__}"
        )
    configurable = config.get("configurable")
    if not isinstance(configurable, Mapping):
        raise InvalidConfigError(
            f"{where}['configurable'] is missing: pass "
            "{'configurable': {'thread_id': ...}}"
        )
    if "thread_id" not in configurable or configurable["thread_id"] is None:
        raise InvalidConfigError(
            f"{where}['configurable']['thread_id'] is required: checkpoints are "
            "stored per thread"
        )
    thread_id = parse_thread_id(
        configurable["thread_id"], where=f"{where}['configurable']['thread_id']"
    )
    ns = configurable.get("checkpoint_ns") or ""
    if not isinstance(ns, str):
        raise InvalidConfigError(
            f"{where}['configurable']['checkpoint_ns'] must be a str, "
            f"not {type(ns).__name__}"
        )
    checkpoint_id = configurable.get("checkpoint_id") or None
    if checkpoint_id is not None and not isinstance(checkpoint_id, str):
        raise InvalidConfigError(
            f"{where}['configurable']['checkpoint_id'] must be a str, "
            f"not {type(checkpoint_id).__name__}"
        )
    return ThreadKey(
        thread_id,
        no_nul(ns, "checkpoint_ns"),
        no_nul(checkpoint_id, "checkpoint_id") if checkpoint_id else None,
    )


def check_length(value: str, limit: int, what: str) -> str:
    """Refuse a key longer than its column rather than let a server truncate it."""
    if len(value) > limit:
        raise ValueError(
            f"{what} is {len(value)} characters long; this database stores at most "
            f"{limit} (the key column's width). Use a shorter {what}."
        )
    return value


KEY_LIMITS = {
    "thread_id": _types.THREAD_ID_LENGTH,
    "checkpoint_ns": _types.CHECKPOINT_NS_LENGTH,
    "checkpoint_id": _types.CHECKPOINT_ID_LENGTH,
    "task_id": _types.TASK_ID_LENGTH,
    "task_path": _types.TASK_PATH_LENGTH,
    "channel": _types.CHANNEL_LENGTH,
    "version": _types.VERSION_LENGTH,
}


def parse_filter(filter: Any) -> dict[str, Any]:
    """A metadata filter: a dict of string keys to JSON values."""
    if filter is None:
        return {}
    if not isinstance(filter, Mapping):
        raise TypeError(f"filter must be a dict, not {type(filter).__name__}")
    for key in filter:
        if not isinstance(key, str):
            raise TypeError(f"filter keys must be str, not {type(key).__name__}")
    return clean_json(dict(filter), where="filter")  # type: ignore[no-any-return]


def parse_limit(limit: Any) -> int | None:
    """``None`` for no limit; otherwise a non-negative int."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int or None, not {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    return limit


def clean_json(value: Any, *, where: str) -> Any:
    """``value`` made storable in a JSON column, or a ``TypeError`` naming the path.

    NUL characters are dropped from strings and keys (PostgreSQL's JSONB can't
    hold them; the official saver drops them too). UUIDs, dates and enums become
    their usual JSON forms; tuples become lists. Non-finite floats and other
    objects are refused.
    """
    try:
        return _clean(value)
    except _Unstorable as exc:
        path = where + "".join(reversed(exc.path))
        raise TypeError(path + exc.problem) from None


class _Unstorable(Exception):
    """A value JSON can't hold; the path to it is collected on the way out, so
    that the common case (nothing wrong) formats no path at all."""

    def __init__(self, problem: str) -> None:
        self.problem = problem  # what follows the path in the message
        self.path: list[str] = []


def _clean(value: Any) -> Any:
    kind = type(value)
    # The common exact types first: this runs on every put.
    if kind is str:
        return value.replace("\x00", "") if "\x00" in value else value
    if value is None or kind is int or kind is bool:
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, Enum):
                key = key.value
            if not isinstance(key, str):
                raise _Unstorable(
                    f" has a key of type {type(key).__name__}; JSON keys are str"
                )
            try:
                out[key.replace("\x00", "")] = _clean(item)
            except _Unstorable as exc:
                exc.path.append(f"[{key!r}]")
                raise
        return out
    if isinstance(value, (list, tuple)):
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_clean(item))
            except _Unstorable as exc:
                exc.path.append(f"[{i}]")
                raise
        return items
    # Subclasses (str and int enums among them) as before the fast paths.
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unstorable(f" is {value}, which JSON can't represent")
        return value
    if isinstance(value, Enum):
        return _clean(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    raise _Unstorable(
        f" is a {type(value).__name__}, which can't be stored as JSON metadata"
    )


def no_nul(value: str, what: str) -> str:
    """``value``, or a ValueError naming ``what`` if it holds a NUL character."""
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character, which can't be stored")
    return value


class TTLSettings(NamedTuple):
    """A validated ``ttl=``: the keys of ``langgraph.json``'s
    ``checkpointer.ttl``."""

    default_ttl: float
    strategy: str
    sweep_interval_minutes: float
    refresh_on_read: bool


TTL_STRATEGIES = ("delete", "keep_latest")
_TTL_KEYS = ("default_ttl", "strategy", "sweep_interval_minutes", "refresh_on_read")


def _minutes(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"ttl[{key!r}] must be a number of minutes, not {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"ttl[{key!r}] must be a positive number of minutes, not {value!r}"
        )
    return float(value)


def parse_ttl(value: Any) -> TTLSettings | None:
    """``ttl=`` checked: ``None``, or a mapping of the ``langgraph.json``
    keys, ``default_ttl`` required (minutes), ``strategy`` ``"delete"``
    (default) or ``"keep_latest"``, ``sweep_interval_minutes`` (default 5)
    and ``refresh_on_read`` (default ``True``)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(
            "ttl must be a dict such as {'default_ttl': 60 * 24} (minutes), "
            f"not {type(value).__name__}"
        )
    unknown = sorted(str(k) for k in value if k not in _TTL_KEYS)
    if unknown:
        raise ValueError(f"unknown ttl keys {unknown}; the keys are {list(_TTL_KEYS)}")
    if value.get("default_ttl") is None:
        raise ValueError(
            "ttl needs 'default_ttl': the minutes a thread lives after its last write"
        )
    strategy = value.get("strategy", "delete")
    if strategy not in TTL_STRATEGIES:
        raise ValueError(
            f"ttl['strategy'] must be one of {TTL_STRATEGIES}, not {strategy!r}"
        )
    refresh = value.get("refresh_on_read", True)
    if not isinstance(refresh, bool):
        raise TypeError(f"ttl['refresh_on_read'] must be a bool, not {refresh!r}")
    interval = value.get("sweep_interval_minutes")
    return TTLSettings(
        default_ttl=_minutes(value["default_ttl"], "default_ttl"),
        strategy=strategy,
        sweep_interval_minutes=5.0
        if interval is None
        else _minutes(interval, "sweep_interval_minutes"),
        refresh_on_read=refresh,
    )
