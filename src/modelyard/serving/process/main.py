"""``python -m modelyard.serving SPEC.json``: a model server process from a launch spec.

The lean entry point: it reads a ``LaunchSpec`` (see ``modelyard.serving.process.launch``), verifies
the cached artifacts and serves them, without importing the CLI, MLflow or SQLAlchemy.
Exit codes: 0 after a graceful stop, 2 for a bad spec, 3 for a version not in the cache,
6 for a checksum mismatch.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelyard.errors import ConfigError, IntegrityError, NotFound
from modelyard.serving.process.arenas import limit_malloc_arenas
from modelyard.serving.process.launch import read_spec, serve_cached

_EXIT = ((ConfigError, 2), (NotFound, 3), (IntegrityError, 6))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: python -m modelyard.serving SPEC.json", file=sys.stderr)
        return 2
    limit_malloc_arenas()  # before the server's threads start
    try:
        serve_cached(read_spec(Path(argv[0])))
    except (ConfigError, NotFound, IntegrityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return next(code for kind, code in _EXIT if isinstance(exc, kind))
    return 0
