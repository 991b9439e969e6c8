"""A throwaway PgBouncer in *transaction* pooling mode, in front of a
PostgreSQL server the tests already have (see ``postgres.py``).

Transaction pooling is the mode that breaks session state: a client gets a
server connection for one transaction only. The pool is kept small
(``default_pool_size``) so that the tests' many client connections share a
few server connections, as in production, and a statement prepared on one
server session is soon looked for on another. Debian's ``pgbouncer`` package
(``scripts/test.sh`` installs it) provides the binary; as root it runs as the
``postgres`` user, like the local PostgreSQL cluster, since PgBouncer refuses
to run as root. Nothing found raises ``RuntimeError`` saying how to get it.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

from servers._local import LocalServer, free_port, scratch_dir
from servers.postgres import _accepts, _server_owner

HOW_TO_GET_ONE = (
    "No pgbouncer binary for the tests of PostgreSQL through PgBouncer: "
    "sudo apt-get install pgbouncer (scripts/test.sh does it as root)"
)

# Server connections per (database, user): fewer than the tests' client
# connections, so that these share server sessions; enough that a test
# holding a transaction open on one connection while another works (a lock
# test, a writer beside a reader) never waits for a free one.
POOL_SIZE = 4


def _binary() -> Path | None:
    for candidate in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _quoted(value: str) -> str:
    # auth_file's syntax: "name" "password", a quote doubled inside.
    return '"' + value.replace('"', '""') + '"'


@contextlib.contextmanager
def pgbouncer_server(postgres_url: str) -> Iterator[LocalServer]:
    """A PgBouncer in transaction mode in front of the server of
    ``postgres_url`` (a SQLAlchemy URL), for the context. Its ``url`` is
    ``postgres_url`` with the host and port replaced by PgBouncer's: the
    same database, user and password."""
    import sqlalchemy as sa

    if (binary := _binary()) is None:
        raise RuntimeError(HOW_TO_GET_ONE)
    target = sa.engine.make_url(postgres_url)
    user = target.username or "postgres"
    owner = _server_owner()
    port = free_port()
    with scratch_dir("pgb", owner) as root:
        users, config, log = root / "users.txt", root / "pgbouncer.ini", root / "log"
        # With auth_type = trust a client is let in by name alone, but the name
        # must be in auth_file, and PgBouncer logs in to the server with the
        # password it finds there.
        users.write_text(f"{_quoted(user)} {_quoted(target.password or '')}\n")
        config.write_text(
            "[databases]\n"
            f"* = host={target.host or '127.0.0.1'} port={target.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
            "unix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {POOL_SIZE}\nmin_pool_size = 0\n"
            "reserve_pool_size = 0\nmax_client_conn = 500\n"
            # A test that waits for a server connection fails in seconds, not
            # after PgBouncer's default two minutes.
            "query_wait_timeout = 30\n"
            # After a failed login to a restarting server, PgBouncer refuses
            # clients for server_login_retry (15 s by default), longer than
            # the saver's retries wait; production sets it to taste too.
            "server_login_retry = 1\n"
            # The log goes to stderr, which LocalServer keeps in ``log``.
            "logfile =\npidfile =\n"
        )
        if owner is not None:
            shutil.chown(users, owner)
            shutil.chown(config, owner)
        url = target.set(host="127.0.0.1", port=port).render_as_string(
            hide_password=False
        )
        server = LocalServer(
            [str(binary), str(config)],
            log,
            url,
            lambda: _accepts(url),
            stop_signal=signal.SIGTERM,  # immediate; SIGINT waits on clients
            owner=owner,
        )
        with server.running():
            yield server
