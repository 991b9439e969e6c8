"""The PostgreSQL provisioning the suite relies on (tests/servers/postgres.py).

No skip: if no server can be had, this fails and says how to get one.
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from servers.postgres import (
    _sqlalchemy_url,
    database_url,
    drop_database,
    fresh_database,
    postgres_server,
)


def test_a_server_answers_and_keeps_a_table() -> None:
    started = time.monotonic()
    with postgres_server() as server:
        ready = time.monotonic() - started
        name = f"servers_{uuid.uuid4().hex[:10]}"
        url = fresh_database(server, name)
        assert sa.engine.make_url(url).database == name
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                version = conn.execute(sa.text("select version()")).scalar_one()
                assert "PostgreSQL" in version
                assert (
                    conn.execute(sa.text("select current_database()")).scalar_one()
                    == name
                )
                conn.execute(sa.text("create table t (id int primary key, v text)"))
                conn.execute(
                    sa.text("insert into t values (:id, :v)"),
                    [{"id": 1, "v": "één"}, {"id": 2, "v": "two"}],
                )
            with engine.connect() as conn:
                rows = conn.execute(sa.text("select id, v from t order by id")).all()
            assert [tuple(r) for r in rows] == [(1, "één"), (2, "two")]

            # fresh_database again: the same name, empty, even with a client on it.
            with engine.connect() as held:
                held.execute(sa.text("select 1"))
                held.commit()  # idle: nothing to roll back once it is cut off
                assert fresh_database(server, name) == url
            engine.dispose()
            with engine.connect() as conn:
                tables = sa.inspect(conn).get_table_names()
            assert tables == []
        finally:
            engine.dispose()
            drop_database(server, name)
        admin = sa.create_engine(server)
        try:
            with admin.connect() as conn:
                datnames = conn.execute(sa.text("select datname from pg_database"))
                assert name not in set(datnames.scalars())
        finally:
            admin.dispose()
    print(f"PostgreSQL ready in {ready:.2f} s: {version}")


def test_urls() -> None:
    assert (
        _sqlalchemy_url("postgres://u:p@h:5/d")
        == _sqlalchemy_url("postgresql://u:p@h:5/d")
        == "postgresql+psycopg://u:p@h:5/d"
    )
    assert _sqlalchemy_url("postgresql+psycopg2://h/d") == "postgresql+psycopg2://h/d"
    assert (
        database_url("postgresql+psycopg://u:p%40ss@h:5/d?sslmode=disable", "x")
        == "postgresql+psycopg://u:p%40ss@h:5/x?sslmode=disable"
    )
