"""Content checksums of model artifact folders.

A folder's checksum is the sha256 of a manifest listing each file's relative path and the
sha256 of its bytes, in sorted order: any change to any file, or a file added or removed,
changes it. A symbolic link is refused (:class:`ArtifactSymlink`): it could name any file on
the machine, and what it names is not covered by the checksum.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from modelyard.errors import IntegrityError

_CHUNK = 1 << 20


class ArtifactSymlink(IntegrityError):
    """An artifact folder holds a symbolic link: refused at registration and at fetch."""

    def __init__(self, path: Path, root: Path) -> None:
        super().__init__(
            f"{path} is a symbolic link inside the artifact folder {root}: model artifacts must "
            "be plain files (a link can point anywhere and escapes the checksum); copy the file "
            "it points to in its place and register again"
        )
        self.path = path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(root: Path) -> str:
    """Checksum of every regular file under ``root`` (symlinks are refused)."""
    manifest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_symlink() or not p.is_dir()):
        if path.is_symlink():
            raise ArtifactSymlink(path, root)
        rel = path.relative_to(root).as_posix()
        manifest.update(f"{rel}\0{file_sha256(path)}\n".encode())
    return manifest.hexdigest()
