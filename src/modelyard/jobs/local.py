"""The local runner: a job as a subprocess, watched every second.

The output is streamed line by line to the caller and to the log file; the process tree's CPU
and memory are sampled (psutil) once a second for the usage record and four times a second
for the memory limit, so a job that runs away is stopped before it takes the machine with it.
A watchdog process stops the job's whole process group if this process dies first (``kill -9``
of ``modelyard train``), so no script is left running without its limits (``watchdog.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections import deque
from typing import IO

import psutil

from modelyard.jobs.spec import JobResult, JobSpec, LineSink, UsageSample
from modelyard.jobs.usage import ProcessTreeSampler
from modelyard.jobs.watchdog import Watchdog, die_with_parent

CHECK_EVERY_S = 0.25
SAMPLE_EVERY_S = 1.0
TAIL_LINES = 40
GRACE_S = 3.0


def _kill_tree(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class _UsageRecord:
    """The samples kept for the record, also appended to ``spec.usage_path`` when set."""

    def __init__(self, spec: JobSpec) -> None:
        self.samples: list[UsageSample] = []
        self._file: IO[str] | None = (
            spec.usage_path.open("a", encoding="utf-8") if spec.usage_path else None
        )

    def append(self, sample: UsageSample) -> None:
        self.samples.append(sample)
        if self._file is not None:
            self._file.write(json.dumps([sample.at, sample.cpu_cores, sample.memory_bytes]) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class LocalRunner:
    """Runs jobs as local subprocesses, each in its own process group."""

    def run(self, spec: JobSpec, on_line: LineSink | None = None) -> JobResult:
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
        start = time.monotonic()
        log = spec.log_path.open("a", encoding="utf-8") if spec.log_path else None
        proc = subprocess.Popen(
            list(spec.command),
            cwd=spec.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
            preexec_fn=die_with_parent,  # until the watchdog below is up
        )
        try:
            watchdog = Watchdog(proc.pid, GRACE_S)
        except BaseException:
            _kill_tree(proc)
            raise

        def pump() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                tail.append(line)
                if log is not None:
                    log.write(raw)
                    log.flush()
                if on_line is not None:
                    on_line(line)

        reader = threading.Thread(target=pump, name=f"job-{spec.name}-log", daemon=True)
        reader.start()
        usage = _UsageRecord(spec)
        wall_start = time.time() - (time.monotonic() - start)
        stopped_for: str | None = None
        try:
            stopped_for = self._watch(proc, spec, start, usage)
        except KeyboardInterrupt:
            stopped_for = "interrupted"
            _kill_tree(proc)
        except BaseException:
            _kill_tree(proc)
            raise
        finally:
            watchdog.release()
            reader.join(timeout=5)
            usage.close()
            if log is not None:
                log.close()
        code = proc.returncode if proc.returncode is not None else proc.wait()
        return JobResult(
            exit_code=code,
            duration_s=time.monotonic() - start,
            usage=tuple(usage.samples),
            log_tail=tuple(tail),
            stopped_for=stopped_for,
            started_at=wall_start,
        )

    def _watch(
        self, proc: subprocess.Popen[str], spec: JobSpec, start: float, usage: _UsageRecord
    ) -> str | None:
        try:
            sampler: ProcessTreeSampler | None = ProcessTreeSampler(proc.pid)
        except psutil.Error:
            sampler = None
        next_sample = start
        while proc.poll() is None:
            now = time.monotonic()
            if sampler is not None:
                cpu_percent, rss = sampler.read()
                sample = UsageSample(spec.subject, time.time(), cpu_percent / 100, rss)
                if now >= next_sample:
                    usage.append(sample)
                    next_sample += SAMPLE_EVERY_S
                if spec.memory_limit_bytes is not None and rss > spec.memory_limit_bytes:
                    usage.append(sample)
                    _kill_tree(proc)
                    return "memory"
            if spec.timeout_s is not None and now - start > spec.timeout_s:
                _kill_tree(proc)
                return "timeout"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(CHECK_EVERY_S)
        return None
