"""``train --deploy`` runs the held-out gate and does not roll out a version it refuses.

A real training (the example script with 45 % of its training labels flipped) makes a
candidate worse than production on the evaluation set; the gate refuses it with both figures,
the command exits 4 (a conflict, not a crash), and the local backend records no revision.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from modelyard.backends.local.backend import LocalBackend
from modelyard.cli.app import app
from modelyard.config import load_workspace
from modelyard.registry import Registry


def test_worse_candidate_is_refused_and_not_rolled_out(eval_dir: Path) -> None:
    ws = load_workspace(eval_dir)
    registry = Registry.for_workspace(ws)
    registry.set_alias("ctr", "production", 1)
    before = LocalBackend(ws).history("ctr")
    # the CLI's own app in this process (the training itself is a job process, as always)
    argv = ["train", "ctr", "--deploy", "--json", "-p", "label_noise=0.45", "-p", "n_samples=4000"]
    ran = CliRunner().invoke(app, [*argv, "-w", str(eval_dir)])
    done = subprocess.CompletedProcess(argv, ran.exit_code, ran.stdout, ran.stderr)
    assert done.returncode == 4, done.stderr
    summary = json.loads(done.stdout)
    assert summary["version"] == 4
    gate = summary["gate"]
    assert gate["passed"] is False
    assert gate["candidate"] == 4
    assert gate["production"] == 1
    new, old = gate["candidate_metrics"]["auc"], gate["production_metrics"]["auc"]
    assert new < old
    for figure in (f"{new:.4g}", f"{old:.4g}"):
        assert figure in gate["reason"]
        assert figure in done.stderr
    assert summary["deploy"] == {"deployed": False, "reason": gate["reason"]}
    assert "was not deployed" in done.stderr
    # Nothing was rolled out: no new revision, production still names version 1.
    assert LocalBackend(ws).history("ctr") == before
    assert registry.resolve("ctr", alias="production").version == 1
    assert registry.resolve("ctr", 4).tags["modelyard.gate"] == "failed"
