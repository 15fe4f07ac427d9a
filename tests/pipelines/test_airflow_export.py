"""The exported DAG file is imported by Apache Airflow 3, in a venv of its own.

Airflow lives in a venv of its own under ``.cache/airflow`` (tests/tool_venvs.py). Where it
cannot be installed the test skips, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.config import Workspace, load_workspace
from modelyard.pipelines import STEP_NAMES, export_airflow
from tool_venvs import tool_for_test

PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dags = {}
for dag_id, dag in bag.dags.items():
    order, task = [], next(t for t in dag.tasks if not t.upstream_task_ids)
    while task is not None:
        order.append(task.task_id)
        task = next(iter(task.downstream_list), None)
    dags[dag_id] = {"order": order, "tasks": len(dag.tasks), "schedule": dag.timetable.expression,
                    "owner": dag.owner, "retries": dag.default_args.get("retries"),
                    "command": dag.get_task("train").bash_command}
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags}))
"""


def _airflow_python() -> Path:
    """Airflow's interpreter (tests/tool_venvs.py; `make test` makes it before the tests)."""
    return tool_for_test("airflow") / "bin" / "python"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_airflow_imports_the_dag(scheduled_ws: Workspace, tmp_path: Path) -> None:
    (path,) = export_airflow(scheduled_ws, tmp_path / "dags")
    assert "import modelyard" not in path.read_text()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "af"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    out = subprocess.run(
        [str(_airflow_python()), "-c", PROBE, str(path.parent)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    dag = report["dags"]["modelyard_ctr"]
    assert dag["order"] == list(STEP_NAMES)
    assert dag["tasks"] == len(STEP_NAMES)
    assert dag["schedule"] == "0 3 * * *"
    assert dag["owner"] == "ads-ranking"
    assert dag["retries"] == 0
    root = scheduled_ws.root.resolve()
    assert (
        f"pipeline run ctr --step train --run-key '{{{{ run_id }}}}' -w {shlex.quote(str(root))}"
        in dag["command"]
    )


ARGV = """#!{python}
import json, sys
print(json.dumps(sys.argv[1:]))
"""


def _task_command(dag_file: Path, step: str) -> str:
    """The bash command of one task, as Airflow would build it (the DAG file run with stand-ins
    for the two Airflow names it imports, which only record their arguments)."""
    tasks: dict[str, str] = {}

    class BashOperator:
        def __init__(self, task_id: str, bash_command: str) -> None:
            tasks[task_id] = bash_command

        def __rshift__(self, other: object) -> object:
            return other

    class DAG:
        def __init__(self, **_: object) -> None:
            pass

        def __enter__(self) -> DAG:
            return self

        def __exit__(self, *_: object) -> None:
            pass

    namespace = {"BashOperator": BashOperator, "DAG": DAG}
    source = "\n".join(
        line for line in dag_file.read_text().splitlines() if not line.startswith("from airflow")
    )
    exec(compile(source, str(dag_file), "exec"), namespace)
    return tasks[step]


@pytest.mark.parametrize("name", ["it's here", "a'; touch PWNED; echo '", "$(touch PWNED) `x`"])
def test_the_task_command_keeps_a_quoted_workspace_path_one_word(
    workspace_dir: Path, tmp_path: Path, name: str
) -> None:
    # issue 20: the path sat inside single quotes; a quote in it ended the shell word
    root = tmp_path / name
    shutil.copytree(workspace_dir, root)
    path = root / "models" / "ctr" / "model.yaml"
    path.write_text(
        path.read_text().replace("  timeout: 10m\n", '  timeout: 10m\n  schedule: "0 3 * * *"\n')
    )
    argv = tmp_path / "argv"
    argv.write_text(ARGV.format(python=sys.executable))
    argv.chmod(0o755)
    (dag_file,) = export_airflow(load_workspace(root), tmp_path / "dags", command=str(argv))
    command = _task_command(dag_file, "train").replace("{{ run_id }}", "manual__1")
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert json.loads(done.stdout) == [
        "pipeline",
        "run",
        "ctr",
        "--step",
        "train",
        "--run-key",
        "manual__1",
        "-w",
        str(root.resolve()),
    ]
    assert not (tmp_path / "PWNED").exists()
