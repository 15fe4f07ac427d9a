"""``modelyard logs``: a training run's log after every process is gone, a server's log with the
reason of a restart after ``kill -9``, and the deployment's events, on both backends (the
local one with real processes, the Kubernetes one over the in-memory cluster)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.backends import DeploymentEvent, LogText, backend_for
from modelyard.backends.fake import InMemoryBackend
from modelyard.backends.local.state import StateStore
from modelyard.backends.model_logs import model_logs
from modelyard.cli.app import app
from modelyard.config import Workspace, load_workspace
from modelyard.errors import ConfigError, NotFound
from modelyard.k8s import InMemoryCluster
from modelyard.registry import Registry
from waiting import wait_until


def _cli(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``modelyard logs ...`` run by the CLI's own app in this process: its exit code and its
    two streams, as a shell would see them (no process of the workspace runs meanwhile)."""
    result = CliRunner().invoke(app, ["logs", *argv, "-w", str(root)])
    return subprocess.CompletedProcess(argv, result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def yard(trained_workspace_dir: Path, tmp_path: Path) -> Workspace:
    """A copy of the trained workspace (its artifacts stay with the original, read-only)."""
    root = tmp_path / "ws"
    volatile = shutil.ignore_patterns("cache", "run", "predictions", "*.tmp", "*.lock")
    shutil.copytree(trained_workspace_dir, root, ignore=volatile)
    settings = root / "modelyard.yaml"
    store = trained_workspace_dir / ".modelyard" / "artifacts"
    settings.write_text(settings.read_text() + f"artifact_store: {store}\n")
    return load_workspace(root)


def test_a_runs_log_is_printed_with_no_process_running(yard: Workspace) -> None:
    run_id = Registry.for_workspace(yard).resolve("ctr", 1).run_id
    assert run_id
    by_run = _cli(yard.root, "ctr", "--run", run_id)
    assert by_run.returncode == 0, by_run.stderr
    assert f"==> run {run_id}" in by_run.stdout
    assert "auc=" in by_run.stdout  # what train.py printed
    by_version = _cli(yard.root, "ctr", "--version", "1", "--json")
    assert by_version.returncode == 0, by_version.stderr
    (log,) = json.loads(by_version.stdout)["logs"]
    assert "auc=" in log["text"]
    # version 2 was trained with C=0.01: another run, another log
    other = Registry.for_workspace(yard).resolve("ctr", 2).run_id
    assert other != run_id


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["--run", "not-a-run"], 2, "is not an MLflow run id"),
        (["--run", "0" * 32], 3, "not known to the tracking store"),
        (["--run", "x", "--server"], 2, "choose one of --run, --version and --server"),
        (["--version", "99"], 3, "99"),
    ],
)
def test_bad_log_requests_say_what_is_wrong(
    yard: Workspace, argv: list[str], code: int, says: str
) -> None:
    done = _cli(yard.root, "ctr", *argv)
    assert done.returncode == code, done.stdout + done.stderr
    assert says in " ".join(done.stderr.split())


def test_a_kill_9_of_the_server_shows_in_its_log_and_events(yard: Workspace) -> None:
    backend = backend_for(yard, "local")
    store = StateStore.for_workspace(yard.root)
    backend.deploy("ctr", 1, by="test")
    try:
        first = wait_until(
            lambda: (d := store.get_deployment("ctr")) and d.status == "serving" and d.pid,
            "the server",
        )
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: (
                (d := store.get_deployment("ctr"))
                and d.status == "serving"
                and d.pid not in (None, first)
            ),
            "the restart",
        )
        exits = [e for e in backend.events("ctr") if e.kind == "server_exited"]
        assert len(exits) == 1
        assert exits[0].detail["pid"] == first
        assert exits[0].detail["reason"] == "killed by signal 9 (SIGKILL)"
        assert exits[0].detail["memory"] is False  # far below its 512Mi limit
        starts = [e for e in backend.events("ctr") if e.kind == "server_started"]
        assert len(starts) == 2
    finally:
        backend.down(["ctr"])
    # every process of the workspace is gone now: the files tell the story
    done = _cli(yard.root, "ctr", "--server")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert f"server pid {first} killed by signal 9 (SIGKILL); restarting" in text
    assert "==> server of ctr" in text
    events = _cli(yard.root, "ctr")
    assert events.returncode == 0, events.stderr
    assert "server started: version 1" in events.stdout
    assert f"server pid {first} killed by signal 9" in events.stdout


def test_kubernetes_logs_and_events_come_through_the_cluster(yard: Workspace) -> None:
    cluster = InMemoryCluster().with_credentials(yard.settings.kubernetes.namespace)
    backend = backend_for(yard, "kubernetes", cluster=cluster)
    backend.deploy("ctr", 1, by="test")
    ns = backend.namespace  # type: ignore[attr-defined]
    pod = {
        "metadata": {"name": "ctr-7d9", "namespace": ns, "labels": {"modelyard.dev/model": "ctr"}},
        "status": {
            "containerStatuses": [
                {
                    "name": "server",
                    "restartCount": 1,
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "finishedAt": "2026-12-05T03:00:00Z",
                        }
                    },
                }
            ]
        },
    }
    cluster.pod_objects.append(pod)
    cluster.logs[(ns, "ctr-7d9", False)] = "started\nready\n"
    cluster.logs[(ns, "ctr-7d9", True)] = "started\nloading pyarrow\n"
    cluster.event_objects.append(
        {
            "metadata": {"namespace": ns, "name": "ctr-7d9.1"},
            "involvedObject": {"kind": "Pod", "name": "ctr-7d9"},
            "type": "Warning",
            "reason": "BackOff",
            "message": "Back-off restarting failed container",
            "lastTimestamp": "2026-12-05T03:00:05Z",
        }
    )
    found = model_logs(backend, yard, "ctr", server=True)
    assert [log.source for log in found.logs] == [
        "pod ctr-7d9 (previous container)",
        "pod ctr-7d9",
    ]
    assert found.logs[0].text == "started\nloading pyarrow\n"
    kinds = [e.kind for e in found.events]
    assert kinds == ["server_exited", "k8s:BackOff"]
    assert found.events[0].detail["memory"] is True
    assert "OOMKilled, exit code 137 (signal 9)" in found.events[0].message
    story = backend.events("ctr")
    (active,) = [e for e in story if e.kind == "revision_active"]
    assert "revision 1: version 1 active" in active.message
    assert [e.at for e in story] == sorted(e.at for e in story)
    assert model_logs(backend, yard, "ctr", server=True, tail_lines=1).logs[1].text == "ready\n"


def test_the_fake_backend_serves_logs_and_events() -> None:
    fake = InMemoryBackend()
    fake.event_log["m"] = [DeploymentEvent(5.0, "server_exited", "died", {"memory": True})]
    fake.log_texts["m"] = [LogText("server of m", "hello\n")]
    fake.log_texts["run:abc"] = [LogText("run abc", "trained\n")]
    ws = None  # the fake needs no workspace for these choices
    found = model_logs(fake, ws, "m", server=True)  # type: ignore[arg-type]
    assert found.logs[0].text == "hello\n"
    assert [e.kind for e in found.events] == ["server_exited"]
    assert model_logs(fake, ws, "m", run_id="abc").logs[0].text == "trained\n"  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        model_logs(fake, ws, "m", run_id="nope")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        model_logs(fake, ws, "m", run_id="abc", server=True)  # type: ignore[arg-type]


def test_follow_prints_what_the_server_appends(workspace_dir: Path) -> None:
    log = workspace_dir / ".modelyard" / "logs" / "ctr-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("first line\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "logs", "ctr", "--server", "--follow", "-w",
         str(workspace_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("==> server of ctr")
        assert proc.stdout.readline() == "first line\n"
        with log.open("a") as out:
            out.write("appended later\n")
        assert proc.stdout.readline() == "appended later\n"  # blocks until it is printed
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()  # fail, but leave no follower running after the test
            proc.wait()
            raise
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
