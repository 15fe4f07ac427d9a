"""`modelyard tune --write` and `modelyard cost` on a workspace with a recorded usage history."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from modelyard.cli.app import app

runner = CliRunner()
MIB = 2**20


def _history(record_usage, recent_hours):
    stamps = recent_hours(25)  # tune --write lowers requests only on a day of history
    record_usage(
        "server:ctr", [(at, 0.12 + (i % 5) / 100, 180 * MIB + i % 9) for i, at in enumerate(stamps)]
    )
    record_usage("train:ctr", [(at, 0.9, 300 * MIB) for at in stamps[:360]])


def _changed(before: str, after: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]


def test_tune_write_changes_only_resources_lines(workspace_dir: Path, record_usage, recent_hours):
    _history(record_usage, recent_hours)
    deploy = workspace_dir / "models" / "ctr" / "deploy.yaml"
    before = deploy.read_text()
    result = runner.invoke(app, ["tune", "ctr", "--write", "--json", "-w", str(workspace_dir)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    (row,) = out["models"]
    assert row["evidence"]["samples"] > 1000
    assert any("HPA" in n for n in row["evidence"]["notes"])  # ctr scales on cpu_percent: 70
    after = deploy.read_text()
    assert _changed(before, after) == [
        ("  memory: 512Mi", f"  memory: {row['recommended']['memory']}")
    ]
    assert after.startswith("# Dynamic settings")  # comments kept
    assert runner.invoke(app, ["validate", "-w", str(workspace_dir)]).exit_code == 0


def test_tune_write_sets_cpu_when_hpa_does_not_scale_on_it(
    workspace_dir, record_usage, recent_hours
):
    _history(record_usage, recent_hours)
    deploy = workspace_dir / "models" / "ctr" / "deploy.yaml"
    deploy.write_text(
        deploy.read_text().replace(
            "  cpu_percent: 70", "  cpu_percent: null  # rps only\n  rps_per_replica: 50"
        )
    )
    before = deploy.read_text()
    result = runner.invoke(app, ["tune", "--write", "-w", str(workspace_dir)])
    assert result.exit_code == 0, result.output
    changed = _changed(before, deploy.read_text())
    assert [a for a, _ in changed] == ["  cpu: 500m", "  memory: 512Mi"]
    assert "# rps only" in deploy.read_text()
    assert "+  cpu:" in result.output  # the diff is printed for review
    assert runner.invoke(app, ["validate", "-w", str(workspace_dir)]).exit_code == 0


def test_tune_without_history_recommends_nothing(workspace_dir: Path):
    result = runner.invoke(app, ["tune", "--json", "-w", str(workspace_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["models"][0]["recommended"] is None
    missing = runner.invoke(app, ["tune", "nope", "-w", str(workspace_dir)])
    assert missing.exit_code == 3


def test_cost_lists_the_team_split_into_training_and_serving(
    workspace_dir, record_usage, recent_hours
):
    _history(record_usage, recent_hours)
    result = runner.invoke(app, ["cost", "--json", "--days", "2", "-w", str(workspace_dir)])
    assert result.exit_code == 0, result.output
    (team,) = json.loads(result.output)["groups"]
    assert team["name"] == "ads-ranking"
    assert team["training"] > 0
    assert team["serving"] > 0
    assert team["cost"] == round(team["training"] + team["serving"], 6)
    assert 0 < team["waste"] < 1  # 0.12 of 0.5 cores used
    by_dri = runner.invoke(app, ["cost", "--by", "dri", "--json", "-w", str(workspace_dir)])
    assert [g["name"] for g in json.loads(by_dri.output)["groups"]] == ["ada@example.com"]
    table = runner.invoke(app, ["cost", "-w", str(workspace_dir)])
    assert table.exit_code == 0
    assert "ads-ranking" in table.output


def test_replay_cli_reports_bad_trace_with_file_and_line(tmp_path: Path):
    bad = tmp_path / "1.csv"
    bad.write_text("Timestamp [ms];\tCPU cores\n1;\t2\n")
    result = runner.invoke(app, ["tune", "--replay", str(bad), "--format", "bitbrains"])
    assert result.exit_code == 2
    assert "1.csv:1: missing column" in result.output
