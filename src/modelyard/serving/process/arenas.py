"""Fewer glibc malloc arenas in a server process: steady-state memory is what a replica costs.

glibc gives each thread that allocates under contention an arena of its own (up to eight per
core), and memory freed in one arena is not reused by another. A server has a handful of
threads (the event loop, inference, the prediction log's writer, BLAS), so each grows its own
arena. Two arenas are enough for threads that mostly take turns on the GIL, and the server
then holds about 2 MiB less after traffic (``bench/coldstart``). ``mallopt`` is called before
any server thread exists; ``MALLOC_ARENA_MAX`` in the environment, set by an operator, wins.
Elsewhere (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import os

M_ARENA_MAX = -8
"""``mallopt`` parameter number of the arena limit (glibc's ``malloc.h``)."""
SERVER_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVER_ARENAS) -> bool:
    """Cap this process's malloc arenas; returns whether the cap was set here."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False  # glibc read it at start-up: the operator's value holds
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
