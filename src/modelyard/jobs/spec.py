"""A job: what to run, where, with which limits; and what came of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from modelyard.observe.usage import UsageSample

__all__ = ["JobResult", "JobSpec", "LineSink", "Runner", "UsageSample"]


@dataclass(frozen=True)
class JobSpec:
    """A command to run as a job."""

    name: str
    command: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    memory_limit_bytes: int | None = None
    """The job is stopped when its process tree's resident memory goes above this."""
    timeout_s: float | None = None
    """The job is stopped after this many seconds."""
    log_path: Path | None = None
    """Where the job's combined output is written (as well as streamed)."""
    usage_subject: str = ""
    """The subject of the job's usage samples; ``job:<name>`` when empty."""
    usage_path: Path | None = None
    """Where each recorded usage sample is appended as a JSON line while the job runs, for a
    process of the job that records them itself (the training wrapper)."""

    @property
    def subject(self) -> str:
        return self.usage_subject or f"job:{self.name}"


@dataclass(frozen=True)
class JobResult:
    """How a job ended."""

    exit_code: int
    duration_s: float
    usage: tuple[UsageSample, ...]
    log_tail: tuple[str, ...]
    stopped_for: str | None = None
    """Why modelyard stopped the job ('memory', 'timeout', 'interrupted'), or None."""
    started_at: float = 0.0
    """Unix time the job started (its usage samples carry Unix times too)."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def peak_rss_bytes(self) -> int:
        return max((s.memory_bytes for s in self.usage), default=0)


class LineSink(Protocol):
    """Receives each line of a job's output as it is produced."""

    def __call__(self, line: str) -> None: ...


class Runner(Protocol):
    """Runs a job to completion."""

    def run(self, spec: JobSpec, on_line: LineSink | None = None) -> JobResult: ...
