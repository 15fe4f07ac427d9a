"""Many processes on one MLflow SQLite database, none of them losing a write.

MLflow's SQLite store is built for one process: two fresh processes both create the tables
("table experiments already exists", "duplicate column name" in the migration), and two
writers that both read before they write fail at once with "database is locked" (SQLite does
not wait for a lock a reader wants to upgrade: the busy timeout MLflow sets never applies).
Trainings started side by side (a sweep, a pipeline of many models, two engineers) hit both.

So, for every SQLAlchemy engine on a SQLite file in a modelyard process:

- the database is created and migrated once, under an exclusive file lock next to it
  (:func:`schema_lock`; the adapter builds MLflow's stores inside it);
- the journal is WAL, so readers never block the writer and the writer never blocks readers;
- every connection waits for a lock (busy timeout) rather than failing at once;
- :func:`is_locked` tells the adapter which errors are worth one more try: a transaction
  that read and then wanted to write after another writer committed gets "database is
  locked" at once (SQLite cannot let it wait: its snapshot is stale), and was rolled back,
  so the whole call is repeated (MLflow never does).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 60_000
"""How long a connection waits for another's write lock before it gives up."""

_installed = False


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0])


@contextlib.contextmanager
def schema_lock(path: Path) -> Iterator[None]:
    """Held while MLflow creates or migrates the tables of ``path`` (one process at a time).

    The lock file sits next to the database (not in /tmp, as MLflow's own, which not every
    store takes), so every process that shares the database shares the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the kernel drops it if this process dies
        _wal(path)
        yield
        _checkpoint(path)
    finally:
        os.close(fd)


def _wal(path: Path) -> None:
    # WAL is a property of the file: set once, every later connection uses it.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def _checkpoint(path: Path) -> None:
    # The tables just made go into the database file itself, not only its -wal file, so a
    # copy of the file alone (a workspace template, a backup) is a whole database.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def install() -> None:
    """Make every SQLite connection in this process wait for a lock rather than fail at once.

    Listens on SQLAlchemy's ``Engine`` class, so engines MLflow makes later (the training
    script's own ``mlflow`` calls in the same process included) are covered too. Transactions
    stay as the driver opens them (at the first write): MLflow nests sessions, so one that
    took the write lock up front (``BEGIN IMMEDIATE``) would wait on its own process.
    """
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.close()

    event.listen(Engine, "connect", on_connect)
    _installed = True


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is SQLite's "database is locked"."""
    seen: BaseException | None = exc
    while seen is not None:
        if "database is locked" in str(seen) or "database is busy" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
