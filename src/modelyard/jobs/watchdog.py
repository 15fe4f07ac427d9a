"""A watchdog that stops a job when the process that started it dies.

A local job runs in its own process group, so that it can be stopped as a whole, and so a
``kill -9`` of ``modelyard train`` would leave the script running as an orphan, with no memory
limit or timeout any more. The watchdog closes that gap: a tiny process of its own (its own
session, so that a signal to the parent's terminal or group does not reach it) holding the read
end of a pipe whose write end only the parent has. When the job ends the parent writes
``done``; when the parent dies the kernel closes the pipe, the watchdog reads end-of-file and
stops the job's process group: SIGTERM, then SIGKILL after a grace period. The job's leader
also gets ``PR_SET_PDEATHSIG`` on Linux, which covers the instant before the watchdog is up.

This file runs as a script (``python -I -S watchdog.py PGID GRACE``) and so imports only the
standard library, and ``modelyard.entry`` (standard library and ``modelyard.errors`` only) for
the edge every modelyard process has.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

DONE = b"done\n"
POLL_S = 0.05
PR_SET_PDEATHSIG = 1


class Watchdog:
    """Watches this process on behalf of the job in process group ``pgid``."""

    def __init__(self, pgid: int, grace_s: float) -> None:
        read, self._write = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", __file__, str(pgid), str(grace_s)],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except BaseException:
            os.close(self._write)
            raise
        finally:
            os.close(read)

    def release(self) -> None:
        """The job is over: let the watchdog exit without touching the group."""
        with contextlib.suppress(OSError):
            os.write(self._write, DONE)
        with contextlib.suppress(OSError):
            os.close(self._write)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)


def die_with_parent() -> None:
    """In a child between fork and exec: ask the kernel for SIGTERM when the parent dies."""
    if sys.platform != "linux":
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, grace_s: float) -> None:
    """SIGTERM to the group, then SIGKILL to whatever is left after ``grace_s`` seconds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    """Wait for ``done`` or for the parent's death; on death, stop the job's group."""
    from modelyard.entry import run_main

    return run_main(lambda: _watch(argv), prog="modelyard.watchdog")


def _watch(argv: list[str]) -> int:
    pgid, grace_s = int(argv[1]), float(argv[2])
    for name in ("SIGINT", "SIGHUP"):  # a terminal's signals are for the parent, not for us
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    try:
        said = os.read(0, len(DONE))
    except OSError:
        said = b""
    if said == DONE:
        return 0
    stop_group(pgid, grace_s)
    return 0


if __name__ == "__main__":
    # -I leaves the package's own folder off sys.path: put back the one holding modelyard
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    sys.exit(main(sys.argv))
