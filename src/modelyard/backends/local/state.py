"""The local backend's state: deployments, revisions, rollouts and usage in SQLite.

One file, ``<workspace>/.modelyard/state.db``, in WAL mode so that the CLI can read while a
controller writes. Every write runs in a transaction, and several writes can share one with
:meth:`StateStore.transaction`, so a rollout step (its state, its events, the deployment's
weights) is committed whole or not at all. The schema is versioned with ``PRAGMA user_version``
and created on first use. Connections are opened per call (or per transaction), so a store
may be shared by threads and processes.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import astuple, replace
from pathlib import Path
from typing import Any, TypeVar

from modelyard.backends.local.records import (
    Deployment,
    Revision,
    RevisionNotFound,
    RevisionOutcome,
    RolloutEvent,
    RolloutRecord,
    StateBusy,
    StateError,
)
from modelyard.backends.revisions import Revisions, RolledBack
from modelyard.clock import SYSTEM_CLOCK, Clock
from modelyard.config import Workspace
from modelyard.config.workspace import STATE_DIR
from modelyard.observe.usage import UsageSample

__all__ = [
    "SCHEMA_VERSION",
    "Deployment",
    "Revision",
    "RevisionNotFound",
    "RevisionOutcome",
    "RolloutEvent",
    "RolloutRecord",
    "StateBusy",
    "StateError",
    "StateStore",
    "UsageSample",
]

SCHEMA_VERSION = 3
_ALIASES = """
CREATE TABLE pending_aliases (
    model_id TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL,
    requested_at REAL NOT NULL, PRIMARY KEY (model_id, alias));
"""
"""Registry alias moves the CLI recorded for a process with MLflow to apply."""
_REVISIONS_TABLE = """
CREATE TABLE revisions (
    model_id TEXT NOT NULL, revision INTEGER NOT NULL, version TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at REAL NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN
        ('pending', 'active', 'superseded', 'rolled_back', 'aborted', 'failed')),
    reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (model_id, revision));
"""
_SCHEMA = (
    """
CREATE TABLE deployments (
    model_id TEXT PRIMARY KEY, status TEXT NOT NULL, port INTEGER, pid INTEGER,
    primary_version TEXT, canary_version TEXT, canary_weight REAL NOT NULL DEFAULT 0,
    shadow_version TEXT, updated_at REAL NOT NULL);
"""
    + _REVISIONS_TABLE
    + """
CREATE TABLE rollouts (
    model_id TEXT NOT NULL, revision INTEGER NOT NULL, state TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL,
    PRIMARY KEY (model_id, revision));
CREATE TABLE rollout_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model_id TEXT NOT NULL, revision INTEGER NOT NULL,
    at REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX rollout_events_by_model ON rollout_events (model_id, revision, id);
CREATE TABLE usage_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subject TEXT NOT NULL, at REAL NOT NULL,
    cpu REAL NOT NULL, rss INTEGER NOT NULL);
CREATE INDEX usage_samples_by_subject ON usage_samples (subject, at);
"""
    + _ALIASES
)

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE revisions RENAME TO revisions_v1",
        _REVISIONS_TABLE,
        "INSERT INTO revisions SELECT * FROM revisions_v1",
        "DROP TABLE revisions_v1",
    ),
    3: (_ALIASES,),
}
"""Schema version -> the statements that bring the one below up to it (2: ``failed``, a
revision that never served because its version could not be started; 3: the pending registry
alias moves)."""


_Params = tuple[Any, ...] | Mapping[str, Any]


_R = TypeVar("_R", Deployment, Revision, RolloutRecord, RolloutEvent, UsageSample)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "unknown"


class StateStore:
    """The state database at ``path``, created with its schema on first use."""

    def __init__(self, path: str | Path, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = Path(path)
        self._clock = clock
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create_schema()

    @classmethod
    def for_workspace(cls, workspace: Workspace | str | Path) -> StateStore:
        """The store of a workspace: ``state.db`` in its state folder (``.modelyard/``)."""
        if isinstance(workspace, Workspace):
            return cls(workspace.state_dir / "state.db")
        return cls(Path(workspace) / STATE_DIR / "state.db")

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _create_schema(self) -> None:
        with self._translated():
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN IMMEDIATE")
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found == 0:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                elif found < SCHEMA_VERSION:
                    for version in range(found + 1, SCHEMA_VERSION + 1):
                        for statement in _MIGRATIONS[version]:
                            conn.execute(statement.strip().rstrip(";"))
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            finally:
                conn.close()
        if found > SCHEMA_VERSION:
            raise StateError(
                f"{self.path} has schema {found}; this modelyard reads up to {SCHEMA_VERSION}: "
                "upgrade modelyard"
            )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateBusy(f"{self.path} is locked by another process", 1.0) from exc
            raise StateError(f"{self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path} is damaged: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes so they commit together; an exception inside leaves nothing written.

        Nested uses join the outer transaction. The transaction belongs to the calling thread.
        """
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._translated():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._local.conn = conn
                try:
                    yield
                except BaseException:
                    with suppress(sqlite3.Error):  # keep the original error, not the rollback's
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                self._local.conn = None
                conn.close()

    def _run(self, sql: str, params: _Params = ()) -> sqlite3.Cursor:
        """Run one statement in the current transaction (or a fresh one)."""
        with self.transaction():
            conn: sqlite3.Connection = self._local.conn
            with self._translated():
                return conn.execute(sql, params)

    def _rows(self, sql: str, params: _Params = ()) -> list[sqlite3.Row]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with self._translated():
                return list(conn.execute(sql, params).fetchall())
        with self._translated():
            conn = self._connect()
            try:
                return list(conn.execute(sql, params).fetchall())
            finally:
                conn.close()

    def _select(self, cls: type[_R], sql: str, *params: Any, **named: Any) -> list[_R]:
        rows = [dict(row) for row in self._rows(sql, named or params)]
        for row in rows:
            for key in ("state", "detail"):
                if key in row:
                    row[key] = json.loads(row[key])
            if "finished" in row:
                row["finished"] = bool(row["finished"])
        return [cls(**row) for row in rows]

    # ------------------------------------------------------------------ deployments

    def upsert_deployment(self, deployment: Deployment) -> Deployment:
        """Write ``deployment`` whole (insert or replace); returns it with ``updated_at`` set."""
        stored = replace(deployment, updated_at=self._clock.now())
        self._run(
            "INSERT OR REPLACE INTO deployments (model_id, status, port, pid, primary_version, "
            "canary_version, canary_weight, shadow_version, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            astuple(stored),
        )
        return stored

    def get_deployment(self, model_id: str) -> Deployment | None:
        """The deployment of ``model_id``, or ``None``."""
        found = self._select(Deployment, "SELECT * FROM deployments WHERE model_id = ?", model_id)
        return found[0] if found else None

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by model id."""
        return self._select(Deployment, "SELECT * FROM deployments ORDER BY model_id")

    def delete_deployment(self, model_id: str) -> bool:
        """Forget the deployment of ``model_id``; whether there was one."""
        return self._run("DELETE FROM deployments WHERE model_id = ?", (model_id,)).rowcount > 0

    # ------------------------------------------------------------------ revisions

    def _log(self, model_id: str) -> Revisions:
        rows = self._select(
            Revision, "SELECT * FROM revisions WHERE model_id = ? ORDER BY revision", model_id
        )
        return Revisions(model_id, tuple(rows))

    def _write(self, before: Revisions, after: Revisions) -> None:
        """Store the rows ``after`` changed (in the caller's transaction)."""
        for rev in after.changed_since(before):
            self._run("INSERT OR REPLACE INTO revisions VALUES (?, ?, ?, ?, ?, ?, ?)", astuple(rev))

    def add_revision(
        self,
        model_id: str,
        version: str,
        *,
        outcome: RevisionOutcome = "pending",
        reason: str = "",
        by: str | None = None,
    ) -> Revision:
        """A new revision numbered one above the last; an active one supersedes the current."""
        with self.transaction():
            before = self._log(model_id)
            at = self._clock.now()
            after, made = before.add(version, outcome, by=by or _user(), at=at, reason=reason)
            self._write(before, after)
        return made

    def set_revision_outcome(
        self, model_id: str, revision: int, outcome: RevisionOutcome, reason: str = ""
    ) -> Revision:
        """Record how a revision ended; ``active`` supersedes the model's current revision."""
        with self.transaction():
            before = self._log(model_id)
            after = before.with_outcome(revision, outcome, reason)
            self._write(before, after)
        found = after.get(revision)
        assert found is not None  # with_outcome raised otherwise
        return found

    def roll_back(self, model_id: str, *, by: str | None = None) -> RolledBack:
        """Back to the version that served before the current one (after a finished
        rollout): a new active revision of it, the current one ``rolled_back``."""
        with self.transaction():
            before = self._log(model_id)
            done = before.roll_back(by=by or _user(), at=self._clock.now())
            self._write(before, done.revisions)
        return done

    def revisions(self, model_id: str) -> list[Revision]:
        """Every revision of ``model_id``, oldest first."""
        return list(self._log(model_id).items)

    def get_revision(self, model_id: str, revision: int) -> Revision | None:
        """Revision number ``revision`` of ``model_id``, or ``None``."""
        return self._log(model_id).get(revision)

    def current_revision(self, model_id: str) -> Revision | None:
        """The active revision: the one serving now."""
        return self._log(model_id).active

    def previous_revision(self, model_id: str) -> Revision | None:
        """Where a rollback goes (:meth:`Revisions.rollback_target`)."""
        return self._log(model_id).rollback_target()

    # ------------------------------------------------------------------ rollouts

    def save_rollout(
        self, model_id: str, revision: int, state: Mapping[str, Any], *, finished: bool = False
    ) -> RolloutRecord:
        """Store the committed state of a revision's rollout, replacing the previous one."""
        body = json.dumps(state, sort_keys=True)
        record = RolloutRecord(model_id, revision, json.loads(body), finished, self._clock.now())
        self._run(
            "INSERT OR REPLACE INTO rollouts VALUES (?, ?, ?, ?, ?)",
            (model_id, revision, body, int(finished), record.updated_at),
        )
        return record

    def load_rollout(self, model_id: str, revision: int | None = None) -> RolloutRecord | None:
        """The rollout of ``revision``, or of the model's latest revision that had one."""
        found = self._select(
            RolloutRecord,
            "SELECT * FROM rollouts WHERE model_id = :model "
            "AND (:revision IS NULL OR revision = :revision) ORDER BY revision DESC LIMIT 1",
            model=model_id,
            revision=revision,
        )
        return found[0] if found else None

    def unfinished_rollouts(self) -> list[RolloutRecord]:
        """Rollouts not yet finished: what a restarted controller resumes."""
        return self._select(
            RolloutRecord, "SELECT * FROM rollouts WHERE finished = 0 ORDER BY model_id, revision"
        )

    def append_event(
        self,
        model_id: str,
        revision: int,
        kind: str,
        detail: Mapping[str, Any] | None = None,
        *,
        at: float | None = None,
    ) -> RolloutEvent:
        """Add one entry to the rollout history of ``model_id``'s ``revision``."""
        body = json.dumps(dict(detail or {}), sort_keys=True)
        when = self._clock.now() if at is None else at
        cursor = self._run(
            "INSERT INTO rollout_events (model_id, revision, at, kind, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (model_id, revision, when, kind, body),
        )
        return RolloutEvent(cursor.lastrowid or 0, model_id, revision, when, kind, json.loads(body))

    def events(
        self, model_id: str, revision: int | None = None, *, limit: int | None = None
    ) -> list[RolloutEvent]:
        """The history of ``model_id`` (or one revision), oldest first; ``limit``: the latest N."""
        latest = self._select(
            RolloutEvent,
            "SELECT * FROM rollout_events WHERE model_id = :model "
            "AND (:revision IS NULL OR revision = :revision) ORDER BY id DESC LIMIT :limit",
            model=model_id,
            revision=revision,
            limit=-1 if limit is None else limit,
        )
        return latest[::-1]

    # ------------------------------------------------------------------ registry aliases

    def request_alias(self, model_id: str, alias: str, version: str) -> float:
        """Record that ``alias`` of ``model_id`` must name ``version`` (the latest request
        wins); returns the request's time, which :meth:`alias_applied` is given back."""
        when = self._clock.now()
        self._run(
            "INSERT OR REPLACE INTO pending_aliases (model_id, alias, version, requested_at) "
            "VALUES (?, ?, ?, ?)",
            (model_id, alias, version, when),
        )
        return when

    def pending_aliases(self, model_id: str | None = None) -> list[tuple[str, str, str, float]]:
        """The alias moves not applied yet: (model, alias, version, requested_at)."""
        rows = self._rows(
            "SELECT model_id, alias, version, requested_at FROM pending_aliases "
            "WHERE (:model IS NULL OR model_id = :model) ORDER BY requested_at",
            {"model": model_id},
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def alias_applied(self, model_id: str, alias: str, version: str, requested_at: float) -> None:
        """Forget a request once applied, unless a newer one replaced it meanwhile."""
        self._run(
            "DELETE FROM pending_aliases WHERE model_id = ? AND alias = ? AND version = ? "
            "AND requested_at = ?",
            (model_id, alias, version, requested_at),
        )

    # ------------------------------------------------------------------ usage

    def record_usage(self, sample: UsageSample) -> UsageSample:
        """Record one sample of a model server's or job's usage (cores, bytes, Unix time)."""
        self._run(
            "INSERT INTO usage_samples (subject, at, cpu, rss) VALUES (?, ?, ?, ?)",
            (sample.subject, sample.at, sample.cpu_cores, sample.memory_bytes),
        )
        return sample

    def record_usage_many(self, samples: Sequence[UsageSample]) -> None:
        """Record many samples in one transaction (a training job's series)."""
        with self.transaction():
            for sample in samples:
                self.record_usage(sample)

    def usage(self, subject: str, *, since: float | None = None) -> list[UsageSample]:
        """The samples of ``subject`` (from ``since`` on), oldest first."""
        return self._select(
            UsageSample,
            "SELECT subject, at, cpu AS cpu_cores, rss AS memory_bytes FROM usage_samples "
            "WHERE subject = :subject AND (:since IS NULL OR at >= :since) ORDER BY at, id",
            subject=subject,
            since=since,
        )
