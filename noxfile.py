"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``.

The README's two commands (``scripts/quickstart.sh``, ``scripts/test.sh``) need
no nox; these sessions are for contributors who want isolated environments.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite: every backend, sync and async (starts its own databases)."""
    session.install("-e", ".[test,test-official,test-server]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    session.install("-e", ".[test,test-official,lint]")
    session.run("mypy")


@nox.session
def quickstart(session: nox.Session) -> None:
    """The README's quick start, twice, to show the thread surviving."""
    # As scripts/quickstart.sh: posargs may hold --url of any database.
    session.install("-e", ".[examples,postgres,sqlite-async,mysql,cli]")
    session.run("python", "examples/quickstart.py", *session.posargs)
    session.run("python", "examples/quickstart.py", *session.posargs)
