"""The pool's memory as measured: this process's RSS, and handing freed memory back.

A model's share of the budget is the growth of the RSS its load caused, never a size someone
declared. After an eviction the freed heap is trimmed back to the system (glibc
``malloc_trim``), so that the RSS falls and the next load's growth is its own rather than
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
    """Return the freed heap to the system, where the libc can.

    No full ``gc.collect()``: reference counting frees an unloaded estimator (they hold no
    cycles), and a full collection over scikit-learn's objects cost 0.1-3 s, on the path of the
    request that waits for the load. The young generation is collected, which is cheap.
    """
    trim = _malloc_trim()

    def release() -> None:
        gc.collect(0)
        if trim is not None:
            trim(0)

    return release
