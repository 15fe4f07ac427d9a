"""Resource use of a process tree, sampled with psutil: what the local runner records for a
job and the supervisor records for a model server (the usage history of the auto-tuner)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psutil


def _tree(proc: psutil.Process) -> Iterator[psutil.Process]:
    yield proc
    with contextlib.suppress(psutil.Error):
        yield from proc.children(recursive=True)


class ProcessTreeSampler:
    """CPU (percent of one core) and RSS of a process and all its children.

    psutil's CPU figure is the time since the previous reading of the same Process object,
    so the objects are kept between readings; the first reading of a process counts 0.
    """

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self._known: dict[int, psutil.Process] = {}

    def read(self) -> tuple[float, int]:
        """(CPU percent of one core, resident bytes) summed over the tree now."""
        cpu = 0.0
        rss = 0
        alive: dict[int, psutil.Process] = {}
        for proc in _tree(self.root):
            tracked = self._known.get(proc.pid, proc)
            try:
                with tracked.oneshot():
                    rss += tracked.memory_info().rss
                    cpu += tracked.cpu_percent(None)
            except psutil.Error:
                continue
            alive[proc.pid] = tracked
        self._known = alive
        return cpu, rss
