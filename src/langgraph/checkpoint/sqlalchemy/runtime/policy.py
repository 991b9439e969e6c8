"""The transaction policy: how every job on one bind runs, decided once.

What the bind is (``engines``) and what its database does (``dialects``)
are asked here, when a saver is made, and never again per job: the runners
(``driver``) only read the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.sqlalchemy.dialects import (
    binary_results,
    explain,
    first_connection_check,
    lost_a_race,
    single_writer,
    transaction_options,
)
from langgraph.checkpoint.sqlalchemy.runtime.engines import (
    check_transactions,
    engine_of,
    keeps_a_connection,
    needs_serializing,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["TransactionPolicy"]


def _never(_error: DBAPIError) -> bool:
    return False


def _as_it_is(_error: DBAPIError) -> Exception | None:
    return None


@dataclass(frozen=True, slots=True)
class TransactionPolicy:
    """How every job on one bind runs: made once per bind by :meth:`for_bind`.

    Attributes:
        autocommit_options: the execution options of one-statement jobs, or
            None where such a job takes a transaction like the rest (see
            ``dialects.transaction_options``).
        read_only_options: the execution options of jobs that only read.
        setup_cursor: applied to the cursor of the hot statements (see
            ``dialects.binary_results``).
        single_writer: the database takes one writing transaction at a time
            (SQLite), so the saver's own writers take turns on a lock of
            its own before they check out a connection: SQLite's busy
            handler makes a blocked writer sleep in steps of milliseconds,
            which a lock in the process never does. Readers go on unhindered
            (WAL). A writer waits for the saver's previous one with no time
            limit (that is this process's own work under way); writers in
            other processes still meet the busy timeout.
        lost_a_race: whether an error means the database rolled the
            transaction back for a deadlock or a serialization failure (see
            ``dialects.lost_a_race``); such a job runs again, but only in a
            transaction of the saver's own, never inside a caller's.
        takes_turns: the bind is one connection (a caller's, or a
            one-connection engine's), which runs one transaction at a time,
            so jobs take turns on a lock (``engines.needs_serializing``).
        keep_connection: keep one connection open between jobs instead of
            checking one out for each (``engines.keeps_a_connection``: a
            one-connection engine whose connections autocommit at the
            driver).
        check_first_connection: run once, on the first connection a runner
            gets, before its job (``dialects.first_connection_check``).
        explain: a clearer error for a job's error that gets no retry, or
            None to raise the error as it is (``dialects.explain``).
    """

    autocommit_options: Mapping[str, Any] | None
    read_only_options: Mapping[str, Any]
    setup_cursor: Callable[[Any], None] | None = None
    single_writer: bool = False
    lost_a_race: Callable[[DBAPIError], bool] = _never
    takes_turns: bool = False
    keep_connection: bool = False
    check_first_connection: Callable[[Connection], None] | None = None
    explain: Callable[[DBAPIError], Exception | None] = _as_it_is

    @classmethod
    def for_bind(
        cls, bind: Engine | Connection | AsyncEngine | AsyncConnection
    ) -> TransactionPolicy:
        """The policy of every job on ``bind``, or a refusal of the bind.

        Args:
            bind: the engine or connection a saver was given.

        Returns:
            The policy its runner follows.

        Raises:
            ValueError: ``bind`` autocommits every statement, so jobs of
                several statements could not be atomic on it; or it is an
                in-memory SQLite engine that gives each thread a database of
                its own.
        """
        check_transactions(bind)
        engine = engine_of(bind)
        autocommit, read_only = transaction_options(engine)
        return cls(
            autocommit,
            read_only,
            binary_results(engine.dialect),
            single_writer=single_writer(engine.dialect),
            lost_a_race=lost_a_race,
            takes_turns=needs_serializing(bind),
            keep_connection=keeps_a_connection(bind),
            check_first_connection=first_connection_check(engine),
            explain=explain,
        )
