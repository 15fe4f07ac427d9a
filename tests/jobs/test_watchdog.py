"""A job dies with the process that started it (issue 10, row 7): after ``kill -9`` of the
parent, no process of the training script is left; a job that ends normally is left alone.

Real processes: a parent program runs a script through ``LocalRunner``; the script starts a
child of its own and prints both pids; the test kills the parent with SIGKILL and waits for
the script's processes to go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from modelyard.jobs import JobSpec, LocalRunner
from waiting import wait_until

SCRIPT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(f"pids {os.getpid()} {child.pid}", flush=True)
time.sleep(600)
"""

PARENT = """
import sys
from pathlib import Path
from modelyard.jobs import JobSpec, LocalRunner
spec = JobSpec(name="t", command=(sys.executable, sys.argv[1]), cwd=Path(sys.argv[2]),
               timeout_s=600)
LocalRunner().run(spec, on_line=lambda line: print(line, flush=True))
"""


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if _running(p)]


def test_kill_9_of_the_parent_stops_the_script_and_its_children(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    procs: list[psutil.Process] = []
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()  # the script is up, and so is its child
        assert line.startswith("pids "), line
        procs = [psutil.Process(int(pid)) for pid in line.split()[1:]]
        assert all(_running(p) for p in procs)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        # not our children (the script's parent was killed): nothing tells us when they go
        wait_until(
            lambda: not _alive(procs),
            lambda: f"the script's processes to exit; orphans left running: {_alive(procs)}",
            timeout_s=30,
            every_s=0.05,
        )
    finally:
        parent.kill()
        for proc in procs:
            if _running(proc):
                proc.kill()


def test_a_job_that_ends_normally_is_left_alone(tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    spec = JobSpec(
        name="ok",
        command=(sys.executable, "-c", "print('trained')"),
        cwd=tmp_path,
    )
    lines: list[str] = []
    result = LocalRunner().run(spec, on_line=lines.append)
    assert result.exit_code == 0
    assert result.stopped_for is None
    assert lines == ["trained"]
    # The watchdog exited with the job: nothing of the run is left behind.
    after = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert [p for p in after if _running(p)] == []


def test_the_watchdog_stops_the_group_when_its_pipe_closes_without_done(tmp_path: Path) -> None:
    from modelyard.jobs.watchdog import Watchdog

    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )
    try:
        watchdog = Watchdog(sleeper.pid, grace_s=5)
        os.close(watchdog._write)  # what the kernel does when this process dies
        assert sleeper.wait(timeout=30) == -signal.SIGTERM
        watchdog._proc.wait(timeout=30)
    finally:
        sleeper.kill()
