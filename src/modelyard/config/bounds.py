"""The limits that keep a config file data: how big a file may be, how deep and how many
problems it reports, and the largest values a field may hold.

A config file is read by every command and by the supervisor of every running deployment, so a
hostile or mistaken file must be refused quickly and with little memory: a size cap before
parsing, no YAML aliases (the "billion laughs" expands a few lines into gigabytes), a nesting
cap, finite numbers only, and integers within what the backends accept (Kubernetes stores
replica counts and ports as int32). The values live here, in one place, so that the schema,
the loader, the server's request limits and ``docs/security.md`` agree.
"""

from __future__ import annotations

import math

INT32_MAX = 2**31 - 1
"""Largest replica count, port or count Kubernetes accepts (an int32 field)."""

MAX_FILE_BYTES = 256 * 1024
"""Largest config file read; a generous ``deploy.yaml`` is a few KiB."""

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists in a config file."""

MAX_ISSUES_PER_FILE = 20
"""Problems listed per file; the rest are summarised as "and N more"."""

MAX_DURATION_S = 366 * 86400.0
"""Longest duration a field may hold (a year): timeouts, intervals, cool-downs."""

MAX_CPU_MILLIS = 1024 * 1000
"""Largest CPU quantity (1,024 cores)."""

MAX_MEMORY_BYTES = 2**50
"""Largest memory quantity (1 PiB)."""

MAX_GPUS = 64
"""Most GPUs one job or replica may ask for."""

MAX_RATE = 1e9
"""Largest rate (requests per second) a limit or target may name."""

DEFAULT_MAX_BODY = "16Mi"
"""Default largest request body the model server reads."""

DEFAULT_MAX_ROWS = 10_000
"""Default most rows in one inference request."""


def finite(value: float, what: str) -> float:
    """``value`` if it is a finite number, else ``ValueError`` naming ``what``."""
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value
