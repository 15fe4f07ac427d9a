"""The training workflow: run a model's script as a job inside an MLflow run, record its
resource use and log, and register what it logged as a new, checksummed version.

A failed job registers nothing; its run is marked FAILED with the log attached. When the
model's runtime is modelyard's own interpreter, the run is opened, the script run and the
model registered in the job's one process (:mod:`modelyard.workflows.trainer`), so this
process imports no MLflow on the way to a success; other runtimes (a virtualenv of their own)
have this process open and close the run around the script.
"""

from __future__ import annotations

import getpass
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelyard.config import ModelEntry, Workspace, memory_bytes
from modelyard.environments import local_environment
from modelyard.errors import ConfigError, JobFailed
from modelyard.jobs import JobResult, JobSpec, LineSink, LocalRunner, Runner
from modelyard.observe.usage import training_subject
from modelyard.registry import ModelVersion, Registry
from modelyard.workflows.runs import parent_tags, reap_orphans
from modelyard.workflows.trainer import ChildSpec, close_run, open_run


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


PARENT_RUN_TAG = "mlflow.parentRunId"
"""The tag by which MLflow shows a run as another's child (a sweep's trials)."""

CHILD_MAIN = (
    "import sys, pathlib; from modelyard.workflows.trainer import run_and_exit; "
    "run_and_exit(pathlib.Path(sys.argv[1]))"
)
"""The job's program for the in-process path (``-c``, not ``-m``: the package imports it)."""


def _job_spec(
    entry: ModelEntry,
    command: tuple[str, ...],
    env: dict[str, str],
    log_path: Path,
    usage_path: Path | None = None,
) -> JobSpec:
    training = entry.spec.training
    return JobSpec(
        name=f"train-{entry.id}",
        command=command,
        cwd=entry.dir,
        env=env,
        memory_limit_bytes=memory_bytes(training.resources.memory),
        timeout_s=training.timeout,
        log_path=log_path,
        usage_subject=training_subject(entry.id),
        usage_path=usage_path,
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


def _tags(entry: ModelEntry, commit: str | None) -> dict[str, str]:
    tags = {
        "modelyard.model": entry.id,
        "modelyard.team": entry.spec.owner.team,
        "modelyard.dri": entry.spec.owner.dri,
        "modelyard.config_hash": entry.config_hash,
        "mlflow.source.name": str(entry.entrypoint),
        "mlflow.user": getpass.getuser(),
        **parent_tags(),
    }
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def train(
    workspace: Workspace,
    model_id: str,
    params: list[str] | None = None,
    on_line: LineSink | None = None,
    runner: Runner | None = None,
    *,
    overrides: Mapping[str, object] | None = None,
    parent_run_id: str | None = None,
    register: bool = True,
) -> TrainResult:
    """Train ``model_id`` and register the result; raise :class:`JobFailed` on failure.

    A sweep's trial passes its sampled ``overrides`` (over ``params``), the sweep's
    ``parent_run_id`` (the run becomes its child in MLflow) and ``register=False``.
    """
    entry = workspace.model(model_id)
    values = {**parse_params(params or [], entry.spec.training.params), **(overrides or {})}
    extra_tags = {PARENT_RUN_TAG: parent_run_id} if parent_run_id else {}
    runtime = workspace.runtimes[entry.spec.runtime]
    environment = local_environment(entry.spec.runtime, runtime, workspace.state_dir / "envs")
    commit = git_commit(entry.dir)
    logs = workspace.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    args = tuple(f"--{key}={value}" for key, value in values.items())
    job_runner = runner or LocalRunner()
    tags = {**_tags(entry, commit), **extra_tags}
    if environment.python == Path(sys.executable):
        return _train_in_child(
            workspace, entry, values, args, commit, logs, job_runner, on_line, tags, register
        )
    registry = Registry.for_workspace(workspace)
    tracking = registry.tracking
    run = open_run(tracking, entry, values, tags)
    reap_orphans(registry, entry.id, skip=run[1])
    log_path = logs / f"train-{entry.id}-{run[1]}.log"
    command = (str(environment.python), str(entry.entrypoint), *args)
    spec = _job_spec(entry, command, tracking.run_env(run[1], run[0]), log_path)
    job = job_runner.run(spec, on_line)
    done = close_run(
        registry,
        entry,
        run,
        ok=job.ok,
        commit=commit,
        usage=job.usage,
        started_at=job.started_at,
        duration_s=job.duration_s,
        log_path=log_path,
        register=register,
    )
    if done is None:
        raise _failure(entry, job, log_path)
    return _result(entry, run, job, values, done, log_path)


def _result(
    entry: ModelEntry,
    run: tuple[str, str],
    job: JobResult,
    values: Mapping[str, object],
    done: tuple[ModelVersion | None, dict[str, float]],
    log_path: Path,
) -> TrainResult:
    return TrainResult(
        model_id=entry.id,
        run_id=run[1],
        experiment_id=run[0],
        job=job,
        params={k: str(v) for k, v in values.items()},
        metrics=done[1],
        version=done[0],
        log_path=log_path,
    )


def _train_in_child(
    workspace: Workspace,
    entry: ModelEntry,
    values: Mapping[str, object],
    args: tuple[str, ...],
    commit: str | None,
    logs: Path,
    runner: Runner,
    on_line: LineSink | None,
    tags: Mapping[str, str],
    register: bool,
) -> TrainResult:
    """The run's whole lifecycle in the job's process (``workflows/trainer.py``)."""
    registry = Registry.for_workspace(workspace)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    log_path = logs / f"train-{entry.id}-{stamp}-{secrets.token_hex(3)}.log"
    with tempfile.TemporaryDirectory(prefix=f"train-{entry.id}-", dir=logs) as tmp:
        folder = Path(tmp)
        child = ChildSpec(
            workspace=str(workspace.root),
            model_id=entry.id,
            tracking_uri=registry.tracking.tracking_uri,
            artifact_store=registry.tracking.artifact_root,
            cache_dir=str(registry.cache_dir),
            params={k: str(v) for k, v in values.items()},
            tags=dict(tags),
            commit=commit,
            script=str(entry.entrypoint),
            args=args,
            log_path=str(log_path),
            usage_path=str(folder / "usage.jsonl"),
            result_path=str(folder / "result.json"),
            access=registry.tracking.access.as_dict(),
            register=register,
        )
        child.write(folder / "spec.json")
        command = (sys.executable, "-c", CHILD_MAIN, str(folder / "spec.json"))
        spec = _job_spec(entry, command, {}, log_path, folder / "usage.jsonl")
        job = runner.run(spec, on_line)
        report = _read_report(folder / "result.json")
    if "error" in report:
        raise JobFailed(f"{report['error']}\n  log: {log_path}", exit_code=job.exit_code or 1)
    run = (str(report.get("experiment_id", "")), str(report.get("run_id", "")))
    if not job.ok or ("version" if register else "metrics") not in report:
        if run[1] and not report.get("closed"):  # stopped from outside (memory, timeout)
            close_run(
                registry,
                entry,
                run,
                ok=False,
                commit=commit,
                usage=job.usage,
                started_at=job.started_at,
                duration_s=job.duration_s,
                log_path=log_path,
            )
        raise _failure(entry, job, log_path)
    raw = report.get("version")
    version = None
    if isinstance(raw, dict):
        version = ModelVersion(**{**raw, "aliases": tuple(raw["aliases"])})
    metrics = report.get("metrics")
    assert isinstance(metrics, dict)
    return _result(entry, run, job, values, (version, metrics), log_path)


def _read_report(path: Path) -> dict[str, object]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
