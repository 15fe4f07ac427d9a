"""A model server as a child process: start it, wait until it is ready, stop it gracefully.

The server is the ``modelyard serve`` command itself, so a process started here behaves
exactly like one a user starts by hand.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelyard.errors import Unavailable

READY_PATH = "/v2/health/ready"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerNotReady(Unavailable):
    """The server process did not become ready in time, or died while starting."""


@dataclass
class ServerProcess:
    """One ``modelyard serve`` child process."""

    workspace: Path
    model_id: str
    version: int | None = None
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "modelyard", "serve", self.model_id, "-w", str(self.workspace)]
        if self.version is not None:
            cmd += ["--version", str(self.version)]
        return [*cmd, "--host", self.host, "--port", str(self.port)]

    def start(self) -> None:
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(
                self.command(),
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

    def wait_ready(self, timeout_s: float = 60.0) -> float:
        """Block until the server reports ready; returns the seconds it took."""
        start = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() - start < timeout_s:
                if not self.alive():
                    code = self._proc.returncode if self._proc else None
                    raise ServerNotReady(
                        f"the server for {self.model_id!r} exited with code {code} while "
                        f"starting; see {self.log_path or 'its output'}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + READY_PATH).status_code == 200:
                        return time.monotonic() - start
                time.sleep(0.1)
        raise ServerNotReady(
            f"the server for {self.model_id!r} was not ready after {timeout_s:.0f}s",
            retry_after=5,
        )

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
