"""Progressive delivery on real processes: a supervisor, its model server, a client loop.

One served workspace for the module (starting processes is the slow part); each test rolls a
new version out on it and leaves it serving a good version. Short plans (seconds), no timing
thresholds: the assertions are on outcomes, recorded checks and what the clients saw.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from rollout_harness import FAST, MODEL, ClientLoop, register_base, wait_rollout
from typer.testing import CliRunner

from modelyard.backends.local.locks import supervisor_lock
from modelyard.backends.local.operations import (
    deploy,
    down,
    rollout_command,
    start_supervisor,
    supervisor_running,
)
from modelyard.backends.local.state import StateStore
from modelyard.backends.local.supervisor import usage_subject
from modelyard.cli.app import app
from modelyard.config import Workspace, init_workspace, load_workspace
from modelyard.faults.models import register_variant
from modelyard.rollout import Phase
from modelyard.workflows.serve import admin_token

NO_SHADOW = replace(FAST, shadow=None)


@pytest.fixture(scope="module")
def yard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace whose model serves version 1 under a supervisor."""
    root = tmp_path_factory.mktemp("rollout") / "ws"
    init_workspace(root)
    workspace = load_workspace(root)
    register_base(workspace, root.parent)
    deploy(workspace, MODEL, 1)
    try:
        yield workspace
    finally:
        assert down(workspace) == [MODEL]
        assert not supervisor_running(workspace, MODEL)
        assert StateStore.for_workspace(root).get_deployment(MODEL).status == "stopped"  # type: ignore[union-attr]


def _url(workspace: Workspace) -> str:
    found = StateStore.for_workspace(workspace.root).get_deployment(MODEL)
    assert found is not None
    assert found.port is not None
    return f"http://127.0.0.1:{found.port}"


def _primary(workspace: Workspace) -> str | None:
    found = StateStore.for_workspace(workspace.root).get_deployment(MODEL)
    return found.primary_version if found else None


def _served(workspace: Workspace) -> dict[str, tuple[str, float]]:
    reply = httpx.get(
        f"{_url(workspace)}/admin/models/{MODEL}",
        headers={"authorization": f"Bearer {admin_token(workspace)}"},
        timeout=10,
    )
    return {v["version"]: (v["role"], v["canary_share"]) for v in reply.json()["versions"]}


def _kinds(workspace: Workspace, revision: int | None) -> list[str]:
    store = StateStore.for_workspace(workspace.root)
    return [e.kind for e in store.events(MODEL, revision)]


def test_full_rollout_under_steady_load_fails_no_request(yard: Workspace) -> None:
    version = register_variant(yard, MODEL, 1, "clone")
    loop = ClientLoop(_url(yard)).start()
    result = deploy(yard, MODEL, version, plan=FAST)
    state = wait_rollout(yard, result.revision)
    loop.wait_answers(str(version), 20)  # requests after the promotion, by the new version
    loop.stop()
    assert state.phase is Phase.PROMOTED, state.outcome
    assert loop.failures == []
    assert set(loop.statuses) == {200}
    assert loop.versions["1"] > 0
    assert loop.versions[str(version)] > 0
    kinds = _kinds(yard, result.revision)
    assert kinds[:3] == ["started", "loaded", "shadow"]
    assert kinds.count("step") == 3
    assert kinds[-1] == "promoted"
    assert _primary(yard) == str(version)
    assert _served(yard) == {str(version): ("primary", 0.0)}
    # The supervisor keeps a usage history of the server (for right-sizing requests).
    usage = StateStore.for_workspace(yard).usage(usage_subject(MODEL))
    assert usage
    assert all(s.memory_bytes > 20 * 2**20 for s in usage)
    assert all(s.cpu_cores >= 0 for s in usage)


def test_failing_canary_is_rolled_back_at_its_first_analysis(yard: Workspace) -> None:
    good = _primary(yard)
    bad = register_variant(yard, MODEL, 1, "errors", share=0.3)
    loop = ClientLoop(_url(yard)).start()
    result = deploy(yard, MODEL, bad, plan=NO_SHADOW)
    state = wait_rollout(yard, result.revision)
    loop.stop()
    assert state.phase is Phase.ROLLED_BACK
    assert state.outcome is not None
    assert state.outcome.by == "analysis"
    check = state.outcome.failed_check
    assert check is not None
    assert check.name == "error_rate"
    assert check.value is not None
    assert check.value > check.threshold
    assert check.observed_requests >= check.min_requests
    kinds = _kinds(yard, result.revision)
    # judged and rolled back at the end of the first step: no extension, no second step
    assert kinds.count("analysis") == 1
    assert "extended" not in kinds
    assert kinds.count("step") == 1
    assert kinds[-1] == "rolled_back"
    assert _primary(yard) == good
    assert _served(yard) == {good: ("primary", 0.0)}
    history = StateStore.for_workspace(yard.root).get_revision(MODEL, result.revision or 0)
    assert history is not None
    assert history.outcome == "rolled_back"
    assert "error_rate" in history.reason


def test_diverging_version_never_gets_live_traffic(yard: Workspace) -> None:
    bad = register_variant(yard, MODEL, 1, "diverge")
    loop = ClientLoop(_url(yard)).start()
    result = deploy(yard, MODEL, bad, plan=FAST)
    state = wait_rollout(yard, result.revision)
    loop.stop()
    assert state.phase is Phase.ROLLED_BACK
    check = state.outcome.failed_check if state.outcome else None
    assert check is not None
    assert check.name == "shadow_divergence"
    assert loop.versions[str(bad)] == 0
    assert loop.failures == []
    assert "step" not in _kinds(yard, result.revision)


def test_unloadable_version_aborts_while_the_old_one_serves_every_request(
    yard: Workspace,
) -> None:
    good = _primary(yard)
    bad = register_variant(yard, MODEL, 1, "unloadable")
    loop = ClientLoop(_url(yard)).start()
    result = deploy(yard, MODEL, bad, plan=FAST)
    state = wait_rollout(yard, result.revision)
    assert good is not None
    loop.wait_answers(good, 20)  # requests after the abort, by the old version
    loop.stop()
    assert state.phase is Phase.ABORTED
    assert state.outcome is not None
    assert state.outcome.by == "loader"
    assert loop.failures == []
    assert set(loop.versions) == {good}
    assert _served(yard) == {good: ("primary", 0.0)}


def test_killed_server_comes_back_with_the_same_weights(yard: Workspace) -> None:
    version = register_variant(yard, MODEL, 1, "clone")
    plan = replace(NO_SHADOW, steps=(50.0, 100.0))
    loop = ClientLoop(_url(yard)).start()
    result = deploy(yard, MODEL, version, plan=plan)
    wait_rollout(yard, result.revision, phase="canary")
    rollout_command(yard, MODEL, "pause", by="test")
    store = StateStore.for_workspace(yard.root)
    before = store.get_deployment(MODEL)
    assert before is not None
    assert before.pid is not None
    assert _served(yard)[str(version)] == ("canary", 0.5)
    os.kill(before.pid, signal.SIGKILL)
    deadline = time.monotonic() + 90
    restored = None
    while time.monotonic() < deadline:
        now = store.get_deployment(MODEL)
        if now is not None and now.status == "serving" and now.pid != before.pid:
            try:
                restored = _served(yard).get(str(version))
            except httpx.HTTPError:
                restored = None
            if restored == ("canary", 0.5):
                break
        time.sleep(0.1)
    assert restored == ("canary", 0.5)
    # the crash counts against the canary: it is in the history of this rollout
    crashes = [e for e in store.events(MODEL, result.revision) if e.kind == "server_crashed"]
    assert len(crashes) == 1
    assert crashes[0].detail["phase"] == "canary"
    assert crashes[0].detail["weight"] == 50.0
    assert f"pid {before.pid}" in crashes[0].detail["reason"]
    rollout_command(yard, MODEL, "resume", by="test")
    state = wait_rollout(yard, result.revision)
    loop.stop()
    assert state.phase is Phase.PROMOTED, state.outcome


def test_restarted_controller_resumes_the_rollout(yard: Workspace) -> None:
    version = register_variant(yard, MODEL, 1, "clone")
    store = StateStore.for_workspace(yard.root)
    server_pid = store.get_deployment(MODEL).pid  # type: ignore[union-attr]
    loop = ClientLoop(_url(yard)).start()
    result = deploy(yard, MODEL, version, plan=FAST)
    wait_rollout(yard, result.revision, phase="shadow")
    lock = supervisor_lock(yard.state_dir, MODEL)
    os.kill(int(lock.path.read_text()), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while supervisor_running(yard, MODEL) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not supervisor_running(yard, MODEL)
    # rollout status says so: a dead supervisor, a stalled rollout, never "time left 0.0s"
    status = _cli(yard, "rollout", "status", MODEL)
    assert status["supervisor"]["dead"] is True  # type: ignore[call-overload,index]
    assert status["rollout"]["stalled"] is True  # type: ignore[call-overload,index]
    assert status["rollout"]["time_left_s"] is None  # type: ignore[call-overload,index]
    shown = CliRunner().invoke(app, ["rollout", "status", MODEL, "-w", str(yard.root)])
    assert shown.exit_code == 0, shown.output
    assert "no supervisor" in shown.output
    assert "stalled" in shown.output
    assert "time left 0.0s" not in " ".join(shown.output.split())
    start_supervisor(yard, MODEL)
    state = wait_rollout(yard, result.revision)
    loop.stop()
    assert state.phase is Phase.PROMOTED, state.outcome
    assert loop.failures == []  # the new supervisor adopted the running server
    assert store.get_deployment(MODEL).pid == server_pid  # type: ignore[union-attr]


def _cli(yard: Workspace, *args: str) -> dict[str, object] | list[object]:
    result = CliRunner().invoke(app, [*args, "-w", str(yard.root), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_commands_promote_abort_and_rollback(yard: Workspace) -> None:
    slow = replace(FAST, interval=60.0, shadow=60.0)
    first = _primary(yard)
    aborted = register_variant(yard, MODEL, 1, "clone")
    result = deploy(yard, MODEL, aborted, plan=slow)
    wait_rollout(yard, result.revision, phase="shadow")
    view = _cli(yard, "rollout", "abort", MODEL)
    assert isinstance(view, dict)
    assert view["rollout"]["phase"] == "aborted"

    promoted = register_variant(yard, MODEL, 1, "clone")
    result = deploy(yard, MODEL, promoted, plan=slow)
    wait_rollout(yard, result.revision, phase="shadow")
    assert _cli(yard, "rollout", "pause", MODEL)["rollout"]["paused"] is True  # type: ignore[call-overload,index]
    status = _cli(yard, "rollout", "status", MODEL)
    assert status["rollout"]["status"] == "shadow (paused)"  # type: ignore[call-overload,index]
    view = _cli(yard, "rollout", "promote", MODEL)
    assert view["rollout"]["phase"] == "promoted"  # type: ignore[call-overload,index]
    assert _served(yard) == {str(promoted): ("primary", 0.0)}

    back = _cli(yard, "rollback", MODEL)
    assert back["version"] == first
    assert back["during_rollout"] is False
    # in effect when the command returns
    reply = httpx.post(f"{_url(yard)}/v1/models/{MODEL}:predict", json={"instances": [[0] * 8]})
    assert reply.headers["x-model-version"] == first
    history = _cli(yard, "history", MODEL)
    assert isinstance(history, list)
    outcomes = {row["revision"]: row["outcome"] for row in history}  # type: ignore[index]
    assert outcomes[back["rolled_back_revision"]] == "rolled_back"  # type: ignore[call-overload]
    assert outcomes[back["revision"]] == "active"  # type: ignore[call-overload]
    status = _cli(yard, "rollout", "status", MODEL)
    assert status["active_revision"] == {"revision": back["revision"], "version": first}  # type: ignore[call-overload,index]
