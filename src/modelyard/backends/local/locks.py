"""Advisory file locks between the processes of the local backend (fcntl ``flock``).

Two per deployment, under ``.modelyard/run/``: the *supervisor* lock, held for a supervisor's
whole life (so "is one running?" is "is the lock taken?", immune to reused pids), and the
*rollout* lock, held while one process commits a rollout transition and carries out its
actions, so a CLI command and the supervisor never interleave their steps on one server.
The kernel drops a lock when its holder dies, even by SIGKILL. A lock's file name is built
from a checked :class:`~modelyard.config.ids.ModelId`, so it never lands outside ``run/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from modelyard.config.ids import parse_model_id
from modelyard.errors import Unavailable


class LockTimeout(Unavailable):
    """Another process held a deployment's lock for too long."""


class FileLock:
    """An exclusive lock on ``path`` (created if missing); not reentrant."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds (``None``: forever, 0: not at all)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.01)
                continue
            self._fd = fd
            return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def write(self, text: str) -> None:
        """Replace the lock file's content (e.g. the holder's pid) while holding it."""
        if self._fd is None:
            raise RuntimeError("write() needs the lock held")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode(), 0)

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock now."""
        if self._fd is not None:
            return False
        if not self.acquire(timeout=0):
            return True
        self.release()
        return False

    @contextlib.contextmanager
    def hold(self, timeout: float = 60.0) -> Iterator[None]:
        if not self.acquire(timeout):
            raise LockTimeout(f"{self.path} stayed locked for {timeout:.0f}s; try again", 1.0)
        try:
            yield
        finally:
            self.release()


def run_dir(state_dir: Path) -> Path:
    return state_dir / "run"


def rollout_lock(state_dir: Path, model_id: str) -> FileLock:
    """Held while a rollout transition is committed and carried out."""
    return FileLock(run_dir(state_dir) / f"{parse_model_id(model_id)}.rollout.lock")


def supervisor_lock(state_dir: Path, model_id: str) -> FileLock:
    """Held by the supervisor of ``model_id`` while it runs; its content is the pid."""
    return FileLock(run_dir(state_dir) / f"{parse_model_id(model_id)}.supervisor.lock")
