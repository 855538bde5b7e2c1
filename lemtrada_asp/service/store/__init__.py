"""The store: every request, answer, authorisation and state change, in SQLite or PostgreSQL.

Only this package knows SQL (SQLAlchemy 2 models in ``models``, the functions the
service calls in ``repository``, Alembic migrations shipped in ``migrations`` and
run on start by ``database.migrate``). The state table a request follows is in
``states``. The lifecycle (service/pas/) reads and writes through ``Store`` only.
"""

from .database import SQLITE_FILE, default_data_dir, migrate, open_engine, redacted, resolve_url, sqlite_url
from .errors import Conflict, StateError, StoreError
from .repository import Change, Line, NewRequest, Store, Stored

__all__ = ["SQLITE_FILE", "Store", "Stored", "NewRequest", "Line", "Change", "StoreError", "StateError", "Conflict",
           "default_data_dir", "sqlite_url", "resolve_url", "open_engine", "migrate", "redacted", "open_store"]


def open_store(database: str | None = None, data_dir: str | None = None, *, run_migrations: bool = True) -> Store:
    """The store of ``--database URL`` or of SQLite in ``data_dir`` (default: the per-user data directory), migrated."""
    url = resolve_url(database, data_dir)
    store = Store(url)
    if run_migrations:
        migrate(store.engine)
    return store
