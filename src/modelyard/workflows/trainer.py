"""A training run's lifecycle in MLflow, and the wrapper that runs a script inside it.

``open_run`` creates the run (params, tags, owner); ``close_run`` records the job's usage
series and log and then either registers the model the run logged (the checksum goes in the
one registration call) or marks the run FAILED. For a runtime that is modelyard's own
interpreter, the whole lifecycle happens in the job's process: :func:`main` (``python -c`` with the
spec's path) opens the run, runs the user's script with :mod:`runpy` (its
``mlflow.start_run()`` resumes the run, and MLflow is imported once), and closes it, while
the parent that started it imports no MLflow and only watches: limits, timeout, usage samples
(streamed here through ``usage_path``), log. It reports to the parent through a small JSON
file, rewritten atomically as the run advances.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib.machinery
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from modelyard.config import ModelEntry, load_workspace
from modelyard.entry import run_main
from modelyard.errors import ConfigError, JobFailed, ModelyardError
from modelyard.observe.usage import UsageSample
from modelyard.registry import ModelVersion, Registry
from modelyard.tracking import StoreAccess, Tracking
from modelyard.workflows.runs import reap_orphans


@dataclass(frozen=True)
class ChildSpec:
    """What the wrapper in the job's process needs: written by the parent as JSON."""

    workspace: str
    model_id: str
    tracking_uri: str
    artifact_store: str
    cache_dir: str
    params: Mapping[str, str]
    tags: Mapping[str, str]
    commit: str | None
    script: str
    args: Sequence[str]
    log_path: str
    usage_path: str
    result_path: str
    access: Mapping[str, str | None] = field(default_factory=dict)
    """``StoreAccess`` of the workspace: the S3 endpoint and the credentials file's path."""
    register: bool = True
    """False for a sweep's trial: the run is finished, its model kept, nothing registered."""

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, default=list), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ChildSpec:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def open_run(
    tracking: Tracking, entry: ModelEntry, params: Mapping[str, object], tags: Mapping[str, str]
) -> tuple[str, str]:
    """Create the model's run; (experiment id, run id)."""
    experiment_id = tracking.experiment_id(entry.id)
    return experiment_id, tracking.start_run(experiment_id, params, tags)


def close_run(
    registry: Registry,
    entry: ModelEntry,
    run: tuple[str, str],
    *,
    ok: bool,
    commit: str | None,
    usage: Sequence[UsageSample],
    started_at: float,
    duration_s: float,
    log_path: Path,
    register: bool = True,
) -> tuple[ModelVersion | None, dict[str, float]] | None:
    """Record usage and log; register the logged model when ``ok``, else mark it FAILED.

    Raises :class:`JobFailed` (and marks the run FAILED) when the run logged no model. With
    ``register`` False (a sweep's trial) a good run is finished with no version: the sweep
    registers only its winner, later, from the model the run logged.
    """
    experiment_id, run_id = run
    tracking = registry.tracking
    tracking.log_series(
        run_id,
        {
            "usage.cpu_cores": [(s.at - started_at, s.cpu_cores) for s in usage],
            "usage.memory_bytes": [(s.at - started_at, s.memory_bytes) for s in usage],
        },
    )
    peak = max((s.memory_bytes for s in usage), default=0)
    tracking.log_metrics(
        run_id, {"usage.peak_rss_mib": peak / 2**20, "usage.duration_s": duration_s}
    )
    if log_path.exists():
        tracking.log_artifact(run_id, log_path, "logs")
    if not ok:
        tracking.finish_run(run_id, ok=False)
        return None
    try:
        if not register:
            return _finish_unregistered(tracking, entry, experiment_id, run_id)
        return register_logged(registry, entry, experiment_id, run_id, commit)
    except BaseException:
        tracking.finish_run(run_id, ok=False)
        raise


def _finish_unregistered(
    tracking: Tracking, entry: ModelEntry, experiment_id: str, run_id: str
) -> tuple[None, dict[str, float]]:
    if tracking.logged_model(experiment_id, run_id) is None:
        raise JobFailed(
            f"training of {entry.id!r} succeeded but logged no model; call "
            f"mlflow.{entry.spec.framework}.log_model(model, name='model') in "
            f"{entry.spec.training.entrypoint}.",
            exit_code=1,
        )
    metrics = dict(tracking.get_run(run_id).metrics)
    tracking.finish_run(run_id, ok=True)
    return None, metrics


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


def register_logged(
    registry: Registry,
    entry: ModelEntry,
    experiment_id: str,
    run_id: str,
    commit: str | None,
) -> tuple[ModelVersion, dict[str, float]]:
    """Register the model the run logged as the next version (checksummed); finish the run."""
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


def _report(path: Path, **fields: object) -> None:
    staging = path.with_suffix(".staging")
    staging.write_text(json.dumps(fields), encoding="utf-8")
    staging.replace(path)


def _read_usage(path: Path, subject: str) -> list[UsageSample]:
    samples: list[UsageSample] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                at, cores, rss = json.loads(line)
            except ValueError:
                continue  # a line being written as the parent was stopped
            samples.append(UsageSample(subject, float(at), float(cores), int(rss)))
    return samples


_SCRIPTS: list[types.ModuleType] = []
"""The ``__main__`` modules the scripts ran in; :func:`run_and_exit` clears them at the end,
as the interpreter's teardown would."""


def _run_script(script: Path, args: Sequence[str]) -> int:
    """The script as ``__main__`` in this process, as ``python script.py`` runs it (what
    ``runpy.run_path`` does, with the module kept for the teardown); its exit code (1 for an
    exception)."""
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", str(script))
    _SCRIPTS.append(module)
    previous = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(compile(script.read_bytes(), str(script), "exec"), module.__dict__)  # noqa: S102
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # the script's own failure: shown as Python would show it
        traceback.print_exc()
        return 1
    finally:
        if previous is not None:
            sys.modules["__main__"] = previous
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def main(spec_path: Path) -> int:
    """Open the run, run the script in it, close it; the script's exit code, or the exit code
    of the error that stopped it (``modelyard.entry.run_main`` is the edge)."""
    return run_main(lambda: _train(spec_path), prog="modelyard.trainer")


def _train(spec_path: Path) -> int:
    spec = ChildSpec.read(spec_path)
    entry = load_workspace(spec.workspace).model(spec.model_id)
    tracking = Tracking(spec.tracking_uri, spec.artifact_store, StoreAccess(**spec.access))
    registry = Registry(tracking, Path(spec.cache_dir))
    result = Path(spec.result_path)
    try:
        run = open_run(registry.tracking, entry, spec.params, spec.tags)
    except ModelyardError as exc:  # before any run exists (e.g. the artifact store moved)
        _report(result, closed=True, error=str(exc))
        return exc.exit_code
    _report(result, experiment_id=run[0], run_id=run[1])
    reap_orphans(registry, entry.id, skip=run[1])
    os.environ.update(registry.tracking.run_env(run[1], run[0]))
    started, clock = time.time(), time.monotonic()
    code = _run_script(Path(spec.script), spec.args)
    usage = _read_usage(Path(spec.usage_path), f"train:{entry.id}")
    try:
        done = close_run(
            registry,
            entry,
            run,
            ok=code == 0,
            commit=spec.commit,
            usage=usage,
            started_at=started,
            duration_s=time.monotonic() - clock,
            log_path=Path(spec.log_path),
            register=spec.register,
        )
    except ModelyardError as exc:
        _report(result, experiment_id=run[0], run_id=run[1], closed=True, error=str(exc))
        return exc.exit_code
    if done is None:
        _report(result, experiment_id=run[0], run_id=run[1], closed=True)
        return code
    version, metrics = done
    fields: dict[str, object] = {"metrics": metrics}
    if version is not None:
        fields["version"] = version.__dict__ | {
            "tags": dict(version.tags),
            "aliases": list(version.aliases),
        }
    _report(result, experiment_id=run[0], run_id=run[1], closed=True, **fields)
    return 0


def run_and_exit(spec_path: Path) -> NoReturn:
    """:func:`main`, then exit without the interpreter's module teardown.

    With MLflow, scikit-learn and their libraries loaded, tearing the interpreter down takes
    over a second (module by module, then the native libraries' pools), and ``modelyard
    train`` would wait for it after the run is closed. What the teardown would do that
    matters is done first, in the interpreter's own order: thread pools are told to stop and
    the script's non-daemon threads are joined, the ``atexit`` handlers run
    (``logging.shutdown`` flushes log files), the script's module namespace is cleared and a
    collection run (a file the script left open closes and flushes), and the standard streams
    are flushed; then the process ends with the run's exit code.
    """
    code = 1
    try:
        code = main(spec_path)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # shown as Python would show it, before the exit below
        traceback.print_exc()
    finally:
        # The interpreter's own first step of shutdown: the threading atexit hooks (which
        # tell thread pools to stop: MLflow's S3 and HTTP clients leave idle workers that
        # would otherwise wait for work for ever), then a join of the non-daemon threads.
        getattr(threading, "_shutdown")()  # noqa: B009 - private; what Py_Finalize calls
        atexit._run_exitfuncs()
        for module in _SCRIPTS:  # what the script still holds (a global open file) closes
            module.__dict__.clear()
        gc.collect()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
