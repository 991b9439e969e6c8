"""The release artifacts work: what ``python -m build`` makes (an sdist, then a
wheel built from that sdist) holds the migrations, ``py.typed`` and the
license, and each installs into a clean virtual environment in which the
saver sets up its tables and keeps a checkpoint.

The builds and installs reach PyPI (or pip's cache) for hatchling and the
runtime dependencies, as a user's install does. Installing from the artifact
is the point: a wheel built straight from the source tree (as
``test_migrations.test_setup_from_an_installed_wheel`` does) once shipped the
migrations while the released path, through the sdist, dropped them.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from outside import run_outside

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "langgraph/checkpoint/sqlalchemy"
VERSIONS = sorted(
    p.name for p in (REPO / "src" / PACKAGE / "migrations" / "versions").glob("*.py")
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``python -m build`` wrote the sdist and the wheel to."""
    out = tmp_path_factory.mktemp("dist")
    run_outside(sys.executable, "-m", "build", "--outdir", out, REPO, cwd=out)
    return out


def _only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


def _sdist_files(dist: Path) -> set[str]:
    """The sdist's files, relative to its top folder (``name-version/``)."""
    with tarfile.open(_only(dist, "*.tar.gz")) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
    return {name.split("/", 1)[1] for name in names}


def _wheel_files(dist: Path) -> set[str]:
    with zipfile.ZipFile(_only(dist, "*.whl")) as archive:
        return set(archive.namelist())


def _package_files(files: set[str], root: str) -> set[str]:
    """What is shipped under the package folder, relative to it."""
    prefix = f"{root}{PACKAGE}/"
    return {f.removeprefix(prefix) for f in files if f.startswith(prefix)}


def _assert_ships_the_package_data(package: set[str]) -> None:
    for name in ("migrations/env.py", "migrations/alembic.ini", "py.typed"):
        assert name in package, name
    shipped = sorted(
        f.removeprefix("migrations/versions/")
        for f in package
        if f.startswith("migrations/versions/") and f.endswith(".py")
    )
    assert VERSIONS and shipped == VERSIONS


def test_the_sdist_holds_what_the_readme_commands_need(dist: Path) -> None:
    files = _sdist_files(dist)
    _assert_ships_the_package_data(_package_files(files, "src/"))
    for name in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "mkdocs.yml",
        "noxfile.py",
        "alembic/alembic.ini",
        "scripts/quickstart.sh",
        "scripts/test.sh",
        "tests/conftest.py",
        "examples/quickstart.py",
        "docs/index.md",
    ):
        assert name in files, name
    assert not [f for f in files if f.startswith("bench/")]
    # alembic/ holds its configuration only; the scripts are the package's.
    assert {f for f in files if f.startswith("alembic/")} == {"alembic/alembic.ini"}


def test_the_wheel_holds_the_migrations_and_the_license(dist: Path) -> None:
    files = _wheel_files(dist)
    _assert_ships_the_package_data(_package_files(files, ""))
    # The memory store, in namespace packages shared with langgraph and
    # langgraph-checkpoint (langgraph.store.base): no __init__ above ours.
    for name in ("__init__.py", "store.py", "aio.py", "_core.py", "py.typed"):
        assert f"langgraph/store/sqlalchemy/{name}" in files, name
    assert "langgraph/__init__.py" not in files
    assert "langgraph/store/__init__.py" not in files
    assert [f for f in files if f.endswith(".dist-info/licenses/LICENSE")], sorted(
        files
    )


# What a user of the installed package runs: from a folder outside the
# checkout, on a SQLite file there.
ROUND_TRIP = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import langgraph.checkpoint.sqlalchemy as package
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

    installed = Path(package.__file__).resolve()
    assert Path(sys.prefix).resolve() in installed.parents, installed

    with SQLAlchemySaver.from_url("sqlite:///x.db") as saver:
        saver.setup()
        checkpoint = empty_checkpoint()
        version = saver.get_next_version(None)
        checkpoint["channel_values"] = {"greeting": "hello"}
        checkpoint["channel_versions"] = {"greeting": version}
        config = saver.put(
            {"configurable": {"thread_id": "t", "checkpoint_ns": ""}},
            checkpoint,
            {"source": "input", "step": -1},
            {"greeting": version},
        )
        stored = saver.get_tuple(config)
        assert stored is not None
        assert stored.checkpoint["channel_values"] == {"greeting": "hello"}
        assert stored.metadata["step"] == -1
    from langgraph.store.base import BaseStore
    from langgraph.store.sqlalchemy import SQLAlchemyStore

    with SQLAlchemyStore.from_url("sqlite:///x.db") as store:
        store.setup()
        assert isinstance(store, BaseStore)
        store.put(("users", "1"), "k", {"v": 1})
        assert store.get(("users", "1"), "k").value == {"v": 1}
    print("round trip from", installed)
    """
)


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_artifact_installs_and_keeps_a_checkpoint(
    dist: Path, kind: str, tmp_path: Path
) -> None:
    artifact = _only(dist, "*.whl" if kind == "wheel" else "*.tar.gz")
    venv = tmp_path / "venv"
    run_outside(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    # The base install is all SQLite needs: no extras.
    run_outside(python, "-m", "pip", "install", "-q", artifact, cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "round_trip.py").write_text(ROUND_TRIP, encoding="utf-8")
    out = run_outside(python, "round_trip.py", cwd=work, timeout=120)
    assert f"round trip from {venv.resolve()}" in out
    assert (work / "x.db").is_file()


def test_mkdocs_output_is_ignored_by_git(tmp_path: Path) -> None:
    """``mkdocs build`` writes site/; the project's .gitignore keeps it out of
    commits (checked in a scratch repository, so an sdist can run this)."""
    git = shutil.which("git")
    assert git is not None, "this test needs git on PATH"
    shutil.copy(REPO / ".gitignore", tmp_path / ".gitignore")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>", encoding="utf-8")
    run_outside(git, "init", "-q", ".", cwd=tmp_path)
    # check-ignore exits 0 only when the path is ignored.
    run_outside(git, "check-ignore", "-q", "site/index.html", cwd=tmp_path)
