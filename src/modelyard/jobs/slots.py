"""How many jobs of one size fit on this machine at once.

A sweep asks for ``parallel`` trials at a time, each with the model's training resources.
Locally they share one machine, so modelyard never starts more than its CPUs and its
available memory hold: a sweep that asked for more than fits runs fewer at once, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Machine:
    """What this machine can give to jobs."""

    cpu_cores: float
    available_memory_bytes: int

    @classmethod
    def here(cls) -> Machine:
        return cls(float(psutil.cpu_count() or 1), int(psutil.virtual_memory().available))


@dataclass(frozen=True)
class Slots:
    """How many jobs run at once, and what bounded it."""

    count: int
    requested: int
    bound_by: str | None
    """``cpu`` or ``memory`` when the machine held fewer than requested, else None."""


def fit(requested: int, cpu_cores: float, memory_bytes: int, machine: Machine) -> Slots:
    """At most ``requested`` jobs of ``cpu_cores`` and ``memory_bytes`` each, within the
    machine; at least one (a job bigger than the machine runs alone, as a plain training
    would)."""
    by_cpu = int(machine.cpu_cores // cpu_cores) if cpu_cores > 0 else requested
    by_memory = (
        int(machine.available_memory_bytes // memory_bytes) if memory_bytes > 0 else requested
    )
    count = max(1, min(requested, by_cpu, by_memory))
    bound_by = None
    if count < requested:
        bound_by = "cpu" if by_cpu <= by_memory else "memory"
    return Slots(count, requested, bound_by)
