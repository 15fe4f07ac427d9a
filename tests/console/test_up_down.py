"""`modelyard up` and `down` as processes: a workspace Prometheus scraping the local servers,
and scheduled pipelines (the due run at once, a scheduler process for later fire times).

Prometheus skips without the binary, except under ``CI=true`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from rollout_harness import MODEL, register_base
from typer.testing import CliRunner

from modelyard.backends.local.operations import supervisor_running
from modelyard.cli.app import app
from modelyard.config import Workspace, init_workspace, load_workspace
from modelyard.pipelines import PipelineHistory
from modelyard.pipelines.daemon import scheduler_running
from waiting import wait_until


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's own app in this process, as a 200-column terminal would show it; what it
    starts (supervisors, servers, Prometheus, the pipeline scheduler) are processes of their
    own, detached, as from a shell."""
    ran = CliRunner().invoke(app, [*args, "-w", str(root)], env={"COLUMNS": "200"})
    done = subprocess.CompletedProcess(args, ran.exit_code, ran.stdout, ran.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _workspace(
    tmp_path: Path, template: Path, settings: str, model_edit: dict[str, str]
) -> Workspace:
    root = tmp_path / "ws"
    init_workspace(root)
    with (root / "modelyard.yaml").open("a") as handle:
        handle.write(settings)
    model = root / "models" / MODEL / "model.yaml"
    text = model.read_text()
    for old, new in model_edit.items():
        assert old in text
        text = text.replace(old, new)
    model.write_text(text)
    db = Path(load_workspace(root).tracking_uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db)
    return load_workspace(root)


def _scraped(url: str, deadline_s: float = 120.0) -> list[dict[str, object]]:
    query = 'up{job="modelyard", model_server="ctr"} == 1'

    def result() -> list[dict[str, object]]:
        reply = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=10).json()
        return reply["data"]["result"]  # type: ignore[no-any-return]

    return wait_until(result, f"{url} to scrape the ctr server", deadline_s, every_s=0.5)


def test_up_starts_a_prometheus_over_the_servers_and_down_stops_it(
    tmp_path: Path, mlflow_template: Path
) -> None:
    if shutil.which("prometheus") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("needs Debian's prometheus (.ci/run installs it)")
        pytest.skip("needs the prometheus binary (apt-get install prometheus)")
    settings = "observability:\n  prometheus: true\n  scrape_interval: 1s\n"
    ws = _workspace(tmp_path, mlflow_template, settings, {})
    register_base(ws, tmp_path)
    try:
        up = _cli(ws.root, "up")
        found = re.search(r"prometheus at (http://127\.0\.0\.1:\d+) scraping 1 server", up.stdout)
        assert found, up.stdout
        url = found.group(1)
        (series,) = _scraped(url)
        assert series["metric"]["model_server"] == "ctr"  # type: ignore[index]
        again = _cli(ws.root, "up")
        assert f"prometheus at {url}" in again.stdout  # the same one, reloaded
    finally:
        down = json.loads(_cli(ws.root, "down", "--json").stdout)
    assert down == {"stopped": [MODEL], "also_stopped": ["prometheus"]}
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/-/ready", timeout=5)
    assert not supervisor_running(ws, MODEL)
    assert json.loads(_cli(ws.root, "down", "--json").stdout) == {
        "stopped": [],
        "also_stopped": [],
    }


def test_up_runs_the_due_pipeline_once_and_leaves_a_scheduler(
    tmp_path: Path, mlflow_template: Path
) -> None:
    schedule = {"  timeout: 10m\n": '  timeout: 10m\n  schedule: "0 3 * * *"\n'}
    schedule["    n_samples: 20000\n"] = "    n_samples: 3000\n"
    schedule["state: production\n"] = "state: development\n"  # nothing to serve before it
    ws = _workspace(tmp_path, mlflow_template, "", schedule)
    history = PipelineHistory.for_state_dir(ws.state_dir)
    history.mark_seen(MODEL, time.time() - 2 * 86400)  # a fire time passed while it was down
    try:
        up = _cli(ws.root, "up")
        assert "pipeline of ctr for its due run: ok" in up.stdout, up.stdout
        assert "pipeline scheduler started for ctr" in up.stdout
        assert scheduler_running(ws)
        (run,) = history.runs(MODEL)
        assert run.trigger == "schedule"
        assert [s.name for s in run.steps] == ["train", "evaluate", "gate", "register", "deploy"]
        again = _cli(ws.root, "up")
        assert "due run" not in again.stdout  # caught up: not twice
        assert "pipeline scheduler already running" in again.stdout
        assert len(history.runs(MODEL)) == 1
    finally:
        down = json.loads(_cli(ws.root, "down", "--json").stdout)
    assert down == {"stopped": [MODEL], "also_stopped": ["pipeline scheduler"]}
    assert not scheduler_running(ws)
