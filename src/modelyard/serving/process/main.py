"""``python -m modelyard.serving SPEC.json``: a model (or pool) server process from a launch spec.

The lean entry point: it reads a ``LaunchSpec`` (see ``modelyard.serving.process.launch``), verifies
the cached artifacts and serves them, without importing the CLI, MLflow or SQLAlchemy.
Exit codes: 0 after a graceful stop, 2 for a usage error, otherwise the exit code of the error
that stopped it (``modelyard.entry.run_main``): 2 for a bad spec, 3 for a version not in the
cache, 6 for a checksum mismatch, 1 for anything unexpected (its traceback in the log).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from modelyard.entry import run_main
from modelyard.serving.process.arenas import limit_malloc_arenas
from modelyard.serving.process.launch import read_spec, serve_cached
from modelyard.serving.process.pool_launch import is_pool_spec, read_pool_spec, serve_pool_cached


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: python -m modelyard.serving SPEC.json", file=sys.stderr)
        return 2
    limit_malloc_arenas()  # before the server's threads start
    return run_main(lambda: _serve(Path(argv[0])), prog="modelyard.serving")


def _serve(path: Path) -> None:
    if is_pool_spec(_peek(path)):
        serve_pool_cached(read_pool_spec(path))
    else:
        serve_cached(read_spec(path))


def _peek(path: Path) -> dict[str, Any]:
    """The spec's JSON object, to tell a pool's from a model's ({} when unreadable: the
    model spec's reader then says what is wrong)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}
