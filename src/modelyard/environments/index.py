"""The build record, ``.modelyard/images/index.json``: what each runtime's image was last built
and pushed as. ``render`` reads it to name a pushed digest instead of the tag.

Writes hold a lock and replace the file through a temp file, so two builds at once never
lose each other's entries and a crash never leaves half a record.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

INDEX = Path("images") / "index.json"
"""Where the record lives, under the workspace's state folder."""


@dataclass(frozen=True)
class ImageRecord:
    """One built image."""

    key: str
    """The runtime's name, with ``-notebook`` for its notebook image."""
    tag: str
    content: str
    image_id: str
    size_bytes: int
    built_at: str
    digest: str | None = None
    """``sha256:...`` of the manifest in the registry, once pushed."""


def read_index(state_dir: Path) -> dict[str, ImageRecord]:
    """Every record by key; empty when nothing was built (or the file is unreadable)."""
    try:
        raw = json.loads((state_dir / INDEX).read_text())
        return {key: ImageRecord(**value) for key, value in raw.get("images", {}).items()}
    except (OSError, ValueError, TypeError):
        return {}


def pinned_images(state_dir: Path) -> dict[str, str]:
    """Tag -> ``repository@digest`` for every pushed image: what a pod should pull."""
    return {
        record.tag: f"{record.tag.rsplit(':', 1)[0]}@{record.digest}"
        for record in read_index(state_dir).values()
        if record.digest
    }


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    path = state_dir / INDEX
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_image(state_dir: Path, record: ImageRecord) -> None:
    """Store ``record``; a record of the same tag keeps its digest unless the content moved."""
    with _locked(state_dir):
        records = read_index(state_dir)
        old = records.get(record.key)
        if (
            old is not None
            and record.digest is None
            and (old.tag, old.content) == (record.tag, record.content)
        ):
            record = replace(record, digest=old.digest)
        records[record.key] = record
        _write(state_dir, records)


def record_digest(state_dir: Path, key: str, digest: str) -> None:
    """Note that the image of ``key`` was pushed with manifest ``digest``."""
    with _locked(state_dir):
        records = read_index(state_dir)
        if key in records:
            records[key] = replace(records[key], digest=digest)
            _write(state_dir, records)


def _write(state_dir: Path, records: Mapping[str, ImageRecord]) -> None:
    path = state_dir / INDEX
    body: dict[str, Any] = {
        "images": {key: asdict(value) for key, value in sorted(records.items())}
    }
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(body, indent=2) + "\n")
    staging.replace(path)
