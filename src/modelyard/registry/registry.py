"""Model versions and aliases on the MLflow Model Registry, with verified fetches.

Registering records the sha256 of the artifact folder as a version tag in the same call that
creates the version, so a version never exists without its checksum. Fetching copies the
artifacts into the workspace cache and refuses them if their checksum differs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from modelyard.config import ModelEntry, Workspace
from modelyard.errors import IntegrityError, NotFound
from modelyard.registry import cache
from modelyard.registry.checksum import tree_sha256
from modelyard.tracking import StoreAccess, Tracking, VersionRecord

SHA_TAG = "modelyard.sha256"
CONFIG_HASH_TAG = "modelyard.config_hash"
GIT_COMMIT_TAG = "modelyard.git_commit"
RUN_TAG = "modelyard.run_id"


@dataclass(frozen=True)
class ModelVersion:
    """A registered version of a model."""

    name: str
    version: int
    sha256: str
    run_id: str | None
    source: str
    tags: Mapping[str, str]
    aliases: tuple[str, ...]
    created: float

    @property
    def config_hash(self) -> str | None:
        return self.tags.get(CONFIG_HASH_TAG)

    @property
    def git_commit(self) -> str | None:
        return self.tags.get(GIT_COMMIT_TAG)


@dataclass(frozen=True)
class FetchedModel:
    """A version's artifacts on local disk, checksum verified."""

    version: ModelVersion
    path: Path


def _local_path(source: str) -> Path | None:
    parsed = urlparse(source)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else source)
    return None


def _as_version(record: VersionRecord) -> ModelVersion:
    sha = record.tags.get(SHA_TAG)
    if not sha:
        raise IntegrityError(
            f"version {record.version} of {record.name!r} has no recorded checksum "
            f"(tag {SHA_TAG}); it was not registered by modelyard and will not be loaded"
        )
    return ModelVersion(
        name=record.name,
        version=record.version,
        sha256=sha,
        run_id=record.run_id,
        source=record.source,
        tags=record.tags,
        aliases=record.aliases,
        created=record.created,
    )


PRODUCTION_ALIAS = "production"
"""The registry alias of the version serving all traffic; backends move it, the gate reads it."""


class Registry:
    """The model registry of one workspace."""

    def __init__(self, tracking: Tracking, cache_dir: Path) -> None:
        self.tracking = tracking
        self.cache_dir = cache_dir

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> Registry:
        tracking = Tracking(
            workspace.tracking_uri, workspace.artifact_store, StoreAccess.of(workspace)
        )
        return cls(tracking, cache.cache_dir_for(workspace.state_dir))

    def register(
        self,
        entry: ModelEntry,
        run_id: str,
        source: str,
        model_id: str | None,
        extra_tags: Mapping[str, str],
    ) -> ModelVersion:
        """Register the artifacts at ``source`` as the next version of ``entry``'s model."""
        sha = self._checksum_of(source)
        spec = entry.spec
        self.tracking.ensure_registered_model(
            spec.id,
            tags={"team": spec.owner.team, "dri": spec.owner.dri, "framework": spec.framework},
            description=spec.description,
        )
        tags = {SHA_TAG: sha, CONFIG_HASH_TAG: entry.config_hash, RUN_TAG: run_id, **extra_tags}
        record = self.tracking.create_version(
            spec.id, source, run_id, model_id, tags, description=f"trained by run {run_id}"
        )
        return _as_version(record)

    def _checksum_of(self, source: str) -> str:
        local = _local_path(source)
        if local is not None:
            if not local.is_dir():
                raise NotFound(f"model artifacts at {source} do not exist")
            return tree_sha256(local)
        with tempfile.TemporaryDirectory() as tmp:
            return tree_sha256(self.tracking.download(source, Path(tmp)))

    def versions(self, name: str) -> list[ModelVersion]:
        return [_as_version(r) for r in self.tracking.versions(name)]

    def resolve(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        """The version asked for: a number, an alias, or else the newest."""
        if version is not None:
            return _as_version(self.tracking.get_version(name, version))
        if alias is not None:
            return _as_version(self.tracking.get_version_by_alias(name, alias))
        records = self.tracking.versions(name)
        if not records:
            raise NotFound(
                f"model {name!r} has no registered version; run 'modelyard train {name}' first"
            )
        return _as_version(records[-1])

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.tracking.set_alias(name, alias, version)

    def production(self, name: str) -> ModelVersion | None:
        """The version the ``production`` alias names (what serves now), if any."""
        try:
            return self.resolve(name, alias=PRODUCTION_ALIAS)
        except NotFound:
            return None

    def mark_production(self, name: str, version: int | str) -> None:
        """Point the ``production`` alias at ``version``: it is the one serving all traffic.

        Every backend calls this when a version becomes the primary (first deploy, promotion,
        rollback), so the training gate compares with the same version on every backend.
        """
        self.tracking.set_alias(name, PRODUCTION_ALIAS, int(version))

    def fetch(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> FetchedModel:
        """Copy a version's artifacts into the cache and verify their checksum."""
        mv = self.resolve(name, version, alias)
        target = self.cache_dir / name / f"{mv.version}-{mv.sha256[:16]}"
        if target.is_dir():
            if tree_sha256(target) == mv.sha256:
                cache.record(self.cache_dir, name, mv.version, mv.sha256, target)
                return FetchedModel(mv, target)
            shutil.rmtree(target)  # the cached copy was changed: fetch it again
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-{mv.version}-", dir=self.cache_dir))
        try:
            local = _local_path(mv.source)
            if local is not None:
                if not local.is_dir():
                    raise NotFound(f"artifacts of {name!r} version {mv.version} are gone: {local}")
                fetched = staging / "model"
                shutil.copytree(local, fetched, symlinks=True)
            else:
                fetched = self.tracking.download(mv.source, staging)
            actual = tree_sha256(fetched)
            if actual != mv.sha256:
                raise IntegrityError(
                    f"artifacts of {name!r} version {mv.version} do not match their checksum "
                    f"(recorded {mv.sha256[:12]}…, found {actual[:12]}…): they were changed "
                    "after registration; refusing to load them"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                fetched.rename(target)
            except OSError:
                if not (target.is_dir() and tree_sha256(target) == mv.sha256):
                    raise  # not a concurrent fetch of the same version that won the race
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        cache.record(self.cache_dir, name, mv.version, mv.sha256, target)
        return FetchedModel(mv, target)
