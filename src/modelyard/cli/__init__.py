"""The ``modelyard`` command: a thin typer face over the workflows.

Each command parses, loads the workspace, calls one function and maps the result to output
and an exit code. Commands live in small modules that each add theirs to :data:`app`.
"""

from __future__ import annotations

from modelyard.cli.app import app, main

__all__ = ["app", "main"]
