"""``pipeline export --airflow``: one Airflow DAG file per scheduled model.

The file imports only Airflow (3.x; ``BashOperator`` ships with it in the standard
provider). It has one task per pipeline step, in order, on the model's cron schedule, with
``training.retries`` retries and the owning team as owner. Each task runs
``modelyard pipeline run ID --step NAME --run-key <Airflow's run id>``, so the steps of one
DAG run share their outputs (the trained version) through modelyard's pipeline history.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from modelyard.config import ModelEntry, Workspace
from modelyard.pipelines.steps import STEP_NAMES

TEMPLATE = '''"""Airflow DAG of modelyard model {model_id!r}, written by `modelyard pipeline
export --airflow`; edit model.yaml and export again rather than editing this file."""

import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

MODELYARD = {command!r}
WORKSPACE = {workspace!r}  # one shell word, quoted by shlex.quote

with DAG(
    dag_id={dag_id!r},
    description={description!r},
    schedule={schedule!r},
    start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={{"owner": {owner!r}, "retries": {retries}}},
    tags=["modelyard", {team!r}],
) as dag:
    tasks = [
        BashOperator(
            task_id=step,
            bash_command=(
                f"{{MODELYARD}} pipeline run {model_id} --step {{step}} "
                f"--run-key '{{{{{{{{ run_id }}}}}}}}' -w {{WORKSPACE}}"
            ),
        )
        for step in {steps!r}
    ]
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream
'''


def dag_id(model_id: str) -> str:
    return f"modelyard_{model_id.replace('-', '_')}"


def dag_source(workspace: Workspace, entry: ModelEntry, command: str = "modelyard") -> str:
    """The DAG file of one scheduled model."""
    spec = entry.spec
    return TEMPLATE.format(
        model_id=spec.id,
        command=command,
        # quoted for the shell here, where the path is known, so that a quote in it cannot
        # end the word (the task's command is a bash command line)
        workspace=shlex.quote(str(workspace.root.resolve())),
        dag_id=dag_id(spec.id),
        description=spec.description or f"modelyard pipeline of {spec.id}",
        schedule=spec.training.schedule,
        owner=spec.owner.team,
        team=spec.owner.team,
        retries=spec.training.retries,
        steps=list(STEP_NAMES),
    )


def export_airflow(workspace: Workspace, out: Path, command: str = "modelyard") -> list[Path]:
    """Write ``<out>/modelyard_<id>.py`` for every model with a schedule; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for model_id, entry in sorted(workspace.models.items()):
        if not entry.spec.training.schedule:
            continue
        path = out / f"{dag_id(model_id)}.py"
        staging = path.with_name(f".{path.name}.tmp")
        staging.write_text(dag_source(workspace, entry, shlex.quote(command)), encoding="utf-8")
        staging.replace(path)
        written.append(path)
    return written
