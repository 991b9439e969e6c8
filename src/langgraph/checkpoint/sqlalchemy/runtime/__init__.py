"""The runtime: where the savers' plans (``repository.plan``) meet a database.

- ``engines``: the engines ``from_url`` makes, and what a bind handed to a
  saver is (autocommitting, one shared connection, kept open or not).
- ``policy``: :class:`~.policy.TransactionPolicy`, how every job on one bind
  runs, worked out once per bind from ``engines`` and ``dialects``.
- ``retry``: the one rule for running a failed attempt again.
- ``driver``: drives plans on connections, and the sync and async runners
  that give each job its transaction and retries.
- ``compiled``: the hot statements, compiled once and run on the DBAPI cursor.
- ``greenlet``: the async runner's way into the sync driver, on reused
  greenlets.
- ``sweeper``: TTL sweeps on a schedule, a thread or an asyncio task, for
  the savers and the store alike.
- ``private_api``: the private SQLAlchemy API the last two lean on, checked
  once (the public route otherwise).

Every job of both savers runs through ``driver``, which executes each step of
its plan: an ``Execute`` through ``Connection.execute``, or, when hot, on the
DBAPI cursor (``compiled``, through SQLAlchemy's own last step); a ``Call``
is handed the job's sync ``Connection`` and executes what it will on it
(Alembic's upgrade, in ``setup()``). Outside the runtime, statements are
still sent by the ``begin`` listener of engines ``from_url`` tuned (the
``BEGIN`` it sends, in ``dialects``), by ``cli/`` and ``transfer`` on
connections of their own (their read-only queries, and the CLI's ``db``
commands, which create the schema and migrate), and by Alembic's command
line (``migrate``): none of them a saver's job.

This ``__init__`` imports nothing, so that ``dialects`` (which reads
``private_api``) and ``engines`` (which reads ``dialects``) load in either
order.
"""
