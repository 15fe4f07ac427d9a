"""``modelyard notebook``: JupyterLab in a model's runtime environment, wired to its experiment.

The notebook's kernel sees the workspace's MLflow tracking URI and the model's experiment (the
one ``modelyard train`` logs into, created here with the workspace's artifact location), so a
plain ``mlflow.start_run()`` in a cell lands beside the training runs. :func:`notebook_launch`
builds the command and its environment without touching anything (unit-testable);
:func:`prepare_notebook` gathers what it needs (the runtime's interpreter, the experiment, a
token) and :func:`run_notebook` runs JupyterLab in the foreground.

The token is Jupyter's own authentication, handed over in a ``0600`` file
(``JUPYTER_TOKEN_FILE``), never in argv or an environment value: Jupyter then writes
``token=...`` in its log instead of the token, and only the URL modelyard prints to the
user's terminal carries it.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from modelyard.config import ModelEntry, Runtime, Workspace
from modelyard.environments import local_environment
from modelyard.errors import ConfigError, Conflict, JobFailed, Unavailable

DEFAULT_PORT = 8888
DEFAULT_HOST = "127.0.0.1"
NOTEBOOK_EXTRA = "notebook"
"""modelyard's optional extra that installs JupyterLab, ipykernel and nbclient."""
REQUIRED_MODULES = ("jupyterlab", "ipykernel", "mlflow")
"""What the runtime's interpreter must import: the server, the kernel, and what cells log to."""
NEEDED_PACKAGES = {"jupyterlab": "jupyterlab>=4", "ipykernel": "ipykernel>=6", "mlflow": "mlflow"}
DROPPED_ENV = ("JUPYTER_TOKEN", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")
"""Inherited variables that would override the token file or point cells at another run."""
READY_TIMEOUT_S = 120.0


class NotebookUnavailable(ConfigError):
    """The model's runtime environment cannot run JupyterLab (a package is missing)."""


@dataclass(frozen=True)
class NotebookOptions:
    """What the user chose on the command line."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    open_browser: bool = True
    root_dir: Path | None = None
    """JupyterLab's file browser root and the kernel's cwd; the model's folder when unset."""


@dataclass(frozen=True)
class NotebookLaunch:
    """A JupyterLab process ready to start: its command, full environment and folder."""

    model_id: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    url: str
    """The URL with the token: for the user's terminal only."""
    shown_url: str
    """The URL with the token left out (``token=...``), safe for any log."""
    probe: tuple[str, int]
    """Where this machine reaches the server (loopback when it binds every address)."""
    token_file: Path


def kernel_env(tracking_uri: str, experiment_name: str, experiment_id: str) -> dict[str, str]:
    """The MLflow variables a notebook kernel needs to log into the model's experiment."""
    return {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_REGISTRY_URI": tracking_uri,
        "MLFLOW_EXPERIMENT_NAME": experiment_name,
        "MLFLOW_EXPERIMENT_ID": experiment_id,
        # no usage reports to MLflow's makers from the kernel (see modelyard.tracking)
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - only turned into a loopback URL here
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def notebook_launch(
    *,
    python: Path,
    entry: ModelEntry,
    tracking_uri: str,
    experiment_id: str,
    options: NotebookOptions,
    token: str,
    token_file: Path,
    base_env: Mapping[str, str],
    as_root: bool = False,
) -> NotebookLaunch:
    """The JupyterLab command and environment for ``entry``; pure (reads and writes nothing)."""
    root = options.root_dir or entry.dir
    argv = (
        str(python),
        *("-m", "jupyterlab"),
        f"--ServerApp.ip={options.host}",
        f"--ServerApp.port={options.port}",
        # Another port would make the printed URL wrong; fail instead and say so.
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.open_browser={options.open_browser}",
        # One Ctrl-C stops it, as it stops every other modelyard command.
        "--ServerApp.answer_yes=True",
        # Jupyter refuses root unless told; a root shell (a container, CI) is the user's call.
        *(("--ServerApp.allow_root=True",) if as_root else ()),
    )
    env = {k: v for k, v in base_env.items() if k not in DROPPED_ENV}
    env.update(kernel_env(tracking_uri, entry.id, experiment_id))
    env.update(
        MODELYARD_MODEL=entry.id,
        JUPYTER_TOKEN_FILE=str(token_file),
        PYTHONUNBUFFERED="1",
    )
    base = f"http://{_url_host(options.host)}:{options.port}/lab"
    probe_host = _url_host(options.host).strip("[]")
    return NotebookLaunch(
        model_id=entry.id,
        argv=argv,
        env=env,
        cwd=root,
        url=f"{base}?token={quote(token)}",
        shown_url=f"{base}?token=...",
        probe=(probe_host, options.port),
        token_file=token_file,
    )


def missing_message(name: str, runtime: Runtime, python: Path, missing: list[str]) -> str:
    """What to do when the runtime's interpreter lacks ``missing`` modules."""
    packages = " ".join(f"'{NEEDED_PACKAGES[m]}'" for m in missing)
    head = f"runtime {name!r} ({python}) cannot run a notebook: no {', '.join(missing)} there"
    if runtime.local == "inherit":
        return (
            f"{head}. Install modelyard's notebook extra into that interpreter: "
            f"{python} -m pip install 'modelyard[{NOTEBOOK_EXTRA}]' (or {packages})"
        )
    return (
        f"{head}. Add {packages} to runtimes.yaml: runtimes.{name}.packages; the runtime's "
        "environment is rebuilt with them on the next 'modelyard notebook' or 'train'"
    )


_PROBE = (
    "import importlib.util, sys\n"
    "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
)


def missing_modules(python: Path) -> list[str]:
    """The :data:`REQUIRED_MODULES` that ``python`` cannot import."""
    try:
        done = subprocess.run(
            [str(python), "-c", _PROBE, *REQUIRED_MODULES],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise NotebookUnavailable(f"cannot run the runtime's interpreter {python}: {exc}") from exc
    return done.stdout.split()


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (Jupyter is told not to try another)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _write_token(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token)  # no newline: Jupyter reads the file's text as the token
    staging.replace(path)


def prepare_notebook(
    workspace: Workspace,
    model_id: str,
    options: NotebookOptions,
    token_file: Path | None = None,
) -> NotebookLaunch:
    """Everything :func:`run_notebook` needs: the runtime's interpreter (built on first use),
    the model's experiment (created with the workspace's artifact location), and a token.

    ``token_file`` names an existing token (a mounted Secret in a pod); otherwise a new token
    is written to a ``0600`` file under the workspace's state folder.
    """
    from modelyard.tracking import Tracking

    entry = workspace.model(model_id)
    if options.root_dir is not None and not options.root_dir.is_dir():
        raise ConfigError(f"--root-dir {options.root_dir}: no such folder; create it first")
    given = _read_token(token_file) if token_file is not None else None
    name = entry.spec.runtime
    runtime = workspace.runtimes[name]
    environment = local_environment(name, runtime, workspace.state_dir / "envs")
    missing = missing_modules(environment.python)
    if missing:
        raise NotebookUnavailable(missing_message(name, runtime, environment.python, missing))
    if not port_free(options.host, options.port):
        raise Conflict(
            f"port {options.port} on {options.host} is in use (another notebook or server?); "
            "pass --port with a free one"
        )
    tracking = Tracking(workspace.tracking_uri, workspace.artifact_store)
    experiment_id = tracking.experiment_id(entry.id)
    if token_file is None or given is None:
        token = secrets.token_urlsafe(32)
        token_file = workspace.state_dir / "run" / f"notebook-{entry.id}-{options.port}.token"
        _write_token(token_file, token)
    else:
        token = given
    return notebook_launch(
        python=environment.python,
        entry=entry,
        tracking_uri=workspace.tracking_uri,
        experiment_id=experiment_id,
        options=options,
        token=token,
        token_file=token_file,
        base_env=os.environ,
        as_root=os.geteuid() == 0,
    )


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"--token-file {path}: cannot read it ({exc.strerror}); write a token into it, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32), end=\"\")'"
        ) from exc
    if not token.strip() or token != token.strip():
        raise ConfigError(
            f"--token-file {path}: the token must be one line of text without surrounding "
            "spaces or newline (Jupyter reads the whole file)"
        )
    return token


def wait_ready(
    launch: NotebookLaunch,
    alive: Callable[[], bool],
    timeout_s: float = READY_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Poll Jupyter's ``/api/status`` with the token until it answers 200; False when the
    process ended first. Raises :class:`Unavailable` at the deadline."""
    token = launch.url.partition("?token=")[2]
    deadline = clock() + timeout_s
    while alive():
        try:
            conn = http.client.HTTPConnection(*launch.probe, timeout=2)
            try:
                conn.request("GET", "/api/status", headers={"Authorization": f"token {token}"})
                if conn.getresponse().status == 200:
                    return True
            finally:
                conn.close()
        except OSError:
            pass
        if clock() > deadline:
            raise Unavailable(
                f"JupyterLab did not answer on {launch.shown_url} within {timeout_s:g}s", 5.0
            )
        time.sleep(0.2)
    return False


STOP_GRACE_S = 20.0
"""How long JupyterLab has to stop after a forwarded SIGTERM before it is killed (a
supervisor, or Kubernetes' grace period, would do the same)."""


def _wait_stopping(process: subprocess.Popen[bytes], stopping: list[int]) -> int:
    """JupyterLab's exit code; once a SIGTERM was forwarded, at most ``STOP_GRACE_S`` later."""
    while True:
        try:
            return process.wait(timeout=STOP_GRACE_S if stopping else 1.0)
        except subprocess.TimeoutExpired:
            if stopping:
                process.kill()
                return process.wait()


def run_notebook(launch: NotebookLaunch, on_ready: Callable[[NotebookLaunch], None]) -> int:
    """Run JupyterLab in the foreground until it stops; its exit code (0 when stopped by
    Ctrl-C or SIGTERM). ``on_ready`` is called once it answers (to print the URL).

    Raises :class:`JobFailed` when it exits before it ever answered (a bad address, say).
    """
    process = subprocess.Popen(launch.argv, env=dict(launch.env), cwd=launch.cwd)
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        process.send_signal(signum)

    # Ctrl-C reaches Jupyter from the terminal (same process group) and it stops itself;
    # this process only waits. SIGTERM (kill, a supervisor) is handed on to Jupyter.
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, forward),
    }
    try:
        ready = wait_ready(launch, lambda: process.poll() is None)
        if ready:
            on_ready(launch)
        code = _wait_stopping(process, stopping)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    stopped = code in (0, -signal.SIGINT, -signal.SIGTERM) or bool(stopping)
    if stopped:
        return 0
    code = code if code > 0 else 128 - code
    if not ready:
        raise JobFailed(
            f"JupyterLab exited with code {code} before it answered on {launch.shown_url}; "
            "its own messages are above",
            exit_code=code,
        )
    return code


def discard_token(launch: NotebookLaunch, made_here: bool) -> None:
    """Remove the token file this command wrote (a mounted one is left alone)."""
    if made_here:
        launch.token_file.unlink(missing_ok=True)


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "NotebookLaunch",
    "NotebookOptions",
    "NotebookUnavailable",
    "discard_token",
    "kernel_env",
    "missing_message",
    "notebook_launch",
    "prepare_notebook",
    "run_notebook",
]
