"""``tune`` never starves a model (issue 20): the probe's 30 s of an idle server rewrote
``memory: 512Mi`` to ``150Mi``, and the first traffic needed 186 MiB.

Replays of short histories through ``tune_row`` (pure, a fixed clock) and the CLI on a real
state store: no recommendation below the largest usage seen plus a margin; bounds that widen
on short or sparse history, so a young history writes nothing it cannot back; a refusal to
lower a request on too little history that says how much more it needs (``--force`` writes
anyway); an OOM kill raising the next recommendation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.capacity.advice import tune_row
from modelyard.capacity.guard import MIN_HISTORY_S, SEEN_MARGIN
from modelyard.cli.app import app
from modelyard.config import Workspace, memory_bytes
from modelyard.observe.usage import UsageSample

runner = CliRunner()
MIB = 2**20
NOW = 1_800_000_000.0


def _samples(start: float, seconds: float, every: float, mib: float, cpu: float = 0.02):
    count = int(seconds // every)
    return [UsageSample("server:ctr", start + i * every, cpu, int(mib * MIB)) for i in range(count)]


def _mib(row: dict, key: str = "target_bytes") -> float:
    return row["memory"][key] / MIB


def test_thirty_seconds_of_an_idle_server_write_nothing(workspace: Workspace) -> None:
    idle = _samples(NOW - 30, 30, 10, 117)  # the probe: 4 samples... of an idle server
    row = tune_row(workspace.model("ctr"), idle, NOW)
    assert row["current"]["memory"] == "512Mi"
    assert _mib(row) >= 117 * (1 + SEEN_MARGIN)
    assert row["memory"]["upper_bytes"] is None or _mib(row, "upper_bytes") > 512
    assert row["write"]["memory"] is None  # 512Mi is inside the widened bounds
    assert row["history"]["needed_s"] > MIN_HISTORY_S - 60


def test_a_warm_up_spike_is_never_recommended_away(workspace: Workspace) -> None:
    # a day and a half of history: a 186 MiB spike while warming up, then idle at 117 MiB
    start = NOW - 36 * 3600
    spike = _samples(start, 60, 10, 186)
    idle = _samples(start + 60, 36 * 3600 - 60, 10, 117)
    row = tune_row(workspace.model("ctr"), spike + idle, NOW)
    assert _mib(row) >= 186 * (1 + SEEN_MARGIN)
    assert _mib(row, "lower_bytes") >= 186 * (1 + SEEN_MARGIN)
    assert row["write"]["memory"] is not None  # 512Mi is well above what it ever used
    assert memory_bytes(row["write"]["memory"]) >= 186 * (1 + SEEN_MARGIN) * MIB


def test_an_oom_kill_raises_the_next_recommendation(workspace: Workspace) -> None:
    history = _samples(NOW - 2 * 86400, 2 * 86400, 60, 490)
    calm = tune_row(workspace.model("ctr"), history, NOW)
    killed = tune_row(workspace.model("ctr"), history, NOW, memory_kills=[NOW - 3600])
    assert _mib(killed) >= 512 * 1.2  # above the limit that was hit
    assert _mib(killed) > _mib(calm)
    assert memory_bytes(killed["write"]["memory"]) >= 512 * 1.2 * MIB  # a raise is written
    assert any("OOM" in note for note in killed["evidence"]["notes"])


def test_sparse_history_widens_the_bounds(workspace: Workspace) -> None:
    dense = _samples(NOW - 2 * 86400, 2 * 86400, 60, 200)
    sparse = _samples(NOW - 2 * 86400, 2 * 86400, 3 * 3600, 200)
    wide = tune_row(workspace.model("ctr"), sparse, NOW)
    narrow = tune_row(workspace.model("ctr"), dense, NOW)
    assert _mib(wide, "upper_bytes") > 2 * _mib(narrow, "upper_bytes")
    assert wide["history"]["needed_s"] > 0
    assert narrow["history"]["needed_s"] == 0


def _record(root: Path, samples: list[UsageSample]) -> None:
    from modelyard.backends.local.state import StateStore

    StateStore.for_workspace(root).record_usage_many(samples)


def test_tune_write_refuses_to_lower_on_short_history_and_force_writes(
    workspace_dir: Path,
) -> None:
    deploy = workspace_dir / "models" / "ctr" / "deploy.yaml"
    deploy.write_text(deploy.read_text().replace("memory: 512Mi", "memory: 4Gi", 1))
    before = deploy.read_text()
    now = time.time()
    _record(workspace_dir, _samples(now - 2 * 3600, 2 * 3600, 10, 100))
    refused = runner.invoke(app, ["tune", "ctr", "--write", "-w", str(workspace_dir)])
    assert refused.exit_code == 5, refused.output
    said = " ".join(refused.output.split())
    assert "ctr: 720 samples over 1 h 59 min; about 22 h" in said
    assert "--force" in said
    assert "Nothing was written" in said
    assert deploy.read_text() == before
    forced = runner.invoke(app, ["tune", "ctr", "--write", "--force", "-w", str(workspace_dir)])
    assert forced.exit_code == 0, forced.output
    written = memory_bytes(deploy.read_text().split("memory: ")[1].split()[0])
    assert 100 * (1 + SEEN_MARGIN) * MIB <= written < 4 * 2**30


def test_tune_raises_after_a_memory_kill_even_on_short_history(workspace_dir: Path) -> None:
    from modelyard.backends.local.state import StateStore

    now = time.time()
    _record(workspace_dir, _samples(now - 600, 600, 10, 480))
    StateStore.for_workspace(workspace_dir).append_event(
        "ctr", 0, "server_exited", {"pid": 1, "reason": "killed by signal 9", "memory": True}
    )
    done = runner.invoke(app, ["tune", "ctr", "--write", "--json", "-w", str(workspace_dir)])
    assert done.exit_code == 0, done.output
    (row,) = json.loads(done.output)["models"]
    assert memory_bytes(row["write"]["memory"]) >= 512 * 1.2 * MIB
    deploy = (workspace_dir / "models" / "ctr" / "deploy.yaml").read_text()
    assert f"memory: {row['write']['memory']}" in deploy


@pytest.mark.parametrize("history_s", [30.0, 3600.0])
def test_tune_without_write_always_answers(workspace_dir: Path, history_s: float) -> None:
    now = time.time()
    _record(workspace_dir, _samples(now - history_s, history_s, 10, 117))
    done = runner.invoke(app, ["tune", "ctr", "--json", "-w", str(workspace_dir)])
    assert done.exit_code == 0, done.output
    (row,) = json.loads(done.output)["models"]
    assert row["history"]["needed_s"] > 0
