"""The verified model cache's index: which version of a model lies where, with what checksum.

``Registry.fetch`` copies a version's artifacts into ``<cache>/<model>/<version>-<sha16>/``
after checking them against the checksum recorded in the registry, and records the full
checksum beside them in ``<cache>/<model>/<version>.json``. A model server reads the index
and verifies the folder again before it loads it, so it needs neither MLflow nor its database:
whatever resolved the version (the CLI, the supervisor, a Kubernetes init step) paid for that
once. The index is only a pointer; the checksum check at load is what makes it safe.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from modelyard.errors import IntegrityError, NotFound
from modelyard.registry.checksum import tree_sha256


@dataclass(frozen=True)
class CachedVersion:
    """One version's artifacts in the cache, as the index records them."""

    name: str
    version: int
    sha256: str
    path: Path

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
    fd, staging = tempfile.mkstemp(prefix=f".{version}-", suffix=".json", dir=entry.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(body, handle)
    Path(staging).replace(entry)


def lookup(cache_dir: Path, name: str, version: int) -> CachedVersion:
    """The cached version, unverified (call ``verified()``); NotFound when not recorded."""
    entry = _entry(cache_dir, name, version)
    try:
        body = json.loads(entry.read_text(encoding="utf-8"))
        return CachedVersion(
            name=name,
            version=version,
            sha256=str(body["sha256"]),
            path=entry.parent / str(body["folder"]),
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
