"""Training on the local runner: real subprocesses, real MLflow on SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from modelyard.config import load_workspace
from modelyard.errors import ConfigError, JobFailed
from modelyard.registry import Registry
from modelyard.workflows import train


def _client(root: Path) -> MlflowClient:
    uri = load_workspace(root).tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_two_trainings_make_versions_one_and_two(trained_workspace_dir: Path) -> None:
    client = _client(trained_workspace_dir)
    versions = sorted(client.search_model_versions("name = 'ctr'"), key=lambda v: int(v.version))
    assert [int(v.version) for v in versions] == [1, 2]
    for mv in versions:
        run = client.get_run(mv.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["n_samples"] == "4000"
        assert {"loss", "auc", "p50_ms", "p90_ms"} <= set(run.data.metrics)
        assert run.data.metrics["usage.peak_rss_mib"] > 10
        assert mv.tags["modelyard.run_id"] == mv.run_id
        assert len(mv.tags["modelyard.sha256"]) == 64
        assert "modelyard.gate" not in mv.tags  # only the held-out gate writes a verdict
        assert mv.tags["modelyard.config_hash"]
    assert client.get_run(versions[1].run_id).data.params["C"] == "0.01"
    # The script's own mlflow calls landed in modelyard's run, not a second one.
    experiment = client.get_experiment_by_name("ctr")
    assert len(client.search_runs([experiment.experiment_id])) == 2


def test_usage_series_and_log_are_recorded(trained_workspace_dir: Path) -> None:
    client = _client(trained_workspace_dir)
    mv = client.get_model_version("ctr", "1")
    history = client.get_metric_history(mv.run_id, "usage.memory_bytes")
    assert len(history) >= 2
    artifacts = [a.path for a in client.list_artifacts(mv.run_id, "logs")]
    assert artifacts
    assert artifacts[0].startswith("logs/train-ctr-")


def _script(root: Path, body: str, memory: str = "1Gi", timeout: str = "10m") -> None:
    folder = root / "models" / "ctr"
    (folder / "train.py").write_text(body)
    text = (folder / "model.yaml").read_text()
    text = text.replace("memory: 1Gi", f"memory: {memory}").replace(
        "timeout: 10m", f"timeout: {timeout}"
    )
    (folder / "model.yaml").write_text(text)


def _no_versions(root: Path) -> bool:
    return Registry.for_workspace(load_workspace(root)).tracking.versions("ctr") == []


def test_failing_script_propagates_exit_code_and_registers_nothing(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the script also says whether MLflow may report usage over the network: the trainer
    # turns that off for the run, whatever this process had set
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    _script(
        workspace_dir,
        "import os\nprint('loading data')\n"
        "print('telemetry off:', os.environ.get('MLFLOW_DISABLE_TELEMETRY'))\n"
        "raise SystemExit(3)\n",
    )
    lines: list[str] = []
    with pytest.raises(JobFailed) as caught:
        train(load_workspace(workspace_dir), "ctr", on_line=lines.append)
    assert caught.value.exit_code == 3
    assert "exited with code 3" in str(caught.value)
    assert "loading data" in str(caught.value)  # the log tail
    assert lines == ["loading data", "telemetry off: true"]
    assert _no_versions(workspace_dir)
    runs = _client(workspace_dir).search_runs(
        [_client(workspace_dir).get_experiment_by_name("ctr").experiment_id]
    )
    assert [r.info.status for r in runs] == ["FAILED"]


def test_script_above_its_memory_is_stopped(workspace_dir: Path) -> None:
    _script(
        workspace_dir,
        "import time\nblocks = []\nfor _ in range(60):\n"
        "    blocks.append(bytearray(20 * 2**20))\n    time.sleep(0.05)\ntime.sleep(30)\n",
        memory="200Mi",
    )
    with pytest.raises(JobFailed) as caught:
        train(load_workspace(workspace_dir), "ctr")
    assert caught.value.exit_code == 137
    assert "above its memory limit of 200Mi" in str(caught.value)
    assert _no_versions(workspace_dir)


def test_script_past_its_timeout_is_stopped(workspace_dir: Path) -> None:
    _script(
        workspace_dir, "import time\nprint('working', flush=True)\ntime.sleep(60)\n", timeout="1s"
    )
    with pytest.raises(JobFailed, match="longer than its timeout of 1s"):
        train(load_workspace(workspace_dir), "ctr")
    assert _no_versions(workspace_dir)


def test_script_that_logs_no_model(workspace_dir: Path) -> None:
    _script(
        workspace_dir,
        "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('auc', 0.9)\n",
    )
    with pytest.raises(JobFailed, match="logged no model"):
        train(load_workspace(workspace_dir), "ctr")
    assert _no_versions(workspace_dir)


def test_bad_param_changes_nothing(workspace_dir: Path) -> None:
    state = workspace_dir / ".modelyard"
    before = {p: p.read_bytes() for p in state.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match="expected a int"):
        train(load_workspace(workspace_dir), "ctr", ["max_iter=lots"])
    assert {p: p.read_bytes() for p in state.rglob("*") if p.is_file()} == before


def test_cli_exit_code_is_the_scripts(workspace_dir: Path) -> None:
    _script(workspace_dir, "raise SystemExit(7)\n")
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "train", "ctr", "-w", str(workspace_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 7, done.stderr
    assert "exited with code 7" in done.stderr


EXIT_WORK = """
import logging, pathlib, threading
here = pathlib.Path(__file__).parent
go = threading.Event()
def late():
    go.wait()
    (here / "thread.txt").write_text("joined")
threading.Thread(target=late).start()
results = open(here / "results.txt", "w")  # never closed, as scripts do
results.write("flushed")
logging.getLogger("job").addHandler(logging.FileHandler(here / "job.log"))
logging.getLogger("job").error("logged")
go.set()
raise SystemExit(7)
"""


def test_the_fast_exit_still_finishes_what_the_script_left(workspace_dir: Path) -> None:
    """The job skips the interpreter's teardown, not what it does that matters: non-daemon
    threads are joined, atexit handlers run, and a file the script left open is flushed."""
    _script(workspace_dir, EXIT_WORK)
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "train", "ctr", "-w", str(workspace_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 7, done.stderr
    model_dir = workspace_dir / "models" / "ctr"
    assert (model_dir / "thread.txt").read_text() == "joined"
    assert (model_dir / "results.txt").read_text() == "flushed"
    assert (model_dir / "job.log").read_text() == "logged\n"


def test_runs_command_lists_runs_with_the_versions_they_made(trained_workspace_dir: Path) -> None:
    from typer.testing import CliRunner

    from modelyard.cli import app

    done = CliRunner().invoke(app, ["runs", "ctr", "-w", str(trained_workspace_dir), "--json"])
    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)
    assert [r["version"] for r in rows] == [2, 1]  # newest first
    assert all(r["status"] == "FINISHED" for r in rows)
    assert rows[0]["params"]["C"] == "0.01"
    assert "auc" in rows[0]["metrics"]
    assert not any(k.startswith("usage.") for k in rows[0]["metrics"])


def test_training_usage_joins_the_usage_history(trained_workspace_dir: Path) -> None:
    from modelyard.backends import backend_for

    samples = backend_for(load_workspace(trained_workspace_dir), "local").usage("ctr")
    assert samples
    assert {s.subject for s in samples} == {"train:ctr"}
    assert max(s.memory_bytes for s in samples) > 10 * 2**20  # bytes, not MiB
    assert all(s.cpu_cores >= 0 for s in samples)
    assert samples == sorted(samples, key=lambda s: s.at)


def test_the_parent_imports_no_mlflow_on_a_successful_training(workspace_dir: Path) -> None:
    """Issue 9, item 3: MLflow is imported once, in the job's process, not in the parent."""
    code = (
        "import sys\n"
        "from modelyard.config import load_workspace\n"
        "from modelyard.workflows import train\n"
        "done = train(load_workspace(sys.argv[1]), 'ctr', ['n_samples=2000'])\n"
        "print(done.version.version, len(done.version.sha256), 'mlflow' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(workspace_dir)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "64", "False"]
    run = _client(workspace_dir).get_run(
        _client(workspace_dir).get_model_version("ctr", "1").run_id
    )
    assert run.info.status == "FINISHED"
    assert run.data.metrics["usage.peak_rss_mib"] > 10  # the parent's samples reached the run
