"""The detached scheduler process that ``modelyard up`` starts for models with a schedule.

``modelyard up`` runs the pipelines that are due at once (:func:`run_due_pipelines`); later
fire times need something that keeps ticking after the command returns. That is this process:
one per workspace (a file lock under ``.modelyard/run/`` says whether it runs, immune to reused
pids), ticking :class:`~modelyard.pipelines.scheduler.Scheduler` until SIGTERM, which
``modelyard down`` sends. Its log is ``.modelyard/logs/scheduler.log``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from modelyard.backends.local.locks import FileLock, run_dir
from modelyard.config import Workspace, load_workspace
from modelyard.entry import run_main
from modelyard.errors import Unavailable
from modelyard.pipelines.scheduler import start_scheduler


def scheduler_lock(workspace: Workspace) -> FileLock:
    """Held by the workspace's scheduler process while it runs; its content is the pid."""
    return FileLock(run_dir(workspace.state_dir) / "scheduler.lock")


def scheduler_running(workspace: Workspace) -> bool:
    return scheduler_lock(workspace).held_elsewhere()


def start_daemon(workspace: Workspace, interval_s: float = 30.0, wait_s: float = 30.0) -> bool:
    """Start the scheduler process, detached, unless one runs; True when this call started it."""
    if scheduler_running(workspace):
        return False
    logs = workspace.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "modelyard.pipelines.daemon", str(workspace.root)]
    with (logs / "scheduler.log").open("ab") as log:
        subprocess.Popen(
            [*command, "--interval", str(interval_s)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + wait_s
    while not scheduler_running(workspace):
        if time.monotonic() > deadline:
            raise Unavailable(f"the pipeline scheduler did not start; see {logs}", 5.0)
        time.sleep(0.05)
    return True


def stop_daemon(workspace: Workspace, timeout_s: float = 60.0) -> bool:
    """SIGTERM the scheduler process and wait for it to end; True when one was running."""
    lock = scheduler_lock(workspace)
    if not lock.held_elsewhere():
        return False
    pid = int(lock.path.read_text() or 0)
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
    deadline = time.monotonic() + timeout_s
    while lock.held_elsewhere():
        if time.monotonic() > deadline:
            raise Unavailable(f"the pipeline scheduler (pid {pid}) did not stop", 5.0)
        time.sleep(0.05)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Tick the workspace's schedules until SIGTERM; exits at once if another one runs."""
    return run_main(lambda: _main(argv), prog="modelyard.scheduler")


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="modelyard.pipelines.daemon")
    parser.add_argument("workspace")
    parser.add_argument("--interval", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    workspace = load_workspace(args.workspace)
    lock = scheduler_lock(workspace)
    if not lock.acquire(timeout=0):
        return 0
    lock.write(str(os.getpid()))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = start_scheduler(workspace, stop, args.interval)
    logging.info("scheduler of %s started (every %gs)", workspace.root, args.interval)
    stop.wait()
    thread.join(timeout=600)
    lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
