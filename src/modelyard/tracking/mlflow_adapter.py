"""The only module that imports mlflow: runs, params, metrics, logged models and the registry.

MLflow is modelyard's tracking server and model registry. Everything above this module speaks
in modelyard's own small types; MLflow's exceptions are translated here, once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import (
    ConfigError,
    Conflict,
    NotFound,
    Refused,
    TaskFailed,
    Unavailable,
)
from modelyard.tracking import sqlite_store
from modelyard.tracking.stores import CREDENTIALS_VAR, ENDPOINT_VAR, REGION_VAR, StoreAccess

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


class TrackingError(Unavailable):
    """The tracking server or registry failed for now (down, overloaded, an internal error);
    trying again later may work. The message carries MLflow's own words."""


class TrackingRefused(Refused):
    """MLflow refused the request for good (a bad value, no permission): retrying won't help."""


NO_TELEMETRY_VAR = "MLFLOW_DISABLE_TELEMETRY"

_TRANSIENT_CODES = frozenset(
    {"TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR", "REQUEST_LIMIT_EXCEEDED", "ABORTED"}
)
"""MLflow error codes that mean "try again"; every other code is a permanent refusal."""


class ArtifactStoreMoved(ConfigError):
    """The tracking database records an artifact location outside this workspace's store:
    the workspace was copied or moved together with its ``.modelyard/``."""


def _same_location(recorded: str, expected: str) -> bool:
    if ("://" in expected or expected.startswith("mlflow-artifacts:")) and not expected.startswith(
        "file://"
    ):
        return recorded.rstrip("/") == expected.rstrip("/")
    local = recorded.removeprefix("file://")
    return Path(local).resolve() == Path(expected.removeprefix("file://")).resolve()


@dataclass(frozen=True)
class RunRecord:
    """What modelyard reads back from an MLflow run."""

    run_id: str
    experiment_id: str
    status: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    start_time: float | None
    end_time: float | None


@dataclass(frozen=True)
class LoggedModelRef:
    """A model a run logged: its id and where its artifacts are."""

    model_id: str
    name: str
    artifact_location: str


@dataclass(frozen=True)
class VersionRecord:
    """A registered model version."""

    name: str
    version: int
    source: str
    run_id: str | None
    tags: Mapping[str, str]
    aliases: tuple[str, ...]
    created: float


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        if code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc.message).lower():
            raise NotFound(f"{what}: {exc.message}") from exc
        if code == "RESOURCE_ALREADY_EXISTS":
            raise Conflict(f"{what}: {exc.message}") from exc
        if code in _TRANSIENT_CODES:
            raise TrackingError(f"{what} failed in MLflow: {exc.message}", 5.0) from exc
        raise TrackingRefused(f"{what}: MLflow refused it ({code}): {exc.message}") from exc


def _run(run: Any) -> RunRecord:
    return RunRecord(
        run_id=run.info.run_id,
        experiment_id=run.info.experiment_id,
        status=run.info.status,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        start_time=(run.info.start_time or 0) / 1000 or None,
        end_time=(run.info.end_time or 0) / 1000 or None,
    )


def _version(mv: Any) -> VersionRecord:
    return VersionRecord(
        name=mv.name,
        version=int(mv.version),
        source=mv.source,
        run_id=mv.run_id,
        tags=dict(mv.tags or {}),
        aliases=tuple(mv.aliases or ()),
        created=(mv.creation_timestamp or 0) / 1000,
    )


class _RetryingClient:
    """An ``MlflowClient`` whose calls are tried again while SQLite says "database is locked".

    With WAL and ``BEGIN IMMEDIATE`` (``sqlite_store``) a writer waits for the lock; this is
    for the rare wait past the busy timeout, which MLflow reports and never retries. A locked
    transaction was rolled back, so the call is safe to repeat.
    """

    ATTEMPTS = 6

    def __init__(self, client: MlflowClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._client, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(self.ATTEMPTS):
                try:
                    return found(*args, **kwargs)
                except Exception as exc:
                    if attempt + 1 == self.ATTEMPTS or not sqlite_store.is_locked(exc):
                        raise
                    time.sleep(0.05 * 2**attempt)
            raise AssertionError("unreachable")

        return call


class Tracking:
    """MLflow tracking and registry for one workspace (a tracking URI and an artifact root)."""

    def __init__(
        self, tracking_uri: str, artifact_root: str, access: StoreAccess | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.access = access or StoreAccess()
        """The S3 endpoint and credentials file; set in this process before MLflow runs."""
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            # MLflow 3 reports usage to its makers over the network unless told not to; a
            # modelyard process reaches nothing but its own stores. Set before the import
            # (read then), inherited by the training script and what it starts; an explicit
            # value of the user's stays.
            os.environ.setdefault(NO_TELEMETRY_VAR, "true")
            from mlflow.tracking import MlflowClient

            # MLflow's INFO lines (database migrations, run links) are noise on a terminal.
            for name in ("mlflow", "alembic"):
                logging.getLogger(name).setLevel(logging.WARNING)
            # MLflow's S3 client reads its endpoint from the environment.
            self.access.apply(self.artifact_root)
            database = sqlite_store.sqlite_path(self.tracking_uri)
            if database is None:
                client = MlflowClient(
                    tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
                )
            else:
                # Many processes share the file: one creates and migrates it (under the
                # lock), each waits for the write lock instead of failing on it.
                sqlite_store.install()
                with sqlite_store.schema_lock(database):
                    client = MlflowClient(
                        tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
                    )
                client = _RetryingClient(client)  # type: ignore[assignment]  # same calls
            self._client = client
            return client
        return self._client

    # ------------------------------------------------------------------ runs

    def experiment_id(self, name: str) -> str:
        """The experiment named ``name`` (one per model), created on first use."""
        with _translated(f"experiment {name!r}"):
            found = self.client.get_experiment_by_name(name)
            location = self.artifact_root.rstrip("/") + f"/{name}"
            if found is None:
                found = self._create_experiment(name, location)
        # MLflow stores the location as an absolute path: in a copied or moved workspace it
        # still names the original's folder, and new runs would write there.
        if not _same_location(str(found.artifact_location), location):
            raise ArtifactStoreMoved(
                f"experiment {name!r} in {self.tracking_uri} keeps its artifacts in "
                f"{found.artifact_location}, outside this workspace's artifact store "
                f"{location}: the workspace was copied or moved with its tracking database, "
                f"and new runs would write into {found.artifact_location}. To start a fresh "
                "history here, move the tracking database (.modelyard/mlflow.db) aside; to "
                "keep writing there on purpose, set artifact_store in modelyard.yaml to "
                "that folder's parent."
            )
        return str(found.experiment_id)

    def _create_experiment(self, name: str, location: str) -> Any:
        """Create the experiment, or read the one a concurrent process just created."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_experiment(name, artifact_location=location)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
        return self.client.get_experiment_by_name(name)

    def start_run(
        self, experiment_id: str, params: Mapping[str, object], tags: Mapping[str, str]
    ) -> str:
        """Create a run with its params and tags; returns the run id."""
        from mlflow.entities import Param, RunTag

        with _translated("start run"):
            run = self.client.create_run(experiment_id, tags=dict(tags))
            run_id = str(run.info.run_id)
            self.client.log_batch(
                run_id,
                params=[Param(k, str(v)) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
        return run_id

    def run_env(self, run_id: str, experiment_id: str) -> dict[str, str]:
        """Environment a training script needs so that its ``mlflow`` calls land in the run."""
        return {
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLFLOW_REGISTRY_URI": self.tracking_uri,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": experiment_id,
            # Where the S3 store is and which file holds its keys (paths, never the keys).
            **{
                k: os.environ[k]
                for k in (ENDPOINT_VAR, REGION_VAR, CREDENTIALS_VAR)
                if k in os.environ
            },
        }

    def log_series(self, run_id: str, series: Mapping[str, Sequence[tuple[float, float]]]) -> None:
        """Log metric series: name -> [(seconds since start, value), ...]."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(name, value, now, int(step))
            for name, points in series.items()
            for step, value in points
        ]
        with _translated("log metrics"):
            for start in range(0, len(metrics), 900):
                self.client.log_batch(run_id, metrics=metrics[start : start + 900])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        self.log_series(run_id, {k: [(0, v)] for k, v in metrics.items()})

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        with _translated("set tags"):
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_artifact(self, run_id: str, path: Path, folder: str | None = None) -> None:
        with _translated("log artifact"):
            self.client.log_artifact(run_id, str(path), artifact_path=folder)

    def finish_run(self, run_id: str, ok: bool) -> None:
        with _translated("finish run"):
            self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")

    def get_run(self, run_id: str) -> RunRecord:
        with _translated(f"run {run_id}"):
            return _run(self.client.get_run(run_id))

    def runs(self, experiment_name: str, limit: int = 50) -> list[RunRecord]:
        """The newest runs of an experiment (one per model), newest first."""
        with _translated(f"runs of {experiment_name!r}"):
            found = self.client.get_experiment_by_name(experiment_name)
            if found is None:
                return []
            runs = self.client.search_runs(
                [found.experiment_id], max_results=limit, order_by=["attributes.start_time DESC"]
            )
        return [_run(run) for run in runs]

    def logged_model(self, experiment_id: str, run_id: str) -> LoggedModelRef | None:
        """The model the run logged (the newest if several), or None."""
        with _translated("search logged models"):
            found = self.client.search_logged_models(
                experiment_ids=[experiment_id],
                filter_string=f"source_run_id = '{run_id}'",
                order_by=[{"field_name": "creation_timestamp", "ascending": False}],
            )
        if not found:
            return None
        model = found[0]
        return LoggedModelRef(model.model_id, model.name, model.artifact_location)

    def runs_with_logged_models(self, experiment_id: str) -> set[str]:
        """The ids of the experiment's runs that logged at least one model."""
        with _translated("search logged models"):
            found = self.client.search_logged_models(experiment_ids=[experiment_id])
        return {str(m.source_run_id) for m in found if m.source_run_id}

    # ------------------------------------------------------------------ registry

    def ensure_registered_model(self, name: str, tags: Mapping[str, str], description: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name, tags=dict(tags), description=description)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                with _translated(f"register model {name!r}"):
                    raise
            with _translated(f"model {name!r}"):
                for key, value in tags.items():
                    self.client.set_registered_model_tag(name, key, value)

    def create_version(
        self,
        name: str,
        source: str,
        run_id: str,
        model_id: str | None,
        tags: Mapping[str, str],
        description: str,
    ) -> VersionRecord:
        """Register a version with all its tags in one call (one transaction in the store)."""
        with _translated(f"register a version of {name!r}"):
            mv = self.client.create_model_version(
                name,
                source=source,
                run_id=run_id,
                tags=dict(tags),
                description=description,
                model_id=model_id,
            )
        return _version(mv)

    def get_version(self, name: str, version: int) -> VersionRecord:
        with _translated(f"version {version} of model {name!r}"):
            return _version(self.client.get_model_version(name, str(version)))

    def get_version_by_alias(self, name: str, alias: str) -> VersionRecord:
        with _translated(f"alias {alias!r} of model {name!r}"):
            return _version(self.client.get_model_version_by_alias(name, alias))

    def versions(self, name: str) -> list[VersionRecord]:
        """Every version of ``name``, oldest first; empty when the model is not registered."""
        with _translated(f"versions of {name!r}"):
            found = self.client.search_model_versions(f"name = '{name}'")
        return sorted((_version(mv) for mv in found), key=lambda v: v.version)

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        """Add or replace tags of a registered version (evaluation results, gate verdicts)."""
        with _translated(f"tags of version {version} of model {name!r}"):
            for key, value in tags.items():
                self.client.set_model_version_tag(name, str(version), key, value)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        with _translated(f"alias {alias!r} of model {name!r}"):
            self.client.set_registered_model_alias(name, alias, str(version))

    def log_folder(self, run_id: str, folder: Path, name: str) -> str:
        """Log a folder as the run's artifact ``name``; returns its artifact URI."""
        with _translated("log artifacts"):
            self.client.log_artifacts(run_id, str(folder), artifact_path=name)
            return f"{self.client.get_run(run_id).info.artifact_uri}/{name}"

    def download(self, source: str, dest: Path) -> Path:
        """Copy the artifacts at ``source`` (any MLflow artifact URI or path) into ``dest``."""
        import mlflow.artifacts

        self.access.apply(source)
        with _translated(f"download {source}"):
            return Path(
                mlflow.artifacts.download_artifacts(
                    # This workspace's server, not the process's global one: mlflow-artifacts:/
                    # and models:/ URIs are resolved through it.
                    artifact_uri=source,
                    dst_path=str(dest),
                    tracking_uri=self.tracking_uri,
                    registry_uri=self.tracking_uri,
                )
            )


def load_sklearn(path: Path) -> Any:
    """Load the scikit-learn estimator of an MLflow model folder (for conversion to ONNX)."""
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.sklearn.load_model(str(path))
    except MlflowException as exc:
        raise TaskFailed(f"cannot load the sklearn model at {path}: {exc.message}") from exc


def save_onnx(onnx_model: Any, source: Path, dest: Path) -> None:
    """Save ``onnx_model`` as an MLflow ONNX model folder with ``source``'s signature."""
    import mlflow.onnx
    from mlflow.models import Model

    signature = Model.load(str(source / "MLmodel")).signature
    mlflow.onnx.save_model(
        onnx_model, str(dest), signature=signature, pip_requirements=["onnxruntime"]
    )


def load_pyfunc(path: Path) -> Any:
    """Load an MLflow model folder as a pyfunc (the serving fallback for other flavors)."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.pyfunc.load_model(str(path))
    except MlflowException as exc:
        raise TaskFailed(f"cannot load the model at {path}: {exc.message}") from exc
