"""`modelyard notebook`: a real JupyterLab on loopback, behind Jupyter's token, wired to the
model's experiment; the token reaches the user's terminal only."""

from __future__ import annotations

import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.config import load_workspace

START_TIMEOUT_S = 120.0
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Notebook:
    """A `modelyard notebook` process, its stdout read line by line into a queue."""

    def __init__(self, root: Path, tmp: Path, port: int, *extra: str) -> None:
        env = {
            **os.environ,
            # Jupyter's own files under the test's folder, not the user's home.
            "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
            "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
        }
        command = [sys.executable, "-m", "modelyard", "notebook", "ctr", "-w", str(root)]
        self.stderr_path = tmp / f"notebook-{port}.err"
        self.stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [*command, "--no-browser", "--port", str(port), *extra],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line with {text!r} within {START_TIMEOUT_S}s: {self.stdout}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"notebook exited: {self.stdout} {self.stderr_path.read_text()}")
            self.stdout.append(line)
            if text in line:
                return line

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.stderr.close()
        while (line := self.lines.get(timeout=10)) is not None:
            self.stdout.append(line)
        return code

    def output(self) -> str:
        return "".join(self.stdout) + self.stderr_path.read_text()


@pytest.fixture
def notebook_factory(tmp_path: Path) -> Iterator[list[Notebook]]:
    started: list[Notebook] = []
    yield started
    for nb in started:
        if nb.process.poll() is None:
            nb.process.kill()
            nb.process.wait(timeout=30)


def _status(port: int, token: str | None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        conn.request("GET", "/api/status", headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_jupyterlab_serves_on_loopback_behind_a_token_never_printed(
    workspace_dir: Path, tmp_path: Path, notebook_factory: list[Notebook]
) -> None:
    port = _free_port()
    nb = Notebook(workspace_dir, tmp_path, port)
    notebook_factory.append(nb)
    line = nb.wait_for("JupyterLab for ctr:")
    assert f"http://127.0.0.1:{port}/lab?token=..." in line
    token_file = workspace_dir / ".modelyard" / "run" / f"notebook-ctr-{port}.token"
    token = token_file.read_text()
    assert len(token) >= 32
    assert token_file.stat().st_mode & 0o077 == 0  # the user's only

    assert _status(port, None) == 403
    assert _status(port, "wrong") == 403
    assert _status(port, token) == 200

    (jupyter,) = psutil.Process(nb.process.pid).children()
    connections = getattr(jupyter, "net_connections", jupyter.connections)  # psutil < 6
    listening = {c.laddr for c in connections() if c.status == psutil.CONN_LISTEN}
    assert {addr.ip for addr in listening if addr.port == port} == {"127.0.0.1"}
    env = jupyter.environ()  # what its kernels inherit
    ws = load_workspace(workspace_dir)
    assert env["MLFLOW_TRACKING_URI"] == ws.tracking_uri
    assert env["MLFLOW_EXPERIMENT_NAME"] == "ctr"
    assert token not in env.values()
    assert not any(token in arg for arg in jupyter.cmdline())

    assert nb.stop() == 0
    assert not psutil.pid_exists(jupyter.pid) or jupyter.status() == psutil.STATUS_ZOMBIE
    assert not token_file.exists()  # the token dies with the server
    assert token not in nb.output()  # neither modelyard nor Jupyter printed it


def test_print_url_prints_the_url_with_its_token(
    workspace_dir: Path, tmp_path: Path, notebook_factory: list[Notebook]
) -> None:
    port = _free_port()
    nb = Notebook(workspace_dir, tmp_path, port, "--print-url")
    notebook_factory.append(nb)
    line = nb.wait_for("JupyterLab for ctr:")
    url = line.split("JupyterLab for ctr: ", 1)[1].strip()
    assert url.startswith(f"http://127.0.0.1:{port}/lab?token=")
    token = url.partition("?token=")[2]
    assert len(token) >= 32  # the token itself, not "..."
    assert _status(port, token) == 200
    assert nb.stop() == 0


def test_a_token_file_is_used_and_left_in_place(
    workspace_dir: Path, tmp_path: Path, notebook_factory: list[Notebook]
) -> None:
    """As in a pod, where the token is a mounted Secret."""
    token_file = tmp_path / "secret" / "token"
    token_file.parent.mkdir()
    token_file.write_text("a-token-the-user-made-0123456789")
    port = _free_port()
    root = tmp_path / "work"
    root.mkdir()
    nb = Notebook(
        workspace_dir, tmp_path, port, "--token-file", str(token_file), "--root-dir", str(root)
    )
    notebook_factory.append(nb)
    nb.wait_for("JupyterLab for ctr:")
    assert _status(port, "a-token-the-user-made-0123456789") == 200
    (jupyter,) = psutil.Process(nb.process.pid).children()
    assert Path(jupyter.cwd()) == root
    assert nb.stop() == 0
    assert token_file.read_text() == "a-token-the-user-made-0123456789"
    assert "a-token-the-user-made" not in nb.output()
    assert not (workspace_dir / ".modelyard" / "run").exists()  # no token of its own


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--root-dir", "/nonexistent/folder"], "--root-dir /nonexistent/folder: no such folder"),
        (["--token-file", "/nonexistent/token"], "--token-file /nonexistent/token: cannot read"),
        (["--port", "0"], "Invalid value for '--port'"),
        (["--port", "70000"], "Invalid value for '--port'"),
    ],
)
def test_bad_options_exit_2_and_start_nothing(
    workspace_dir: Path, args: list[str], expected: str
) -> None:
    done = runner.invoke(app, ["notebook", "ctr", "-w", str(workspace_dir), *args])
    assert done.exit_code == 2, done.output
    assert expected in " ".join(done.output.split())
    assert not (workspace_dir / ".modelyard" / "run").exists()
    tracking = MlflowClient(tracking_uri=load_workspace(workspace_dir).tracking_uri)
    assert tracking.get_experiment_by_name("ctr") is None  # nothing made in MLflow either


def test_a_runtime_without_jupyterlab_says_how_to_install_it(workspace_dir: Path) -> None:
    (workspace_dir / "runtimes.yaml").write_text(
        "runtimes:\n  bare:\n    python: '3.11'\n    packages: []\n    local: venv\n"
    )
    model_yaml = workspace_dir / "models" / "ctr" / "model.yaml"
    model_yaml.write_text(model_yaml.read_text().replace("runtime: sklearn-cpu", "runtime: bare"))
    done = runner.invoke(app, ["notebook", "ctr", "-w", str(workspace_dir), "--no-browser"])
    assert done.exit_code == 2, done.output
    message = " ".join(done.output.split())
    assert "runtime 'bare'" in message
    assert "no jupyterlab, ipykernel, mlflow there" in message
    assert "runtimes.yaml: runtimes.bare.packages" in message
    assert not (workspace_dir / ".modelyard" / "run").exists()  # no token was made


def test_a_busy_port_is_refused_before_anything_starts(workspace_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = runner.invoke(
            app, ["notebook", "ctr", "-w", str(workspace_dir), "--port", str(port)]
        )
    assert done.exit_code == 4, done.output
    assert f"port {port} on 127.0.0.1 is in use" in " ".join(done.output.split())
    assert not (workspace_dir / ".modelyard" / "run").exists()
