"""Content checksums of model artifact folders.

A folder's checksum is the sha256 of a manifest listing each file's relative path and the
sha256 of its bytes, in sorted order: any change to any file, or a file added or removed,
changes it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(root: Path) -> str:
    """Checksum of every regular file under ``root`` (symlinks are refused)."""
    manifest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if not p.is_dir()):
        if path.is_symlink():
            raise ValueError(f"{path} is a symbolic link; model artifacts must be plain files")
        rel = path.relative_to(root).as_posix()
        manifest.update(f"{rel}\0{file_sha256(path)}\n".encode())
    return manifest.hexdigest()
