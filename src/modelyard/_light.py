"""Import helpers for the processes that must start fast (the CLI, its steering commands).

``import httpx`` also imports httpx's own command line (``httpx._main``: click, rich and
pygments), which is most of its import time and which modelyard never calls.
:func:`httpx_without_cli` imports httpx with that module answered by a stub (whose ``main``
says so), unless httpx is imported already.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def _no_cli(*args: object, **kwargs: object) -> None:
    raise SystemExit("httpx's command line is not loaded in this process")


def httpx_without_cli() -> Any:
    """``httpx``, imported without its command-line module."""
    loaded = sys.modules.get("httpx")
    if loaded is not None:
        return loaded
    if "httpx._main" not in sys.modules:
        stub = types.ModuleType("httpx._main")
        stub.main = _no_cli  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = stub
    import httpx

    return httpx
