"""Probe findings of issue 20 in ``model.yaml``: an evaluation dataset outside the model's
folder and the workspace, and cron schedules whose fields are out of range, validated (the
schedule failed later, in the scheduler). Each is refused at load, with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import InvalidConfig, load_workspace


def _model(root: Path) -> Path:
    return root / "models" / "ctr" / "model.yaml"


def _issues(root: Path) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root)
    return [str(issue) for issue in caught.value.issues]


def _line_of(path: Path, text: str) -> int:
    return next(n for n, t in enumerate(path.read_text().splitlines(), 1) if text in t)


def _set(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "dataset", ["../../../../etc/passwd", "/etc/passwd", "~/eval.parquet", "data/../../x.csv"]
)
def test_a_dataset_outside_the_workspace_is_refused(workspace_dir: Path, dataset: str) -> None:
    path = _model(workspace_dir)
    _set(path, "dataset: eval.parquet", f"dataset: {dataset}")
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{path}:{_line_of(path, 'dataset:')}: evaluation.dataset: ")
    assert "no '..' and not absolute" in issue


@pytest.mark.parametrize(
    "dataset",
    ["eval.parquet", "data/eval.csv", "s3://bucket/eval.parquet", "mlflow-artifacts:/1/x"],
)
def test_datasets_inside_or_in_the_artifact_store_validate(
    workspace_dir: Path, dataset: str
) -> None:
    _set(_model(workspace_dir), "dataset: eval.parquet", f"dataset: {dataset}")
    assert load_workspace(workspace_dir).model("ctr").spec.evaluation.dataset == dataset


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("99 99 * * *", "minute '99' is outside 0-59"),
        ("0 24 * * *", "hour '24' is outside 0-23"),
        ("0 3 0 * *", "day of month '0' is outside 1-31"),
        ("0 3 * 13 *", "month '13' is outside 1-12"),
        ("0 3 * * 8", "day of week '8' is outside 0-6"),
        ("*/0 * * * *", "minute '*/0' is outside 0-59"),
        ("a 3 * * *", "minute 'a' is not a number"),
        ("0 3 * *", "needs five fields"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_a_schedule_out_of_range_is_refused_at_load(
    workspace_dir: Path, schedule: str, says: str
) -> None:
    path = _model(workspace_dir)
    _set(path, "  timeout: 10m", f"  timeout: 10m\n  schedule: '{schedule}'")
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{path}:{_line_of(path, 'schedule:')}: training.schedule: ")
    assert says in issue


@pytest.mark.parametrize("schedule", ["0 3 * * *", "*/15 1-5 * * 1-5", "0 0 29 2 *", "0 0 * * 7"])
def test_valid_schedules_load(workspace_dir: Path, schedule: str) -> None:
    _set(_model(workspace_dir), "  timeout: 10m", f"  timeout: 10m\n  schedule: '{schedule}'")
    assert load_workspace(workspace_dir).model("ctr").spec.training.schedule == schedule
