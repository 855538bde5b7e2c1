"""Where the store lives and how to reach it: the URL, the engine, the migrations.

SQLite by default -- one file in a data directory made on first start (mode 0700,
the file 0600: member data is in it), so nothing has to be installed; PostgreSQL
when a ``postgresql://`` URL is given (psycopg 3), so several ``serve`` processes
or hosts share one state. Migrations are Alembic's, shipped in this package and
run to the newest version on start, one process at a time (a PostgreSQL advisory
lock; SQLite's write lock).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url

from .errors import StoreError

__all__ = ["default_data_dir", "sqlite_url", "resolve_url", "open_engine", "migrate", "redacted", "SQLITE_FILE"]

SQLITE_FILE = "lemtrada-asp.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x4C454D54  # "LEMT": the advisory lock the migrations hold on PostgreSQL
WRITE = "lemtrada_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
BUSY_TIMEOUT_S = 30  # how long a SQLite writer waits for another's lock before giving up


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/lemtrada-asp, else ~/.local/share/lemtrada-asp."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "lemtrada-asp"


def sqlite_url(data_dir: str | Path) -> str:
    """The store file in ``data_dir``, both made now if absent: the directory 0700, the file 0600."""
    directory = Path(data_dir)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / SQLITE_FILE
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    except OSError as exc:
        raise StoreError(f"data directory {directory}: {exc.strerror or exc}") from None
    return f"sqlite:///{path}"


def resolve_url(database: str | None, data_dir: str | Path | None) -> str:
    """The SQLAlchemy URL of ``--database`` (postgresql://... or sqlite:///...), else SQLite in the data directory."""
    if not database:
        return sqlite_url(data_dir or default_data_dir())
    try:
        url = make_url(database)
    except Exception:
        raise StoreError(f"--database: not a database URL: {redacted(database)!r}") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if url.drivername == "sqlite" and url.database:
        return sqlite_url(Path(url.database).parent) if Path(url.database).name == SQLITE_FILE else database
    raise StoreError(f"--database: expected postgresql://USER@HOST:PORT/NAME or sqlite:///FILE, got {redacted(database)!r}")


def redacted(url: str) -> str:
    """A URL fit for a message: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unreadable URL>"


def open_engine(url: str) -> Engine:
    """An engine for the URL; on SQLite (WAL mode) a transaction begun with the ``WRITE``
    execution option is BEGIN IMMEDIATE, every other a plain (deferred) BEGIN.

    BEGIN IMMEDIATE takes the write lock at the start, so a read-then-write
    transaction of one worker waits for another's instead of failing half-way;
    reads never take it.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # SQLAlchemy's begin event below issues BEGIN
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


def migrate(engine: Engine) -> str:
    """Bring the schema to the newest migration; returns its revision. One process at a time."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            return MigrationContext.configure(connection).get_current_revision() or ""
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"database {redacted(engine.url.render_as_string(hide_password=False))}: "
                         f"cannot be opened or migrated: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
