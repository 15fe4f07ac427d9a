"""Pipeline history: every run of a model's pipeline and each step's outcome, in SQLite.

``.modelyard/pipelines.db`` in the workspace. Each change is one transaction; a scheduled
run is claimed by inserting it with its fire time under a unique constraint, so two
schedulers can never both start the run of one fire time. SQLite's own errors never leave
this module: a database held locked too long is :class:`HistoryBusy` (try again), anything
else (damaged, read-only, a full disk) is :class:`HistoryUnusable`, naming the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from modelyard.errors import StorageError, Unavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    key TEXT UNIQUE,
    trigger TEXT NOT NULL,
    scheduled_for REAL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    UNIQUE (model, scheduled_for)
);
CREATE TABLE IF NOT EXISTS steps (
    run INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    started REAL,
    finished REAL,
    PRIMARY KEY (run, name)
);
CREATE TABLE IF NOT EXISTS outputs (
    run INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run, name)
);
CREATE TABLE IF NOT EXISTS schedules (model TEXT PRIMARY KEY, seen REAL NOT NULL);
"""


class HistoryBusy(Unavailable):
    """Another process held ``pipelines.db`` locked for longer than the wait: try again."""


class HistoryUnusable(StorageError):
    """``pipelines.db`` cannot be read or written: damaged, read-only, or on a full disk."""


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    """SQLite's errors (and the folder's) as the modelyard errors above, naming ``path``."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise HistoryBusy(f"{path} stayed locked by another process; try again", 5.0) from exc
        raise HistoryUnusable(_unusable(path, exc)) from exc
    except (sqlite3.Error, OSError) as exc:
        raise HistoryUnusable(_unusable(path, exc)) from exc


def _unusable(path: Path, exc: BaseException) -> str:
    return (
        f"the pipeline history {path} cannot be used ({exc}): free the disk or fix the "
        "file's permissions; if it is damaged, move it aside (the history starts again empty)"
    )


@dataclass(frozen=True)
class StepRecord:
    name: str
    status: str
    """ok, failed, skipped, running or pending."""
    detail: str
    started: float | None
    finished: float | None


@dataclass(frozen=True)
class RunRecord:
    """One run of a model's pipeline."""

    id: int
    model: str
    key: str | None
    trigger: str
    scheduled_for: float | None
    started: float
    finished: float | None
    status: str
    """running, ok or failed."""
    steps: tuple[StepRecord, ...]


class PipelineHistory:
    """The pipeline history of one workspace."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with _translated(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0)
            try:
                db.executescript(SCHEMA)
            finally:
                db.close()

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> PipelineHistory:
        return cls(state_dir / "pipelines.db")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with _translated(self.path):
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    with suppress(sqlite3.Error):  # keep the original error, not the rollback's
                        db.execute("ROLLBACK")
                    raise
            finally:
                db.close()

    def start_run(
        self,
        model: str,
        steps: list[str],
        started: float,
        trigger: str,
        scheduled_for: float | None = None,
        key: str | None = None,
    ) -> int | None:
        """Record a new run with its steps pending; None if that fire time or key is taken."""
        with self._tx() as db:
            try:
                cur = db.execute(
                    "INSERT INTO runs (model, key, trigger, scheduled_for, started, status) "
                    "VALUES (?, ?, ?, ?, ?, 'running')",
                    (model, key, trigger, scheduled_for, started),
                )
            except sqlite3.IntegrityError:
                return None
            run = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO steps (run, name, position, status) VALUES (?, ?, ?, 'pending')",
                [(run, name, i) for i, name in enumerate(steps)],
            )
            return run

    def run_by_key(self, key: str) -> int | None:
        with self._tx() as db:
            row = db.execute("SELECT id FROM runs WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else None

    def set_step(self, run: int, name: str, status: str, at: float, detail: str = "") -> None:
        column = "started" if status == "running" else "finished"
        with self._tx() as db:
            db.execute(
                f"UPDATE steps SET status = ?, detail = ?, {column} = ? "  # noqa: S608
                "WHERE run = ? AND name = ?",
                (status, detail, at, run, name),
            )

    def finish_run(self, run: int, status: str, at: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?", (status, at, run))
            db.execute(
                "UPDATE steps SET status = 'skipped' WHERE run = ? AND status = 'pending'",
                (run,),
            )

    def set_outputs(self, run: int, outputs: dict[str, str]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO outputs (run, name, value) VALUES (?, ?, ?)",
                [(run, k, v) for k, v in outputs.items()],
            )

    def outputs(self, run: int) -> dict[str, str]:
        with self._tx() as db:
            rows = db.execute("SELECT name, value FROM outputs WHERE run = ?", (run,)).fetchall()
        return {str(k): str(v) for k, v in rows}

    def last_scheduled(self, model: str) -> float | None:
        """The fire time of the model's latest scheduled run, or when scheduling began."""
        with self._tx() as db:
            ran = db.execute(
                "SELECT MAX(scheduled_for) FROM runs WHERE model = ?", (model,)
            ).fetchone()[0]
            seen = db.execute("SELECT seen FROM schedules WHERE model = ?", (model,)).fetchone()
        values = [v for v in (ran, seen[0] if seen else None) if v is not None]
        return max(values) if values else None

    def mark_seen(self, model: str, at: float) -> None:
        """Remember when the scheduler first saw the model (fire times before it do not run)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO schedules (model, seen) VALUES (?, ?)", (model, at))

    def runs(self, model: str, limit: int = 20) -> list[RunRecord]:
        """The model's newest runs, newest first, each with its steps in order."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, model, key, trigger, scheduled_for, started, finished, status "
                "FROM runs WHERE model = ? ORDER BY id DESC LIMIT ?",
                (model, limit),
            ).fetchall()
            found = []
            for row in rows:
                steps = db.execute(
                    "SELECT name, status, detail, started, finished FROM steps "
                    "WHERE run = ? ORDER BY position",
                    (row[0],),
                ).fetchall()
                run_id, model_id, key, trigger, scheduled_for, started, finished, status = row
                found.append(
                    RunRecord(
                        run_id,
                        model_id,
                        key,
                        trigger,
                        scheduled_for,
                        started,
                        finished,
                        status,
                        tuple(StepRecord(*s) for s in steps),
                    )
                )
        return found
