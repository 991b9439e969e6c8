"""The lowest release of each dependency we declare and test, enforced by name.

pip enforces our declared ranges on install, but an app can end up below them
(an install with ``--no-deps``, a later pin of an older release, a vendored
copy). Then the package says which dependency is too old and what to install,
instead of failing with an ``ImportError`` or ``TypeError`` from deep inside.
Nothing here imports LangGraph or SQLAlchemy: it runs before them.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["FLOORS", "require", "require_core", "require_driver"]


def _release(version: str) -> tuple[int, ...]:
    """The leading numeric parts of a version string: ``"2.0.30.post1"`` ->
    ``(2, 0, 30)``."""
    parts: list[int] = []
    for piece in version.split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts)


#: The lowest release of each dependency that we declare and test, and what
#: needs it; pyproject.toml declares the same (a test keeps the two equal).
FLOORS: dict[str, str] = {
    "langgraph-checkpoint": "4.0",
    "langchain-core": "1.0",
    "sqlalchemy": "2.0.30",
    "greenlet": "3.0",
    "alembic": "1.13",
    "psycopg": "3.1",
    "aiosqlite": "0.20",
    "pymysql": "1.1",
    "asyncmy": "0.2.9",
}

# The distribution behind each driver name of a URL we make engines for.
_DRIVER_DISTRIBUTIONS = {
    "psycopg": "psycopg",
    "psycopg_async": "psycopg",
    "aiosqlite": "aiosqlite",
    "pymysql": "pymysql",
    "asyncmy": "asyncmy",
}


def require(distribution: str) -> None:
    """Raise an ``ImportError`` naming ``distribution`` and its floor when the
    installed release is older than :data:`FLOORS` says.

    A distribution that is not installed at all is left to the import that
    needs it, whose own error names it."""
    floor = FLOORS[distribution]
    installed = _installed(distribution)
    if installed is not None and _release(installed) < _release(floor):
        raise ImportError(
            f"langgraph-checkpoint-sqlalchemy needs {distribution}>={floor}, "
            f"but {distribution} {installed} is installed. "
            f"Upgrade it: pip install '{distribution}>={floor}'"
        )


def require_driver(driver: str) -> None:
    """:func:`require` for the distribution of a URL's ``driver`` name, if
    it is one we declare."""
    distribution = _DRIVER_DISTRIBUTIONS.get(driver)
    if distribution is not None:
        require(distribution)


def require_core() -> None:
    """:func:`require` for what every import of the package needs, and the
    one pairing of two of them that fails by itself: langgraph-checkpoint 4.1
    and later import only with langchain-core 1.2.5 or later, which they do
    not declare (an older one fails inside their serializer)."""
    for distribution in (
        "langgraph-checkpoint",
        "langchain-core",
        "sqlalchemy",
        "greenlet",
    ):
        require(distribution)
    checkpoint, core = _installed("langgraph-checkpoint"), _installed("langchain-core")
    if (
        checkpoint
        and core
        and _release(checkpoint) >= (4, 1)
        and _release(core) < (1, 2, 5)
    ):
        raise ImportError(
            f"langgraph-checkpoint {checkpoint} needs langchain-core>=1.2.5, "
            f"but langchain-core {core} is installed. "
            "Upgrade it: pip install 'langchain-core>=1.2.5'"
        )


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
