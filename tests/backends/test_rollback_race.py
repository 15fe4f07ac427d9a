"""Two ``modelyard rollback`` at once after a completed rollout: exactly one takes effect.

Real CLI processes against one workspace. The test holds the deployment's rollout lock until
both processes wait on it (each has the lock file open), so "at once" is certain, not a race
the test hopes to win; then it lets them go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rollout_harness import MODEL, register_base

from modelyard.backends.local.locks import rollout_lock
from modelyard.backends.local.state import StateStore
from modelyard.config import Workspace


def _holds_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except OSError:
        return False


def _rollback(workspace: Workspace) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "modelyard", "rollback", MODEL, "-w", str(workspace.root)]
    return subprocess.Popen(
        [*command, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_rollbacks_at_once_serialise(workspace: Workspace, tmp_path: Path) -> None:
    first = str(register_base(workspace, tmp_path / "a"))
    second = str(register_base(workspace, tmp_path / "b"))
    store = StateStore.for_workspace(workspace)
    store.add_revision(MODEL, first, outcome="active", by="test")
    store.add_revision(MODEL, second, outcome="active", by="test")  # a completed rollout

    lock = rollout_lock(workspace.state_dir, MODEL)
    with lock.hold():
        racers = [_rollback(workspace), _rollback(workspace)]
        deadline = time.monotonic() + 120
        while not all(_holds_open(p.pid, lock.path) for p in racers):
            assert all(p.poll() is None for p in racers), [p.communicate() for p in racers]
            assert time.monotonic() < deadline, "the rollbacks never reached the lock"
            time.sleep(0.01)
    results = [(p.wait(120), *p.communicate()) for p in racers]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 4], results
    done = next(json.loads(out) for code, out, _ in results if code == 0)
    assert done["version"] == first
    refused = next(err for code, _, err in results if code == 4)
    assert "took effect while this rollback waited" in "".join(refused.split("\n"))

    revisions = store.revisions(MODEL)
    assert [(r.version, r.outcome) for r in revisions] == [
        (first, "superseded"),
        (second, "rolled_back"),
        (first, "active"),
    ]
    assert not any(r.reason.endswith(f"to {r.revision}") for r in revisions)


def test_a_second_rollback_never_goes_from_a_version_to_itself(
    workspace: Workspace, tmp_path: Path
) -> None:
    from modelyard.backends.local.operations import rollback
    from modelyard.backends.revisions import NothingToRollBack

    first = str(register_base(workspace, tmp_path / "a"))
    second = str(register_base(workspace, tmp_path / "b"))
    store = StateStore.for_workspace(workspace)
    store.add_revision(MODEL, first, outcome="active", by="test")
    store.add_revision(MODEL, second, outcome="active", by="test")
    assert rollback(workspace, MODEL, by="test").version == first
    try:
        again = rollback(workspace, MODEL, by="test")
    except NothingToRollBack:
        again = None
    assert again is None
    assert len(store.revisions(MODEL)) == 3
