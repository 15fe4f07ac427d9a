"""The verified model cache's index: which version of a model lies where, with what checksum.

``Registry.fetch`` copies a version's artifacts into ``<cache>/<model>/<version>-<sha16>/``
after checking them against the checksum recorded in the registry, and records the full
checksum beside them in ``<cache>/<model>/<version>.json``. A model server reads the index
and verifies the folder again before it loads it, so it needs neither MLflow nor its database:
whatever resolved the version (the CLI, the supervisor, a Kubernetes init step) paid for that
once. The index is only a pointer; the checksum check at load is what makes it safe.

An entry may also name a *fast-load copy*: a server that loaded a skops file (safely, with its
trusted-type list) writes the estimator back as a pickle beside the folder, with that file's
checksum and a key of the libraries that wrote it (``serving.runtimes.sklearn``). A later
server with the same key loads the pickle, after checking its checksum, instead of importing skops
(which imports much of scikit-learn). Re-fetching a version drops the copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from modelyard.errors import IntegrityError, NotFound
from modelyard.registry.checksum import tree_sha256


@dataclass(frozen=True)
class FastLoad:
    """A fast-loading copy of a cached version's estimator, as the index records it."""

    file: Path
    sha256: str
    key: str
    """The format and library versions that wrote it; a reader with another key ignores it."""


@dataclass(frozen=True)
class CachedVersion:
    """One version's artifacts in the cache, as the index records them."""

    name: str
    version: int
    sha256: str
    path: Path
    fastload: FastLoad | None = None

    def fastload_bytes(self, key: str) -> bytes | None:
        """The fast-load copy written under ``key``, checksum verified; None when there is
        none for this key, or when it does not match its checksum (then the caller loads
        the artifacts themselves, and may write a fresh copy)."""
        found = self.fastload
        if found is None or found.key != key:
            return None
        try:
            data = found.file.read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == found.sha256 else None

    def verified(self) -> Path:
        """The artifact folder, after checking its checksum against the recorded one."""
        if not self.path.is_dir():
            raise NotFound(
                f"version {self.version} of {self.name!r} is not in the model cache "
                f"({self.path}); fetch it again"
            )
        try:
            actual = tree_sha256(self.path)
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"cannot checksum {self.path}: {exc}") from exc
        if actual != self.sha256:
            raise IntegrityError(
                f"cached artifacts of {self.name!r} version {self.version} do not match their "
                f"checksum (recorded {self.sha256[:12]}…, found {actual[:12]}…); refusing to "
                "load them: fetch the version again"
            )
        return self.path


def cache_dir_for(state_dir: Path) -> Path:
    """The model cache of the workspace whose state folder is ``state_dir``."""
    return state_dir / "cache" / "models"


def has(cache_dir: Path, name: str, version: int) -> bool:
    """Whether the index records ``name`` version ``version`` (unverified: a quick look)."""
    return _entry(cache_dir, name, version).is_file()


def _entry(cache_dir: Path, name: str, version: int) -> Path:
    return cache_dir / name / f"{version}.json"


def record(cache_dir: Path, name: str, version: int, sha256: str, path: Path) -> None:
    """Record (atomically) that ``path`` holds ``name`` version ``version`` with ``sha256``."""
    entry = _entry(cache_dir, name, version)
    entry.parent.mkdir(parents=True, exist_ok=True)
    body = {"name": name, "version": version, "sha256": sha256, "folder": path.name}
    _replace(entry, json.dumps(body).encode())


def record_fastload(cached: CachedVersion, cache_dir: Path, key: str, data: bytes) -> None:
    """Write ``data`` as the fast-load copy of ``cached`` under ``key`` and name it in the
    index entry (each file atomically; the entry is left alone if it no longer points at
    ``cached``'s folder, e.g. after a re-fetch)."""
    entry = _entry(cache_dir, cached.name, cached.version)
    file = cached.path.parent / f"{cached.path.name}.fastload"
    _replace(file, data)
    now = lookup(cache_dir, cached.name, cached.version)
    if (now.path, now.sha256) != (cached.path, cached.sha256):
        return
    body = {
        "name": cached.name,
        "version": cached.version,
        "sha256": cached.sha256,
        "folder": cached.path.name,
        "fastload": {"file": file.name, "sha256": hashlib.sha256(data).hexdigest(), "key": key},
    }
    _replace(entry, json.dumps(body).encode())


def _replace(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (a temporary file beside it, then rename)."""
    fd, staging = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(staging).replace(target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def lookup(cache_dir: Path, name: str, version: int) -> CachedVersion:
    """The cached version, unverified (call ``verified()``); NotFound when not recorded."""
    entry = _entry(cache_dir, name, version)
    try:
        body = json.loads(entry.read_text(encoding="utf-8"))
        fast = body.get("fastload")
        return CachedVersion(
            name=name,
            version=version,
            sha256=str(body["sha256"]),
            path=entry.parent / str(body["folder"]),
            fastload=None
            if fast is None
            else FastLoad(
                entry.parent / Path(str(fast["file"])).name, str(fast["sha256"]), str(fast["key"])
            ),
        )
    except FileNotFoundError as exc:
        raise NotFound(
            f"version {version} of {name!r} is not in the model cache {cache_dir}; "
            f"fetch it first (for example with 'modelyard serve {name} --version {version}')"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{entry}: unreadable cache index entry: {exc}") from exc


def cached_versions(cache_dir: Path, name: str) -> list[int]:
    """The versions of ``name`` the index records, ascending."""
    folder = cache_dir / name
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())
