"""The notebook's command and environment, built purely: what binds where, what the kernel
sees, and where the token may (and may not) appear."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from modelyard.config import Runtime, Workspace
from modelyard.workflows.notebook import (
    NotebookLaunch,
    NotebookOptions,
    missing_message,
    notebook_launch,
)

TOKEN = "s3cr3t-token-value"


def _launch(workspace: Workspace, **options: Any) -> NotebookLaunch:
    return notebook_launch(
        python=Path(sys.executable),
        entry=workspace.model("ctr"),
        tracking_uri=workspace.tracking_uri,
        experiment_id="7",
        options=NotebookOptions(**options),
        token=TOKEN,
        token_file=workspace.state_dir / "run" / "nb.token",
        base_env={
            "PATH": "/usr/bin",
            "JUPYTER_TOKEN": "inherited-token",
            "MLFLOW_RUN_ID": "someone-elses-run",
            "MLFLOW_EXPERIMENT_NAME": "other",
        },
    )


def test_jupyterlab_runs_in_the_runtime_python_on_loopback_in_the_model_folder(
    workspace: Workspace,
) -> None:
    launch = _launch(workspace, open_browser=False)
    argv = launch.argv
    assert argv[:3] == (sys.executable, "-m", "jupyterlab")
    assert "--ServerApp.ip=127.0.0.1" in argv
    assert "--ServerApp.port=8888" in argv
    assert "--ServerApp.port_retries=0" in argv  # never a port other than the printed one
    assert "--ServerApp.open_browser=False" in argv
    assert f"--ServerApp.root_dir={workspace.model('ctr').dir}" in argv
    assert launch.cwd == workspace.model("ctr").dir


def test_the_kernel_sees_the_workspace_tracking_uri_and_the_models_experiment(
    workspace: Workspace,
) -> None:
    env = _launch(workspace).env
    assert env["MLFLOW_TRACKING_URI"] == workspace.tracking_uri
    assert env["MLFLOW_REGISTRY_URI"] == workspace.tracking_uri
    assert env["MLFLOW_EXPERIMENT_NAME"] == "ctr"  # the experiment `modelyard train` uses
    assert env["MLFLOW_EXPERIMENT_ID"] == "7"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"  # no usage reports leave the machine
    assert env["PATH"] == "/usr/bin"
    # an inherited run id would make the notebook's start_run() resume someone else's run
    assert "MLFLOW_RUN_ID" not in env
    # Jupyter prefers JUPYTER_TOKEN over the token file: it must not be inherited
    assert "JUPYTER_TOKEN" not in env
    assert env["JUPYTER_TOKEN_FILE"] == str(workspace.state_dir / "run" / "nb.token")


def test_the_token_is_only_in_the_url_for_the_terminal(workspace: Workspace) -> None:
    launch = _launch(workspace)
    assert launch.url.endswith(f"/lab?token={TOKEN}")
    assert TOKEN not in launch.shown_url
    assert not any(TOKEN in arg for arg in launch.argv)
    assert not any(TOKEN in value for value in launch.env.values())


@pytest.mark.parametrize(
    ("host", "url_host", "probe"),
    [
        ("0.0.0.0", "127.0.0.1", "127.0.0.1"),
        ("::1", "[::1]", "::1"),
        ("10.1.2.3", "10.1.2.3", "10.1.2.3"),
    ],
)
def test_host_sets_the_bind_address_and_the_url(
    workspace: Workspace, host: str, url_host: str, probe: str
) -> None:
    launch = _launch(workspace, host=host, port=9999)
    assert f"--ServerApp.ip={host}" in launch.argv
    assert launch.shown_url == f"http://{url_host}:9999/lab?token=..."
    assert launch.probe == (probe, 9999)


def test_root_dir_moves_the_file_browser_and_the_kernels_cwd(
    workspace: Workspace, tmp_path: Path
) -> None:
    launch = _launch(workspace, root_dir=tmp_path)
    assert f"--ServerApp.root_dir={tmp_path}" in launch.argv
    assert launch.cwd == tmp_path


def test_a_missing_package_says_how_to_install_it() -> None:
    inherit = missing_message("sklearn-cpu", Runtime(), Path("/v/bin/python"), ["jupyterlab"])
    assert "/v/bin/python -m pip install 'modelyard[notebook]'" in inherit
    assert "'jupyterlab>=4'" in inherit
    venv = missing_message(
        "bare", Runtime(local="venv"), Path("/e/bin/python"), ["jupyterlab", "ipykernel"]
    )
    assert "runtimes.yaml: runtimes.bare.packages" in venv
    assert "'jupyterlab>=4' 'ipykernel>=6'" in venv
