"""The training workflow: run a model's script as a job inside an MLflow run, record its
resource use and log, and register what it logged as a new, checksummed version.

A failed job registers nothing; its run is marked FAILED with the log attached.
"""

from __future__ import annotations

import getpass
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelyard.config import ModelEntry, Workspace, memory_bytes
from modelyard.errors import ConfigError, JobFailed
from modelyard.jobs import JobResult, JobSpec, LineSink, LocalRunner, Runner
from modelyard.observe.usage import training_subject
from modelyard.registry import ModelVersion, Registry
from modelyard.runtimes import local_environment
from modelyard.tracking import Tracking


@dataclass(frozen=True)
class TrainResult:
    """What a training produced."""

    model_id: str
    run_id: str
    experiment_id: str
    job: JobResult
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    version: ModelVersion | None
    log_path: Path


def parse_params(pairs: list[str], defaults: Mapping[str, object]) -> dict[str, object]:
    """``['C=0.5', 'max_iter=50']`` over the model's defaults, typed like the defaults."""
    params: dict[str, object] = dict(defaults)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--param {pair!r}: write it as key=value, e.g. --param C=0.5")
        default = defaults.get(key)
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                params[key] = raw.lower() in ("true", "1", "yes")
            elif isinstance(default, int):
                params[key] = int(raw)
            elif isinstance(default, float):
                params[key] = float(raw)
            else:
                params[key] = raw
        except ValueError:
            kind = type(default).__name__
            raise ConfigError(
                f"--param {key}={raw!r}: model.yaml's default is {default!r}, expected a {kind}"
            ) from None
    return params


def git_commit(folder: Path) -> str | None:
    """The commit of the repository holding ``folder`` (``+dirty`` if it has changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


def _job_spec(
    workspace: Workspace,
    entry: ModelEntry,
    params: Mapping[str, object],
    env: dict[str, str],
    log_path: Path,
) -> JobSpec:
    runtime = workspace.runtimes[entry.spec.runtime]
    environment = local_environment(entry.spec.runtime, runtime, workspace.state_dir / "envs")
    args = [f"--{key}={value}" for key, value in params.items()]
    training = entry.spec.training
    return JobSpec(
        name=f"train-{entry.id}",
        command=(str(environment.python), str(entry.entrypoint), *args),
        cwd=entry.dir,
        env=env,
        memory_limit_bytes=memory_bytes(training.resources.memory),
        timeout_s=training.timeout,
        log_path=log_path,
        usage_subject=training_subject(entry.id),
    )


def _failure(entry: ModelEntry, job: JobResult, log_path: Path) -> JobFailed:
    training = entry.spec.training
    if job.stopped_for == "memory":
        why = (
            f"went above its memory limit of {training.resources.memory} "
            f"(peak {job.peak_rss_bytes / 2**20:.0f} MiB) and was stopped; raise "
            "training.resources.memory in model.yaml or use less"
        )
    elif job.stopped_for == "timeout":
        why = f"ran longer than its timeout of {training.timeout:g}s and was stopped"
    elif job.stopped_for == "interrupted":
        why = "was interrupted"
    else:
        why = f"exited with code {job.exit_code}"
    tail = "\n".join(f"    {line}" for line in job.log_tail[-15:])
    message = (
        f"training of {entry.id!r} {why}; no version was registered.\n"
        f"  last lines of {log_path}:\n{tail}"
    )
    code = job.exit_code if job.exit_code > 0 else (137 if job.stopped_for == "memory" else 1)
    return JobFailed(message, exit_code=code)


def train(
    workspace: Workspace,
    model_id: str,
    params: list[str] | None = None,
    on_line: LineSink | None = None,
    runner: Runner | None = None,
) -> TrainResult:
    """Train ``model_id`` and register the result; raise :class:`JobFailed` on failure."""
    entry = workspace.model(model_id)
    values = parse_params(params or [], entry.spec.training.params)
    registry = Registry.for_workspace(workspace)
    tracking: Tracking = registry.tracking
    commit = git_commit(entry.dir)
    tags = {
        "modelyard.model": entry.id,
        "modelyard.team": entry.spec.owner.team,
        "modelyard.dri": entry.spec.owner.dri,
        "modelyard.config_hash": entry.config_hash,
        "mlflow.source.name": str(entry.entrypoint),
        "mlflow.user": getpass.getuser(),
    }
    if commit:
        tags["mlflow.source.git.commit"] = commit
    experiment_id = tracking.experiment_id(entry.id)
    run_id = tracking.start_run(experiment_id, values, tags)
    logs = workspace.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"train-{entry.id}-{run_id}.log"
    spec = _job_spec(workspace, entry, values, tracking.run_env(run_id, experiment_id), log_path)
    job = (runner or LocalRunner()).run(spec, on_line)
    _record_usage(tracking, run_id, job, log_path)
    if not job.ok:
        tracking.finish_run(run_id, ok=False)
        raise _failure(entry, job, log_path)
    try:
        version, metrics = _register(registry, entry, experiment_id, run_id, commit)
    except Exception:
        tracking.finish_run(run_id, ok=False)
        raise
    return TrainResult(
        model_id=entry.id,
        run_id=run_id,
        experiment_id=experiment_id,
        job=job,
        params={k: str(v) for k, v in values.items()},
        metrics=metrics,
        version=version,
        log_path=log_path,
    )


def _record_usage(tracking: Tracking, run_id: str, job: JobResult, log_path: Path) -> None:
    series: dict[str, list[tuple[float, float]]] = {
        "usage.cpu_cores": [(s.at - job.started_at, s.cpu_cores) for s in job.usage],
        "usage.memory_bytes": [(s.at - job.started_at, s.memory_bytes) for s in job.usage],
    }
    tracking.log_series(run_id, series)
    tracking.log_metrics(
        run_id,
        {"usage.peak_rss_mib": job.peak_rss_bytes / 2**20, "usage.duration_s": job.duration_s},
    )
    if log_path.exists():
        tracking.log_artifact(run_id, log_path, "logs")


def _to_onnx(
    tracking: Tracking, entry: ModelEntry, run_id: str, source: str, tags: dict[str, str]
) -> str:
    """Convert the logged sklearn model to ONNX, checked against it; the ONNX model's URI."""
    from modelyard.registry.onnx_export import export_onnx

    if entry.spec.framework != "sklearn":
        raise ConfigError(
            f"{entry.id}: serving.format: onnx converts scikit-learn models only, "
            f"not {entry.spec.framework}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(source) if Path(source).is_dir() else tracking.download(source, Path(tmp))
        export = export_onnx(tracking, run_id, local, entry.spec.serving.method)
    tags["modelyard.format"] = "onnx"
    tags["modelyard.onnx_max_abs_diff"] = f"{export.max_abs_diff:.3g}"
    return export.source


def _register(
    registry: Registry,
    entry: ModelEntry,
    experiment_id: str,
    run_id: str,
    commit: str | None,
) -> tuple[ModelVersion, dict[str, float]]:
    tracking = registry.tracking
    logged = tracking.logged_model(experiment_id, run_id)
    if logged is None:
        raise JobFailed(
            f"training of {entry.id!r} succeeded but logged no model; call "
            f"mlflow.{entry.spec.framework}.log_model(model, name='model') in "
            f"{entry.spec.training.entrypoint}. No version was registered.",
            exit_code=1,
        )
    metrics = dict(tracking.get_run(run_id).metrics)
    extra: dict[str, str] = {}
    if commit:
        extra["modelyard.git_commit"] = commit
    source: str = logged.artifact_location
    model_id: str | None = logged.model_id
    if entry.spec.serving.format == "onnx":
        source, model_id = _to_onnx(tracking, entry, run_id, source, extra), None
    version = registry.register(entry, run_id, source, model_id, extra)
    tracking.finish_run(run_id, ok=True)
    return version, metrics
