"""Model server processes: start one, wait until it is ready, stop it gracefully.

Three kinds, one face (``alive``, ``wait_ready``, ``stop``, ``pid``, ``url``):

- :class:`ServerProcess`: ``modelyard serve`` as a user starts it (tests, the evaluator);
- :class:`LaunchedServer`: the lean server, ``python -m modelyard.serving SPEC.json``, as a
  child of this process;
- :class:`WatchedServer`: a server that is not this process's child, known by its pid: one
  forked by a :class:`ServerTemplate` (a pre-imported parent, so a restart pays no cold
  start), or one an earlier supervisor left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from modelyard.errors import Unavailable

READY_PATH = "/v2/health/ready"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerNotReady(Unavailable):
    """The server process did not become ready in time, or died while starting."""


def _wait_ready(server: _Server, what: str, timeout_s: float) -> float:
    import httpx

    start = time.monotonic()
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() - start < timeout_s:
            if not server.alive():
                raise ServerNotReady(
                    f"the server for {what!r} exited{server.exit_note()} while starting; "
                    f"see {server.log_path or 'its output'}"
                )
            answer = None
            with contextlib.suppress(httpx.HTTPError):
                answer = client.get(server.url + READY_PATH)
            if answer is not None and answer.status_code == 200:
                return time.monotonic() - start
            if answer is not None and answer.status_code == 503:  # the model will not load
                raise ServerNotReady(
                    f"the server for {what!r} cannot serve: {_error_of(answer)}; "
                    f"see {server.log_path or 'its output'}"
                )
            time.sleep(0.05)
    raise ServerNotReady(
        f"the server for {what!r} was not ready after {timeout_s:.0f}s", retry_after=5
    )


def _error_of(answer: Any) -> str:
    try:
        return str(answer.json().get("error", answer.text))
    except ValueError:
        return str(answer.text)


class _Server:
    host: str = "127.0.0.1"
    port: int
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        raise NotImplementedError

    def exit_note(self) -> str:
        return ""

    def returncode(self) -> int | None:
        """How the process ended (negative: the signal), None when unknown or running."""
        return None


class _Child(_Server):
    """A server process that is this process's child (``Popen``)."""

    extra_env: dict[str, str]
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        raise NotImplementedError

    @contextlib.contextmanager
    def running(self, timeout_s: float = 120.0) -> Iterator[Self]:
        """Started and ready for the ``with`` block, stopped (drained) after it."""
        self.start()
        try:
            self.wait_ready(timeout_s=timeout_s)
            yield self
        finally:
            self.stop()

    def label(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.extra_env},
                start_new_session=True,
            )
        finally:
            if self.log_path and not isinstance(log, int):
                log.close()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_note(self) -> str:
        code = self._proc.returncode if self._proc else None
        return f" with code {code}"

    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def wait_ready(self, timeout_s: float = 60.0) -> float:
        """Block until the server reports ready; returns the seconds it took."""
        return _wait_ready(self, self.label(), timeout_s)

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM (uvicorn drains and exits), then SIGKILL after ``grace_s``."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()


class ServerProcess(_Child):
    """One ``modelyard serve`` child process, exactly as a user starts it."""

    def __init__(
        self,
        workspace: Path,
        model_id: str,
        version: int | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        extra_env: dict[str, str] | None = None,
        grpc_port: int | None = None,
    ) -> None:
        self.workspace = workspace
        self.model_id = model_id
        self.version = version
        self.grpc_port = grpc_port
        self.port = port if port is not None else free_port()
        self.host = host
        self.log_path = log_path
        self.extra_env = dict(extra_env or {})
        self._proc = None

    def label(self) -> str:
        return self.model_id

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "modelyard", "serve", self.model_id, "-w", str(self.workspace)]
        if self.version is not None:
            cmd += ["--version", str(self.version)]
        if self.grpc_port is not None:
            cmd += ["--grpc-port", str(self.grpc_port)]
        return [*cmd, "--host", self.host, "--port", str(self.port)]


class LaunchedServer(_Child):
    """``python -m modelyard.serving SPEC.json``: the lean server, as a child process."""

    def __init__(
        self, spec_path: Path, port: int, model_id: str, log_path: Path | None = None
    ) -> None:
        self.spec_path = spec_path
        self.port = port
        self.host = "127.0.0.1"
        self.model_id = model_id
        self.log_path = log_path
        self.extra_env = {}
        self._proc = None

    def label(self) -> str:
        return self.model_id

    def command(self) -> list[str]:
        from modelyard.serving.process.launch import command

        return command(self.spec_path)


class WatchedServer(_Server):
    """A server known by its pid (not this process's child): forked by a template, or left
    running by an earlier supervisor. Its pid is its process group."""

    def __init__(self, pid: int, port: int, model_id: str = "", log_path: Path | None = None):
        self.pid: int | None = pid
        self.port = port
        self.host = "127.0.0.1"
        self.model_id = model_id
        self.log_path = log_path

    def alive(self) -> bool:
        import psutil

        try:
            return psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def wait_ready(self, timeout_s: float = 60.0) -> float:
        return _wait_ready(self, self.model_id, timeout_s)

    def returncode(self, wait_s: float = 2.0) -> int | None:
        """What the template that forked it recorded (it reaps the server, not us); waits a
        little for the record. None for a server adopted from an earlier supervisor."""
        if self.log_path is None or self.pid is None:
            return None
        from modelyard.serving.process.template import exits_path

        deadline = time.monotonic() + wait_s
        while True:
            with contextlib.suppress(OSError):
                for line in Path(exits_path(self.log_path)).read_text().splitlines():
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        record = json.loads(line)
                        if record["pid"] == self.pid:
                            return int(record["returncode"])
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def stop(self, grace_s: float = 10.0) -> int | None:
        assert self.pid is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        return None


class TemplateFailed(Unavailable):
    """The server template did not fork a server."""


class ServerTemplate:
    """``python -m modelyard.serving.process.template``: a pre-imported parent that forks servers.

    Started once (it imports the serving stack and loads the model of ``warm_spec`` once);
    each :meth:`spawn` forks a server from it, which skips the imports a cold start pays.
    """

    def __init__(self, warm_spec: Path | None, log_path: Path | None = None) -> None:
        self.warm_spec = warm_spec
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "modelyard.serving.process.template"]
        if self.warm_spec is not None:
            argv.append(str(self.warm_spec))
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            # the same session as this process: it ends with its parent (end of stdin)
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        finally:
            if self.log_path and not isinstance(log, int):
                log.close()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def spawn(
        self, spec_path: Path, port: int, model_id: str, log_path: Path, timeout_s: float = 120.0
    ) -> WatchedServer:
        """Fork a server for ``spec_path`` (waits for the template's warm-up the first time)."""
        if not self.alive():
            self.start()
        proc = self._proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        request = json.dumps({"spec": str(spec_path), "log": str(log_path)}) + "\n"
        try:
            proc.stdin.write(request.encode())
            proc.stdin.flush()
        except OSError as exc:
            raise TemplateFailed(f"the server template is gone: {exc}", 1.0) from exc
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        line = proc.stdout.readline() if ready else b""
        try:
            answer = json.loads(line)
            return WatchedServer(int(answer["pid"]), port, model_id, log_path)
        except (ValueError, KeyError, TypeError) as exc:
            self.close()
            raise TemplateFailed(f"the server template did not fork a server: {line!r}") from exc

    def close(self) -> None:
        """End the template (its servers keep running)."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._proc = None
