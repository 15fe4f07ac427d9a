"""A notebook run headless (nbclient) in the model's runtime environment, with the kernel
environment `modelyard notebook` gives JupyterLab: its plain `mlflow.start_run()` lands in
the model's experiment, beside the training runs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import nbformat
from mlflow.tracking import MlflowClient
from nbclient import NotebookClient

from modelyard.config import load_workspace
from modelyard.environments import local_environment
from modelyard.workflows import train
from modelyard.workflows.notebook import NotebookOptions, prepare_notebook

CELLS = [
    "import json, os, sys\nimport mlflow",
    "with mlflow.start_run() as run:\n"
    "    mlflow.log_param('source', 'notebook')\n"
    "    mlflow.log_metric('nb_auc', 0.875)\n",
    "print(json.dumps({'run_id': run.info.run_id, 'python': sys.executable, "
    "'cwd': os.getcwd(), 'artifact_uri': run.info.artifact_uri}))",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_notebook_run_lands_in_the_models_experiment_beside_training(
    workspace_dir: Path,
) -> None:
    ws = load_workspace(workspace_dir)
    trained = train(ws, "ctr", ["n_samples=500"])
    launch = prepare_notebook(ws, "ctr", NotebookOptions(port=_free_port(), open_browser=False))

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": "."}}
    )
    # The kernel gets what JupyterLab's kernels inherit from the server modelyard starts.
    client.execute(env=dict(launch.env), cwd=str(launch.cwd))
    printed = json.loads(notebook.cells[-1].outputs[0]["text"])

    runtime = ws.runtimes[ws.model("ctr").spec.runtime]
    python = local_environment("sklearn-cpu", runtime, ws.state_dir / "envs").python
    assert printed["python"] == str(python) == launch.argv[0]  # the runtime's interpreter
    assert Path(printed["cwd"]) == ws.model("ctr").dir

    mlflow = MlflowClient(tracking_uri=ws.tracking_uri)
    experiment = mlflow.get_experiment_by_name("ctr")
    assert experiment is not None
    runs = {r.info.run_id: r for r in mlflow.search_runs([experiment.experiment_id])}
    assert trained.run_id in runs  # the training run ...
    nb_run = runs[printed["run_id"]]  # ... and the notebook's, in the same experiment
    assert nb_run.info.status == "FINISHED"
    assert nb_run.data.metrics["nb_auc"] == 0.875
    assert nb_run.data.params["source"] == "notebook"
    # its artifacts go where the workspace keeps the experiment's, not to ./mlruns
    assert printed["artifact_uri"].startswith(ws.artifact_store)
    assert not (ws.model("ctr").dir / "mlruns").exists()
