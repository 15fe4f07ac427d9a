"""One way for a test to wait on another process's state: poll a check until it holds, and fail
(never pass silently) at the deadline. Use it only where the other side tells nothing when its
state changes (a supervisor's alias move, a log line written by another process, a server
coming up); where it does (a thread's event, a condition, a process's exit), wait on that.

``tests/test_no_hand_polling.py`` keeps this the only sleeping poll loop under tests/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    what: str | Callable[[], str],
    timeout_s: float = 90.0,
    every_s: float = 0.1,
) -> T:
    """The first truthy value of ``check()``; an ``AssertionError`` naming ``what`` at the
    deadline. ``what`` may be a function, called then, to say what was last seen.

    ``check`` may raise to fail at once (the server it waits for has exited, say)."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {said}")
        time.sleep(every_s)
    return found
