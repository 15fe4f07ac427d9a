"""The pool's memory as measured: this process's RSS, and handing freed memory back.

A model's share of the budget is the growth of the RSS its load caused, never a size someone
declared. After an eviction the freed heap is collected and trimmed back to the system
(glibc ``malloc_trim``), so that the RSS falls and the next load's growth is its own rather than
a reuse of the evicted model's pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

import psutil

RssReader = Callable[[], int]
Releaser = Callable[[], None]


def process_rss() -> RssReader:
    """A reader of this process's resident set size in bytes."""
    process = psutil.Process()
    return lambda: int(process.memory_info().rss)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)  # glibc only
    return trim


def freed_memory_releaser() -> Releaser:
    """Collect garbage and return the freed heap to the system, where the libc can."""
    trim = _malloc_trim()

    def release() -> None:
        gc.collect()
        if trim is not None:
            trim(0)

    return release
