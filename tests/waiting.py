"""One way for a test to wait on another process's state: poll a check until it holds, and fail
(never pass silently) at the deadline. Use it only where the other side tells nothing when its
state changes (a supervisor's alias move, a log line written by another process)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T], what: str, timeout_s: float = 90.0, every_s: float = 0.1
) -> T:
    """The first truthy value of ``check()``; an ``AssertionError`` naming ``what`` at the
    deadline."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(every_s)
    return found
