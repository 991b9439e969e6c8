"""What every command shares: the database options, output, errors, formatting.

Every command takes ``--url`` (or ``LANGGRAPH_CHECKPOINT_URL``), ``--schema``
and ``--json``. Output goes to stdout as rich tables, or as one JSON document
with ``--json``; progress and spinners go to stderr, and only on a terminal.
Errors are one line on stderr (``Error: ...``) and a non-zero exit; passwords
never appear in anything printed.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.dialects import (
    database_file,
    has_schemas,
    sync_url,
)
from langgraph.checkpoint.sqlalchemy.migrate import URL_ENV_VAR
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    checkpoint_time,
)
from langgraph.checkpoint.sqlalchemy.runtime.engines import printable_url
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    SQLAlchemyError,
)

__all__ = [
    "CliError",
    "Database",
    "Output",
    "checkpoint_time",
    "confirm_options",
    "database_options",
    "describe_error",
    "engine_of",
    "format_bytes",
    "format_time",
    "mask_url",
    "one_line",
    "parse_age",
    "short",
    "to_jsonable",
]

# Passwords seen in URLs during this process: scrubbed from every message.
_SECRETS: set[str] = set()
_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^:/@\s]*:)[^@\s]*@")
_LOOSE_CREDENTIALS = re.compile(r":[^:@/\s]*@")


class CliError(click.ClickException):
    """A failure the operator can act on: printed as one line, exit code 1."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(message: str) -> str:
    """``message`` on one line, with every known password masked."""
    text = " ".join(str(message).split())
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return _URL_CREDENTIALS.sub(r"\g<head>***@", text)


def mask_url(url: str | URL) -> str:
    """The URL as it may be printed: its password replaced by ``***``."""
    if isinstance(url, URL):
        if url.password:
            _SECRETS.add(str(url.password))
        return printable_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not a URL: still hide whatever sits between a ':' and an '@'.
        return _LOOSE_CREDENTIALS.sub(
            ":***@", _URL_CREDENTIALS.sub(r"\g<head>***@", url)
        )
    if parsed.password:
        _SECRETS.add(str(parsed.password))
    return _URL_CREDENTIALS.sub(r"\g<head>***@", url)


def describe_error(exc: BaseException) -> str:
    """One line that says what went wrong, without the SQL or a traceback."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        detail = lines[0] if lines else type(exc.orig).__name__
        return one_line(f"database error ({type(exc.orig).__name__}): {detail}")
    if isinstance(exc, SQLAlchemyError):
        # SQLAlchemy appends a "Background on this error" link on a new line.
        lines = str(exc).strip().splitlines()
        return one_line(lines[0] if lines else type(exc).__name__)
    text = str(exc).strip()
    return one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


# -- the database ----------------------------------------------------------


@dataclasses.dataclass
class Database:
    """Where a command works: a URL and an optional schema."""

    url: str | None
    schema: str | None = None

    def require_url(self) -> URL:
        """The URL with a sync driver; fails if none was given."""
        if not self.url:
            raise CliError(f"no database URL: pass --url or set {URL_ENV_VAR}")
        mask_url(self.url)  # registers the password for scrubbing
        try:
            return sync_url(self.url)
        except NoSuchModuleError as exc:
            scheme = self.url.split(":", 1)[0]
            raise CliError(
                f"SQLAlchemy has no dialect or driver for {scheme}:// "
                f"({mask_url(self.url)})"
            ) from exc
        except ArgumentError as exc:
            raise CliError(
                f"not a database URL: {mask_url(self.url)} "
                "(expected dialect[+driver]://user:password@host/database)"
            ) from exc

    @property
    def masked(self) -> str:
        """The URL as it may be printed."""
        return mask_url(self.url) if self.url else "(no URL)"

    @property
    def where(self) -> str:
        """The URL and schema, as they may be printed."""
        suffix = f" (schema {self.schema})" if self.schema else ""
        return self.masked + suffix

    @contextmanager
    def saver(self, *, require_tables: bool = True) -> Iterator[SQLAlchemySaver]:
        """A saver on a new engine, checked to reach the database (and, with
        ``require_tables``, to find our tables there); closed afterwards."""
        url = self.require_url()
        if require_tables and _missing_sqlite_file(url):
            raise CliError(f"no such SQLite database file: {url.database}")
        try:
            saver = SQLAlchemySaver.from_url(url, schema=self.schema)
        except ImportError as exc:
            raise CliError(
                f"the database driver for {self.masked} is not installed ({exc})"
            ) from exc
        except ArgumentError as exc:
            raise CliError(f"cannot use {self.masked}: {describe_error(exc)}") from exc
        with saver:
            try:
                with engine_of(saver).connect() as conn:
                    if require_tables:
                        self._check_tables(conn)
            except DBAPIError as exc:
                raise CliError(
                    f"cannot reach {self.where}: {describe_error(exc)}"
                ) from exc
            yield saver

    def _check_tables(self, conn: Connection) -> None:
        inspector = inspect(conn)
        if (
            self.schema
            and has_schemas(conn.dialect)
            and not inspector.has_schema(self.schema)
        ):
            raise CliError(f"schema {self.schema!r} does not exist in {self.masked}")
        if not inspector.has_table("checkpoints", schema=self.schema):
            raise CliError(
                f"no checkpoint tables in {self.where}; "
                "create them with `langgraph-sqlalchemy db upgrade`"
            )

    def connect(self, saver: SQLAlchemySaver) -> Connection:
        """A new connection on the saver's engine where unqualified table
        names mean our tables in ``--schema``."""
        conn = engine_of(saver).connect()
        if self.schema:
            conn = conn.execution_options(schema_translate_map={None: self.schema})
        return conn


def engine_of(saver: SQLAlchemySaver) -> Engine:
    """The engine under a saver."""
    bind = saver.bind
    return bind if isinstance(bind, Engine) else bind.engine


def _missing_sqlite_file(url: URL) -> bool:
    path = database_file(url)
    return path is not None and not Path(path).exists()


# -- options ---------------------------------------------------------------

F = Callable[..., Any]


def database_options(func: F) -> F:
    """Add ``--url``, ``--schema`` and ``--json``; the command gets ``db`` (a
    ``Database``) and ``out`` (an ``Output``) instead."""

    @click.option(
        "--url",
        envvar=URL_ENV_VAR,
        show_envvar=True,
        metavar="URL",
        help="SQLAlchemy database URL, e.g. postgresql://user:pass@host/db.",
    )
    @click.option(
        "--schema",
        default=None,
        metavar="NAME",
        help="PostgreSQL schema / MySQL database that holds the tables.",
    )
    @click.option(
        "--json", "as_json", is_flag=True, help="Print JSON instead of tables."
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any, url: str | None, schema: str | None, as_json: bool, **kwargs: Any
    ) -> Any:
        return func(*args, db=Database(url, schema), out=Output(as_json), **kwargs)

    return wrapper


def confirm_options(func: F) -> F:
    """Add ``--yes`` (no confirmation prompt) and ``--dry-run``."""
    func = click.option(
        "--dry-run", is_flag=True, help="Show what would change; change nothing."
    )(func)
    return click.option(
        "--yes", "-y", is_flag=True, help="Do not ask for confirmation."
    )(func)


# -- output ----------------------------------------------------------------


class Output:
    """Where results go: rich tables on stdout, or one JSON document."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json
        probe = Console()
        # Off a terminal (pipes, files, tests) nothing should be cut to 80 columns.
        self.console = Console(
            width=None if probe.is_terminal else 200, highlight=False
        )
        self.err = Console(stderr=True, highlight=False)

    def emit_json(self, data: Any) -> None:
        """Print ``data`` as JSON."""
        click.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False))

    def print(self, *renderables: RenderableType) -> None:
        """Print rich renderables (ignored with ``--json``)."""
        if not self.json:
            self.console.print(*renderables)

    def note(self, message: str) -> None:
        """A line of prose on stdout (ignored with ``--json``)."""
        if not self.json:
            self.console.print(message, markup=False, highlight=False)

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str | None = None,
    ) -> None:
        """A table of ``rows``; each cell printed as text."""
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(c if isinstance(c, Table) else _cell(c) for c in row))
        self.print(table)

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr (on a terminal only); yields ``advance(n)``."""
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            disable=not self.err.is_terminal,
        )
        with progress:
            task = progress.add_task(description, total=total)
            yield lambda n: progress.advance(task, n)

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner on stderr while something runs (on a terminal only)."""
        if self.err.is_terminal:
            with self.err.status(message):
                yield
        else:
            yield


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


# -- values ----------------------------------------------------------------


def format_time(moment: datetime | None, *, now: datetime | None = None) -> str:
    """``2025-01-31 12:00:00Z (3h ago)``; empty for ``None``."""
    if moment is None:
        return ""
    now = now or datetime.now(timezone.utc)
    stamp = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} ({_age(now - moment)} ago)"


def _age(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> datetime:
    """The moment ``--older-than`` names: an age (``30d``, ``12h``, ``90m``,
    ``2w``, ``45s``) back from now, or an ISO date/time (UTC if naive)."""
    match = _AGE.match(text)
    if match:
        seconds = float(match.group(1)) * _AGE_UNITS[match.group(2)]
        return datetime.now(timezone.utc) - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(
            f"not an age or a date: {text!r} (use e.g. 30d, 12h, 2w or 2025-01-31)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_bytes(size: int) -> str:
    """``1.5 MiB``-style sizes."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def short(value: Any, width: int = 70) -> str:
    """A one-line summary of a value, cut to ``width`` characters."""
    if isinstance(value, (list, tuple)) and value and _is_message(value[-1]):
        last = value[-1]
        text = f"{len(value)} messages, last {last.type}: {_message_text(last)}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(to_jsonable(value), ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _is_message(value: Any) -> bool:
    return isinstance(getattr(value, "type", None), str) and hasattr(value, "content")


def _message_text(message: Any) -> str:
    text = str(message.content) if message.content else ""
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        called = ", ".join(
            f"{c.get('name')}({json.dumps(c.get('args'), ensure_ascii=False)})"
            for c in calls
        )
        text = f"{text} [calls {called}]".strip()
    return text


def message_lines(messages: Sequence[Any]) -> list[str]:
    """``role: text`` lines for a list of chat messages."""
    lines = []
    for message in messages:
        role = message.type
        name = getattr(message, "name", None)
        if role == "tool" and name:
            role = f"tool {name}"
        lines.append(f"{role}: {_message_text(message)}")
    return lines


def is_message_list(value: Any) -> bool:
    """Whether ``value`` is a non-empty list of chat messages."""
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(_is_message(v) for v in value)
    )


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: models and dataclasses as dicts, bytes as
    text (or base64), anything else unknown as its ``repr``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return to_jsonable(dump())
        except Exception:  # a model that cannot dump itself: show its repr
            return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    as_dict = getattr(value, "_asdict", None)
    if callable(as_dict):
        return to_jsonable(as_dict())
    return repr(value)
