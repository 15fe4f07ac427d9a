"""Copying a test workspace with its MLflow state, so that the copy is a workspace of its own."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

from modelyard.config import load_workspace


def copy_workspace(source: Path, target: Path) -> Path:
    """Copy a workspace with its state (not the model cache), so that the copy is a
    workspace of its own: the absolute paths MLflow keeps in its database (artifact
    locations, version sources) are rewritten from ``source`` to ``target``, as a user who
    moves a workspace on purpose would do; otherwise training in the copy is refused
    (ArtifactStoreMoved)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("cache"))
    uri = load_workspace(target).tracking_uri
    if not uri.startswith("sqlite:///"):
        return target
    old, new = str(source.resolve()), str(target.resolve())
    with contextlib.closing(sqlite3.connect(uri.removeprefix("sqlite:///"))) as db, db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in db.execute(f'PRAGMA table_info("{table}")').fetchall():
                name, kind = column[1], str(column[2]).upper()
                if any(word in kind for word in ("CHAR", "TEXT", "JSON")):
                    db.execute(
                        f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                        f'WHERE instr("{name}", ?) > 0',
                        (old, new, old),
                    )
    return target
