"""``python -m langgraph.checkpoint.sqlalchemy``: the ``langgraph-sqlalchemy``
command line (needs the ``cli`` extra: click and rich)."""

from __future__ import annotations

import sys

__all__ = ["main"]

_CLI_DEPENDENCIES = ("click", "rich")


def main() -> None:
    """Run the command line, or say in one line which extra it needs."""
    try:
        from langgraph.checkpoint.sqlalchemy.cli import main as cli
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _CLI_DEPENDENCIES:
            raise
        print(
            f"Error: the command line needs {exc.name}: "
            "pip install 'langgraph-checkpoint-sqlalchemy[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    cli()


if __name__ == "__main__":
    main()
