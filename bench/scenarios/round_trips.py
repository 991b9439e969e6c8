"""7. Statements and round trips per operation of a superstep, for ours on
PostgreSQL (sync), counted two ways:

* with SQLAlchemy events, as asked: ``before_cursor_execute`` counts
  statements (an executemany is one call, so one round trip);
  ``commit``/``rollback`` on a connection that is not in autocommit and ran
  a statement add two more round trips, the BEGIN that psycopg sends before
  the first statement and the COMMIT/ROLLBACK. Statements run on an
  AUTOCOMMIT connection add none. Pool checkouts and returns send nothing
  (no pre-ping; the reset-on-return rollback of an idle psycopg connection
  is local).
* on the wire, from libpq's own trace of every connection (``PQtrace``):
  each ``Query`` or ``Sync`` message the client sends is a request it waits
  on, i.e. a round trip. This counts everything, pool and driver included,
  and is applied to the official PostgresSaver too, for context.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from bench.adapters import POSTGRES, official_pg_conn, ours
from bench.harness import SaverSet
from bench.plans import drive
from bench.report import Row
from bench.settings import Context
from bench.workload import seed_thread, superstep

NAME = "round_trips"
TITLE = "statements and round trips per get_tuple / put_writes / put (ours, PG)"
OPS = ("get_tuple", "put_writes", "put")
# psycopg prepares a statement on its 5th execution on a connection (its
# prepare_threshold), which costs one extra round trip, once: warm up past it.
WARMUP_STEPS = 6


class EventCounter:
    """Counts, per operation, what SQLAlchemy sends on ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.op = ""
        self.statements: Counter[str] = Counter()
        self.executemany: Counter[str] = Counter()
        self.transactions: Counter[str] = Counter()
        self._ran: set[int] = set()  # connections that ran a statement in a tx
        self._listeners = [
            ("before_cursor_execute", self._statement),
            ("commit", self._end),
            ("rollback", self._end),
        ]

    def _statement(
        self, conn: Any, _cursor: Any, _stmt: str, _params: Any, _ctx: Any, many: bool
    ) -> None:
        self.statements[self.op] += 1
        self.executemany[self.op] += many
        if not conn.connection.dbapi_connection.autocommit:
            self._ran.add(id(conn))

    def _end(self, conn: Any) -> None:
        if id(conn) in self._ran:
            self._ran.discard(id(conn))
            self.transactions[self.op] += 1

    def round_trips(self, op: str) -> int:
        return self.statements[op] + 2 * self.transactions[op]

    @contextlib.contextmanager
    def __call__(self, op: str) -> Iterator[None]:
        self.op = op
        try:
            yield
        finally:
            self.op = ""

    def __enter__(self) -> EventCounter:
        for name, fn in self._listeners:
            sa.event.listen(self.engine, name, fn)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, fn in self._listeners:
            sa.event.remove(self.engine, name, fn)


class WireCounter:
    """Counts, per operation, the requests libpq sends (``Query``/``Sync``)
    on every registered psycopg connection, from ``PQtrace`` output."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="lgsa-trace-")
        self.fd = fd
        self.pgconns: list[Any] = []
        self.round_trips: Counter[str] = Counter()
        self._offset = 0
        self._tracing = False

    def add(self, pgconn: Any) -> None:
        self.pgconns.append(pgconn)
        if self._tracing:
            pgconn.trace(os.dup(self.fd))

    @contextlib.contextmanager
    def __call__(self, op: str) -> Iterator[None]:
        self._tracing = True
        for pgconn in self.pgconns:
            pgconn.trace(os.dup(self.fd))  # libpq closes its copy on untrace
        try:
            yield
        finally:
            self._tracing = False
            for pgconn in self.pgconns:
                pgconn.untrace()  # flushes
            with open(self.path, "rb") as trace:
                trace.seek(self._offset)
                lines = trace.read().decode(errors="replace").splitlines()
                self._offset = trace.tell()
            self.round_trips[op] += sum(map(_is_request, lines))

    def close(self) -> None:
        os.close(self.fd)
        os.unlink(self.path)


def _is_request(line: str) -> bool:
    """A frontend ``Query`` or ``Sync`` line of a libpq trace (its fields are
    [timestamp,] direction, length, message type, contents)."""
    fields = line.split("\t")
    for i, field in enumerate(fields[:2]):
        if field == "F":
            return fields[i + 2 : i + 3] in (["Query"], ["Sync"])
    return False


def both(*hooks: Any) -> Any:
    @contextlib.contextmanager
    def hook(op: str) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for h in hooks:
                stack.enter_context(h(op))
            yield

    return hook


def run(ctx: Context) -> list[Row]:
    steps = ctx.settings.trip_supersteps
    mine, theirs = ours(POSTGRES), official_pg_conn()
    with SaverSet(ctx.env, "trips", [mine, theirs]) as savers:
        saver, official = savers[mine.key].saver, savers[theirs.key].saver
        ours_wire, official_wire = WireCounter(), WireCounter()
        try:
            engine: sa.Engine = saver.bind
            sa.event.listen(
                engine, "connect", lambda dbapi, _rec: ours_wire.add(dbapi.pgconn)
            )
            engine.dispose()  # so that every connection from now on is traced
            official_wire.add(official.conn.pgconn)
            for s, name in ((saver, "ours"), (official, "official")):
                drive(seed_thread(f"trips-{name}", s.get_next_version), s)
                for _ in range(WARMUP_STEPS):
                    drive(superstep(f"trips-{name}", s.get_next_version), s)
            with EventCounter(engine) as events:
                for _ in range(steps):
                    drive(
                        superstep("trips-ours", saver.get_next_version),
                        saver,
                        both(events, ours_wire),
                    )
            for _ in range(steps):
                drive(
                    superstep("trips-official", official.get_next_version),
                    official,
                    official_wire,
                )
        finally:
            ours_wire.close()
            official_wire.close()
    rows = []
    for op in OPS:
        trips = events.round_trips(op) / steps
        rows.append(
            Row(
                NAME,
                f"{op}: round trips per call, ours (events) vs official (wire)",
                "count",
                trips,
                official_wire.round_trips[op] / steps,
                target="round_trips",
                note=f"ours: {events.statements[op] / steps:g} statement(s) "
                f"({events.executemany[op] / steps:g} executemany), "
                f"{events.transactions[op] / steps:g} BEGIN/COMMIT pair(s); "
                f"libpq trace says {ours_wire.round_trips[op] / steps:g}",
                extra={
                    "ours_statements": events.statements[op] / steps,
                    "ours_transactions": events.transactions[op] / steps,
                    "ours_wire": ours_wire.round_trips[op] / steps,
                },
            )
        )
    total = sum(events.round_trips(op) for op in OPS) / steps
    total_statements = sum(events.statements[op] for op in OPS) / steps
    rows.append(
        Row(
            NAME,
            "superstep: round trips, ours (events) vs official (wire)",
            "count",
            total,
            sum(official_wire.round_trips[op] for op in OPS) / steps,
            note=f"ours: {total_statements:g} statements per superstep; "
            f"libpq trace says {sum(ours_wire.round_trips.values()) / steps:g}",
        )
    )
    return rows
