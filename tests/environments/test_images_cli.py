"""``modelyard images``: output, --json and exit codes, without a container builder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from modelyard.cli import app

runner = CliRunner()


def test_build_without_a_builder_writes_the_context_and_prints_the_command(
    workspace_dir: Path,
) -> None:
    done = runner.invoke(
        app, ["images", "build", "sklearn-cpu", "--builder", "none", "-w", str(workspace_dir)]
    )

    assert done.exit_code == 0, done.output
    assert "no podman or buildah" in done.output
    assert "docker buildx build --network host" in done.stdout
    context = workspace_dir / ".modelyard" / "images" / "sklearn-cpu"
    assert str(context) in done.stdout
    assert (context / "Containerfile").read_text().startswith("# syntax=docker/dockerfile:1")


def test_build_json_says_what_was_done_per_runtime(workspace_dir: Path) -> None:
    done = runner.invoke(
        app,
        ["images", "build", "sklearn-cpu", "--builder", "none", "--json", "-w", str(workspace_dir)],
    )

    assert done.exit_code == 0, done.output
    (row,) = json.loads(done.stdout)
    assert row["runtime"] == "sklearn-cpu"
    assert row["status"] == "context written"
    assert row["image"].startswith("registry.example.com/modelyard/sklearn-cpu:3.11-")


def test_bad_input_exits_2_and_names_the_problem(workspace_dir: Path) -> None:
    unknown = runner.invoke(
        app, ["images", "build", "nope", "--builder", "none", "-w", str(workspace_dir)]
    )
    builder = runner.invoke(
        app, ["images", "build", "--builder", "kaniko", "-w", str(workspace_dir)]
    )

    assert unknown.exit_code == 2
    assert "runtimes.yaml" in unknown.output
    assert "'nope'" in unknown.output
    assert builder.exit_code == 2
    assert "auto, podman, buildah, none" in builder.output
    assert not (workspace_dir / ".modelyard" / "images").exists()


def test_list_json_has_a_row_per_runtime(workspace_dir: Path) -> None:
    done = runner.invoke(app, ["images", "list", "--json", "-w", str(workspace_dir)])

    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)
    assert {row["runtime"] for row in rows} == {"sklearn-cpu", "onnx-cpu", "pytorch-cuda"}
    assert all(set(row) == {"runtime", "image", "size_bytes", "built"} for row in rows)
    cuda = next(row for row in rows if row["runtime"] == "pytorch-cuda")
    assert cuda["image"].startswith("registry.example.com/modelyard/pytorch-cuda:3.11-")


def test_version_flag_prints_the_version() -> None:
    done = runner.invoke(app, ["--version"])

    assert done.exit_code == 0
    assert done.stdout.strip().startswith("modelyard 0.")
