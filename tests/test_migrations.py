"""The schema's lifecycle under Alembic, on every backend."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver, metadata, migrate

from conftest import Backend

REPO = Path(__file__).resolve().parents[1]
OUR_TABLES = {"checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_ttl"}
STORE_TABLES = {"store"}
HEAD = "lgcp0003"


def _tables(saver: SQLAlchemySaver, schema: str | None = None) -> set[str]:
    with saver.bind.connect() as conn:  # type: ignore[union-attr]
        return set(sa.inspect(conn).get_table_names(schema=schema))


def test_no_drift_after_upgrade(saver: SQLAlchemySaver) -> None:
    """Both branches at their heads match the models (which declare the
    store's table too, for host apps' autogenerate)."""
    with saver.bind.begin() as conn:  # type: ignore[union-attr]
        migrate.upgrade(conn, branch=None)
    with saver.bind.connect() as conn:  # type: ignore[union-attr]
        context = MigrationContext.configure(
            conn,
            opts={
                "version_table": migrate.VERSION_TABLE,
                "include_object": migrate.include_object(conn.dialect.name),
            },
        )
        diffs = compare_metadata(context, metadata)
    assert diffs == []
    assert _tables(saver) == OUR_TABLES | STORE_TABLES | {migrate.VERSION_TABLE}


def test_downgrade_base_then_upgrade_again(saver: SQLAlchemySaver) -> None:
    with saver.bind.begin() as conn:  # type: ignore[union-attr]
        command.downgrade(migrate.alembic_config(conn), "base")
    assert not (_tables(saver) & OUR_TABLES)
    saver.setup()
    assert _tables(saver) >= OUR_TABLES
    config = saver.put(
        generate_config("t"), generate_checkpoint(), generate_metadata(), {}
    )
    assert saver.get_tuple(config) is not None


def test_ttl_table_down_and_up_again(saver: SQLAlchemySaver) -> None:
    """lgcp0003 adds the TTL side table alone: down to lgcp0002 drops it and
    keeps every checkpoint; up again brings it back, empty, indexed."""
    ttl_saver = SQLAlchemySaver(saver.bind, ttl={"default_ttl": 5})
    config = ttl_saver.put(
        generate_config("t"), generate_checkpoint(), generate_metadata(), {}
    )
    ttl_saver.pin_thread("t")
    with saver.bind.begin() as conn:  # type: ignore[union-attr]
        command.downgrade(migrate.alembic_config(conn), "lgcp0002")
    assert "checkpoint_ttl" not in _tables(saver)
    assert saver.get_tuple(config) is not None
    saver.setup()
    assert "checkpoint_ttl" in _tables(saver)
    with saver.bind.connect() as conn:  # type: ignore[union-attr]
        assert migrate.current_heads(conn) == {HEAD}
        indexes = sa.inspect(conn).get_indexes("checkpoint_ttl")
    assert [ix["column_names"] for ix in indexes] == [["expires_at"]]
    assert ttl_saver.list_pinned_threads() == []
    assert ttl_saver.get_tuple(config) is not None


def test_setup_is_cheap_at_head(saver: SQLAlchemySaver) -> None:
    statements: list[str] = []
    engine = saver.bind.engine
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    saver.setup()
    # The version check only: no DDL.
    assert not [
        s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER"))
    ]
    with saver.bind.connect() as conn:  # type: ignore[union-attr]
        assert migrate.current_heads(conn) == {HEAD}


def test_offline_sql_renders_ddl(backend: Backend) -> None:
    for url in (backend.sync_url, "postgresql://u@h/db", "mysql://u@h/db"):
        buffer = io.StringIO()
        config = migrate.alembic_config()
        config.output_buffer = buffer
        config.attributes["url"] = url
        command.upgrade(config, "heads", sql=True)
        ddl = buffer.getvalue()
        assert "CREATE TABLE checkpoints" in ddl
        assert "CREATE TABLE store" in ddl
        assert "CREATE TABLE checkpoint_writes" in ddl
        assert "CREATE TABLE checkpoint_ttl" in ddl
        assert "langgraph_checkpoint_alembic_version" in ddl
    assert "LONGBLOB" in ddl  # the last one rendered was MySQL


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_command_line_forms(backend: Backend) -> None:
    if backend.name == "sqlite-memory":
        url = f"sqlite:///{REPO / '.pytest-cli.db'}"
        (REPO / ".pytest-cli.db").unlink(missing_ok=True)
    else:
        url = backend.sync_url
    module = "langgraph.checkpoint.sqlalchemy.migrate"
    try:
        # "head", as deploy scripts said before the store's branch: both.
        _cli("-m", module, "-x", f"url={url}", "upgrade", "head")
        current = _cli("-m", module, "-x", f"url={url}", "current")
        assert HEAD in current and "lgst0002" in current
        assert "lgcp0001" in _cli("-m", module, "history")
        # The checkout's alembic/ folder and an environment variable.
        out = _cli(
            "-m",
            "alembic",
            "-c",
            "alembic/alembic.ini",
            "current",
            env={migrate.URL_ENV_VAR: url},
        )
        assert HEAD in out
        _cli("-m", module, "-x", f"url={url}", "downgrade", "base")
        engine = sa.create_engine(url)
        try:
            tables = set(sa.inspect(engine).get_table_names())
            assert not (tables & (OUR_TABLES | STORE_TABLES))
        finally:
            engine.dispose()
    finally:
        (REPO / ".pytest-cli.db").unlink(missing_ok=True)


def test_module_command_runs_once_and_names_itself() -> None:
    """``python -m ...migrate`` loads the module once (running it as
    ``__main__`` loaded it a second time, with a RuntimeWarning) and its
    usage line names the command a user types."""
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::RuntimeWarning",
            "-m",
            "langgraph.checkpoint.sqlalchemy.migrate",
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning" not in result.stderr
    assert result.stdout.startswith(
        "usage: python -m langgraph.checkpoint.sqlalchemy.migrate"
    )


def test_custom_version_table(backend: Backend) -> None:
    with SQLAlchemySaver.from_url(
        backend.sync_url, version_table="my_versions"
    ) as saver:
        saver.setup()
        assert "my_versions" in _tables(saver)


# -- PostgreSQL: schemas and adopting the official saver's tables --------------


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_two_schemas_are_isolated(request: pytest.FixtureRequest, server: str) -> None:
    """PostgreSQL schemas and MySQL databases alike, with no search_path games."""
    url = request.getfixturevalue(server)
    a_name, b_name = f"agents_{uuid.uuid4().hex[:8]}", f"other_{uuid.uuid4().hex[:8]}"
    with (
        SQLAlchemySaver.from_url(url, schema=a_name) as a,
        SQLAlchemySaver.from_url(url, schema=b_name) as b,
    ):
        a.setup()
        b.setup()
        assert OUR_TABLES | {migrate.VERSION_TABLE} <= _tables(a, a_name)
        assert _tables(b, b_name) >= OUR_TABLES
        config = a.put(
            generate_config("t"), generate_checkpoint(), generate_metadata(), {}
        )
        assert a.get_tuple(config) is not None
        assert b.get_tuple(config) is None
        assert list(b.list(None)) == []
        with a.bind.connect() as conn:  # type: ignore[union-attr]
            if conn.dialect.name == "postgresql":
                path = conn.execute(sa.text("show search_path")).scalar()
                assert path == '"$user", public'
            assert migrate.current_heads(conn, schema=a_name) == {HEAD}


def test_adopts_official_postgres_tables(postgres_url: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    from servers.postgres import fresh_database

    server = postgres_url.rsplit("/", 1)[0] + "/postgres"
    url = fresh_database(server, f"adopt_{uuid.uuid4().hex[:8]}")
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with PostgresSaver.from_conn_string(plain) as official:
        official.setup()
        configs = []
        config = generate_config("t")
        for step in range(3):
            versions = {"messages": official.get_next_version(None, None)}
            config = official.put(
                config,
                generate_checkpoint(
                    channel_values={"messages": [{"n": step}], "count": step},
                    channel_versions=versions,
                ),
                generate_metadata(step=step),
                versions,
            )
            official.put_writes(config, [("messages", {"w": step})], task_id=f"t{step}")
            configs.append(config)
        before = list(official.list(None))
    with SQLAlchemySaver.from_url(url) as ours:
        ours.setup()
        with ours.bind.connect() as conn:  # type: ignore[union-attr]
            assert migrate.current_heads(conn) == {HEAD}
            indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("checkpoints")}
            gin_options = conn.execute(
                sa.text(
                    "SELECT reloptions FROM pg_class"
                    " WHERE relname = 'checkpoints_metadata_gin_idx'"
                )
            ).scalar()
        # Ours in, the official thread_id index out (lgcp0002).
        assert indexes == {"checkpoints_metadata_gin_idx"}  # and the primary key
        assert gin_options == ["fastupdate=off"]
        after = list(ours.list(None))
        assert [t.config for t in after] == [t.config for t in before]
        # The side table came alongside; the official tables stay the same.
        assert "checkpoint_ttl" in _tables(ours)
        assert [t.checkpoint for t in after] == [t.checkpoint for t in before]
        assert [t.pending_writes for t in after] == [t.pending_writes for t in before]
        assert [t.metadata for t in after] == [t.metadata for t in before]


def test_setup_leaves_the_host_applications_tables_alone(postgres_url: str) -> None:
    """The first migration looks into our own tables only: a host table of a
    type SQLAlchemy does not know (pgvector's, PostGIS's; here a composite
    type) is neither read nor warned about."""
    from servers.postgres import fresh_database

    server = postgres_url.rsplit("/", 1)[0] + "/postgres"
    url = fresh_database(server, f"host_{uuid.uuid4().hex[:8]}")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TYPE host_point AS (x float8, y float8)"))
            conn.execute(sa.text("CREATE TABLE host_places (id int, at host_point)"))
        statements: list[str] = []
        sa.event.listen(
            engine,
            "before_cursor_execute",
            lambda *a: statements.append(f"{a[2]} {a[3]}"),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            SQLAlchemySaver(engine).setup()
        assert not [s for s in statements if "host_places" in s]
        assert "host_places" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


# -- a host application's own Alembic history ----------------------------------

HOST_APP = REPO / "examples" / "host_app_migrations"


def test_host_app_embeds_our_history(tmp_path: Path) -> None:
    """The host app of examples/host_app_migrations, with our versions folder
    added to its version_locations by path as docs/migrations.md shows, runs
    `upgrade heads`, and autogenerate then finds nothing to do for either."""
    from alembic.config import Config

    db = tmp_path / "host.db"
    config = Config(str(HOST_APP / "alembic.ini"))
    config.set_main_option(
        "version_locations", f"{HOST_APP / 'versions'} {migrate.version_location()}"
    )
    config.attributes["url"] = f"sqlite:///{db}"
    config.attributes["configure_logger"] = False
    command.upgrade(config, "heads")
    engine = sa.create_engine(f"sqlite:///{db}")

    def tables() -> set[str]:
        return set(sa.inspect(engine).get_table_names())

    try:
        with engine.connect() as conn:
            assert {"users", "alembic_version"} | OUR_TABLES | STORE_TABLES <= tables()
            assert migrate.VERSION_TABLE not in tables()  # the host's table is used
            # One row per branch: the host's head, and our two (lgcp0003, on
            # top of the lgcp0001 that host0001's depends_on names; the
            # store's lgst0001).
            heads = set(MigrationContext.configure(conn).get_current_heads())
            assert heads == {"host0001", HEAD, "lgst0002"}
            sys.path.insert(0, str(HOST_APP))
            try:
                from host_models import host_metadata
            finally:
                sys.path.remove(str(HOST_APP))
            context = MigrationContext.configure(
                conn, opts={"include_object": migrate.include_object("sqlite")}
            )
            assert compare_metadata(context, [host_metadata, metadata]) == []
        # The saver works on the host's database, next to the host's tables.
        saver = SQLAlchemySaver(engine)
        stored = saver.put(generate_config("t"), generate_checkpoint(), {}, {})
        assert saver.get_tuple(stored) is not None
        # The host's branch goes away alone...
        command.downgrade(config, "host@base")
        assert "users" not in tables()
        assert tables() >= OUR_TABLES
        # ...and `upgrade host@head` brings it back through its depends_on.
        command.upgrade(config, "host@head")
        assert "users" in tables()
        # Our branch takes the host revision that depends on it along.
        command.downgrade(config, "langgraph_checkpoint@base")
        assert not (tables() & (OUR_TABLES | {"users"}))
        assert tables() >= STORE_TABLES  # the store's branch stays
        command.upgrade(config, "host@head")  # ours first, then the host's
        # (ours to lgcp0001 only, which host0001 depends on: no side table)
        assert {"users"} | (OUR_TABLES - {"checkpoint_ttl"}) <= tables()
    finally:
        engine.dispose()


# -- an installed wheel ------------------------------------------------------


def test_setup_from_an_installed_wheel(tmp_path: Path) -> None:
    """The migration scripts ship in the wheel: setup() runs from a fresh venv."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    # Dependencies come from this environment's site-packages, without its
    # editable install of the project (PYTHONPATH entries run no .pth files).
    site = next(p for p in sys.path if p.endswith("site-packages"))
    script = (
        "import langgraph.checkpoint.sqlalchemy as m, sqlalchemy as sa;"
        "assert 'site-packages' in m.__file__ and 'venv' in m.__file__, m.__file__;"
        f"s = m.SQLAlchemySaver.from_url('sqlite:///{tmp_path / 'w.db'}'); s.setup();"
        "print(sorted(sa.inspect(s.bind).get_table_names()))"
    )
    out = subprocess.run(
        [str(python), "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": site},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "checkpoint_writes" in out.stdout
    assert migrate.VERSION_TABLE in out.stdout


def test_importing_the_savers_leaves_alembic_unloaded(tmp_path: Path) -> None:
    """Alembic loads when the schema has to change (the first ``setup()``,
    the command line), not when an application imports the savers, nor when
    its ``setup()`` at every start finds the database at head: Alembic and
    Mako took about as long to import as the rest of the package, and 8 MiB
    of the process."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = (
        "import sys\n"
        "import langgraph.checkpoint.sqlalchemy, langgraph.checkpoint.sqlalchemy.aio\n"
        "from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver\n"
        "assert 'alembic' not in sys.modules, 'imported with the savers'\n"
        f"with SQLAlchemySaver.from_url({url!r}) as saver:\n"
        "    saver.setup()\n"
        "assert 'alembic' in sys.modules, 'setup() ran without it?'\n"
        "print('ok')\n"
    )
    again = (
        "import sys\n"
        "from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver\n"
        "from langgraph.store.sqlalchemy import SQLAlchemyStore\n"
        f"with SQLAlchemySaver.from_url({url!r}) as saver:\n"
        "    saver.setup()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako'))\n"
        "assert not loaded, loaded\n"
        f"with SQLAlchemyStore.from_url({url!r}) as store:\n"
        "    store.setup()\n"
        "assert 'alembic' in sys.modules, 'the store branch was missing'\n"
        f"with SQLAlchemyStore.from_url({url!r}) as store:\n"
        "    store.setup()\n"
        "print('ok')\n"
    )
    for script in (first, again):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ok"


def test_branch_heads_are_the_scripts_heads() -> None:
    """``BRANCH_HEADS`` (what ``setup()`` compares the database with, without
    Alembic) names each branch's head as Alembic reads the scripts."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    for branch, heads in migrate.BRANCH_HEADS.items():
        assert heads == {
            r.revision for r in script.get_revisions(f"{branch}@head") if r is not None
        }
    assert migrate.branch_heads(None) == set(script.get_heads())
    assert set(migrate.BRANCH_HEADS) == {
        label for r in script.walk_revisions() for label in r.branch_labels
    }
    with pytest.raises(ValueError, match="no migration branch"):
        migrate.branch_heads("nope")


# -- two branches: the saver's and the store's -----------------------------------


def test_each_setup_upgrades_its_own_branch(tmp_path: Path) -> None:
    """The store's setup() creates the store's table only, the saver's the
    checkpoint tables only; `upgrade heads` brings whichever is missing."""
    from langgraph.store.sqlalchemy import SQLAlchemyStore

    url = f"sqlite:///{tmp_path / 'branches.db'}"
    with SQLAlchemyStore.from_url(url) as store:
        store.setup()
        with store.bind.connect() as conn:  # type: ignore[union-attr]
            assert migrate.current_heads(conn) == {"lgst0002"}
            assert set(sa.inspect(conn).get_table_names()) == STORE_TABLES | {
                migrate.VERSION_TABLE
            }
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
        assert _tables(saver) == OUR_TABLES | STORE_TABLES | {migrate.VERSION_TABLE}
        with saver.bind.connect() as conn:  # type: ignore[union-attr]
            assert migrate.current_heads(conn) == {HEAD, "lgst0002"}
    other = f"sqlite:///{tmp_path / 'saver-only.db'}"
    with SQLAlchemySaver.from_url(other) as saver:
        saver.setup()
        assert _tables(saver) == OUR_TABLES | {migrate.VERSION_TABLE}
        with saver.bind.begin() as conn:  # type: ignore[union-attr]
            assert migrate.upgrade(conn, branch=None) is True  # the store's branch
            assert migrate.upgrade(conn, branch=None) is False
        assert _tables(saver) >= STORE_TABLES


def test_store_setup_is_cheap_at_head(backend: Backend) -> None:
    store = backend.store()
    try:
        statements: list[str] = []
        sa.event.listen(
            store.bind.engine,
            "before_cursor_execute",
            lambda *a: statements.append(a[2]),
        )
        store.setup()
        assert not [
            s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER"))
        ]
        with store.bind.connect() as conn:  # type: ignore[union-attr]
            assert "lgst0002" in migrate.current_heads(conn)
    finally:
        store.close()


def test_the_store_branch_downgrades_alone(backend: Backend) -> None:
    if backend.name == "sqlite-memory":
        pytest.skip("a new engine is a new in-memory database")
    backend.saver().close()
    backend.store().close()
    engine = sa.create_engine(backend.sync_url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "langgraph_store@base")
        names = set(sa.inspect(engine).get_table_names())
        assert not (names & STORE_TABLES) and names >= OUR_TABLES
    finally:
        engine.dispose()
