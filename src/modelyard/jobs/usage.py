"""Resource use of a process tree, sampled with psutil: what the local runner records for a
job and the supervisor records for a model server (the usage history of the auto-tuner)."""

from __future__ import annotations

import contextlib
import os

import psutil


def _has_children_files() -> bool:
    pid = os.getpid()
    return os.path.exists(f"/proc/{pid}/task/{pid}/children")


_CHILDREN_FILES = _has_children_files()
"""Linux lists each thread's children in ``/proc/PID/task/TID/children`` (CONFIG_PROC_CHILDREN,
on in Debian's and the common distributions' kernels)."""


def _children(pid: int) -> list[int]:
    """The pids of ``pid``'s children, read from its own ``/proc`` files ([] once it is gone)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as handle:
            found.extend(int(child) for child in handle.read().split())
    return found


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants, root first.

    Walks the tree's own ``/proc`` files where the kernel has them: psutil's
    ``children(recursive=True)`` reads the stat file of every process on the machine, so a
    sampler that calls it four times a second costs more the busier the machine (about 1 ms a
    walk at 70 processes, several at a few hundred), for each job and server watched."""
    if not _CHILDREN_FILES:
        with contextlib.suppress(psutil.Error):
            return [root, *(p.pid for p in psutil.Process(root).children(recursive=True))]
        return [root]
    found, pending = [root], [root]
    while pending:
        children = _children(pending.pop())
        found.extend(children)
        pending.extend(children)
    return found


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
        for pid in tree_pids(self.root.pid):
            try:
                tracked = self._known.get(pid) or (
                    self.root if pid == self.root.pid else psutil.Process(pid)
                )
                with tracked.oneshot():
                    rss += tracked.memory_info().rss
                    cpu += tracked.cpu_percent(None)
            except psutil.Error:
                continue
            alive[pid] = tracked
        self._known = alive
        return cpu, rss
