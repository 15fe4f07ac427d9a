"""A supervisor whose ``state.db`` cannot be written says so once and backs off.

The supervisor runs in this process with a real read-only SQLite connection to its store (the
tests run as root, for whom file modes do not stop a write); its loop steps are driven by hand.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest

from modelyard.backends.local.records import Deployment
from modelyard.backends.local.supervisor import BACKOFF_MAX, Supervisor
from modelyard.config import Workspace


def _read_only(supervisor: Supervisor) -> None:
    path = supervisor.store.path

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    supervisor.store._connect = connect  # type: ignore[method-assign]


def test_a_read_only_store_is_reported_once_with_backoff(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = Supervisor(workspace, "ctr", poll=0.5)
    supervisor.store.upsert_deployment(Deployment("ctr", "stopped", primary_version="1"))
    writable = supervisor.store._connect
    _read_only(supervisor)
    caplog.set_level(logging.INFO, logger="modelyard.supervisor")

    waits = [supervisor.step() for _ in range(40)]

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "readonly" in errors[0].getMessage() or "read-only" in errors[0].getMessage()
    assert errors[0].exc_info is None  # a message, not a traceback
    assert waits == sorted(waits)
    assert waits[0] > 0.5
    assert waits[-1] == BACKOFF_MAX

    supervisor.store._connect = writable  # type: ignore[method-assign]
    supervisor._start_server = lambda: True  # type: ignore[method-assign]
    assert supervisor.step() == 0.5
    assert any("working again" in r.getMessage() for r in caplog.records)
