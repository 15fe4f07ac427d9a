"""A version that cannot start: a first deploy fails at once, restarts give up, both recorded.

Real supervisor and server processes. A first deploy whose artifact changed after registration
fails before anything starts (checksum, exit 6); one whose artifact passes the checksum but
does not load gets exactly one start, then the revision is ``failed`` with the server's words.
A server that served and then cannot be started again is restarted with backoff a bounded
number of times, then the supervisor gives up and records why.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from rollout_harness import MODEL, register_base
from typer.testing import CliRunner

from modelyard.backends.local.operations import (
    DeployFailed,
    deploy,
    down,
    start_supervisor,
    supervisor_running,
    wait_serving,
)
from modelyard.backends.local.state import SCHEMA_VERSION, StateStore
from modelyard.cli.app import app
from modelyard.config import Workspace
from modelyard.errors import IntegrityError
from modelyard.faults.models import register_variant
from modelyard.registry import Registry


def _tamper(workspace: Workspace, version: int) -> None:
    source = Path(Registry.for_workspace(workspace).resolve(MODEL, version).source)
    artifact = next(p for p in source.rglob("model.*") if p.is_file())
    artifact.write_bytes(artifact.read_bytes() + b"\0")


def test_first_deploy_of_a_tampered_version_fails_at_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    version = register_base(workspace, tmp_path)
    _tamper(workspace, version)
    with pytest.raises(IntegrityError):
        deploy(workspace, MODEL, version)
    assert not supervisor_running(workspace, MODEL)
    store = StateStore.for_workspace(workspace)
    [revision] = store.revisions(MODEL)
    assert revision.outcome == "failed"
    assert "checksum" in revision.reason
    assert store.current_revision(MODEL) is None  # no active revision that never served
    shown = CliRunner().invoke(app, ["deploy", MODEL, "-w", str(workspace.root)])
    assert shown.exit_code == 6, shown.output
    history = CliRunner().invoke(app, ["history", MODEL, "-w", str(workspace.root), "--json"])
    assert '"outcome": "failed"' in history.stdout


def test_first_deploy_of_an_unloadable_version_gets_one_start(
    workspace: Workspace, tmp_path: Path
) -> None:
    base = register_base(workspace, tmp_path)
    bad = register_variant(workspace, MODEL, base, "unloadable")
    with pytest.raises(DeployFailed, match="could not be started") as caught:
        deploy(workspace, MODEL, bad)
    assert "gave up" in str(caught.value)
    assert not supervisor_running(workspace, MODEL)
    store = StateStore.for_workspace(workspace)
    [revision] = store.revisions(MODEL)
    assert (revision.version, revision.outcome) == (str(bad), "failed")
    assert revision.reason
    gave_up = [e for e in store.events(MODEL) if e.kind == "gave_up"]
    assert gave_up[0].detail["start_failures"] == 1
    deployment = store.get_deployment(MODEL)
    assert deployment is not None
    assert (deployment.status, deployment.primary_version) == ("failed", None)
    # the next deploy is a first deploy again, and it serves
    served = deploy(workspace, MODEL, base)
    try:
        assert served.action == "started"
        current = store.current_revision(MODEL)
        assert current is not None
        assert current.version == str(base)
    finally:
        down(workspace)


def test_a_server_that_cannot_restart_is_given_up_on_after_bounded_tries(
    workspace: Workspace, tmp_path: Path
) -> None:
    version = register_base(workspace, tmp_path)
    deploy(workspace, MODEL, version)
    store = StateStore.for_workspace(workspace)
    try:
        # the version stops loading: its cached copy and its registered artifact both changed
        down(workspace)
        _tamper(workspace, version)
        shutil.rmtree(workspace.state_dir / "cache")
        start_supervisor(workspace, MODEL, max_start_failures=2)
        with pytest.raises(DeployFailed, match="could not be started"):
            wait_serving(workspace, MODEL)
    finally:
        down(workspace)
    gave_up = [e for e in store.events(MODEL) if e.kind == "gave_up"]
    assert len(gave_up) == 1
    assert gave_up[0].detail["start_failures"] == 2
    deployment = store.get_deployment(MODEL)
    assert deployment is not None
    assert deployment.status == "failed"
    status = CliRunner().invoke(app, ["rollout", "status", MODEL, "-w", str(workspace.root)])
    assert "gave_up" in status.output
    assert "failed" in status.output


def test_a_version_1_state_store_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE revisions (model_id TEXT NOT NULL, revision INTEGER NOT NULL, "
            "version TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL, "
            "outcome TEXT NOT NULL CHECK (outcome IN "
            "('pending', 'active', 'superseded', 'rolled_back', 'aborted')), "
            "reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (model_id, revision))"
        )
        conn.execute("INSERT INTO revisions VALUES ('ctr', 1, '3', 'me', 1.0, 'pending', '')")
        conn.execute("PRAGMA user_version = 1")
    store = StateStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert store.set_revision_outcome("ctr", 1, "failed", "no").outcome == "failed"
    assert [r.outcome for r in store.revisions("ctr")] == ["failed"]
