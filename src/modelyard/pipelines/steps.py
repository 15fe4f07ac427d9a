"""The steps of a model's pipeline: train, evaluate, gate, register, deploy.

This is the one module of ``pipelines`` that calls the training and deployment workflows
through the Backend seam (``modelyard.backends``), here and nowhere else. Each
step reads what earlier steps left in ``outputs`` (the version number) and returns a line
for the history; it raises a :class:`~modelyard.errors.ModelyardError` to stop the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from modelyard.backends.local.locks import FileLock, run_dir
from modelyard.config import Workspace
from modelyard.errors import TaskFailed

CANDIDATE_ALIAS = "candidate"
STEP_NAMES = ("train", "evaluate", "gate", "register", "deploy")


class StepFailed(TaskFailed):
    """A pipeline step did not succeed; the run stops there."""


@dataclass
class StepContext:
    """What a step works on: the workspace, the model, and the outputs of earlier steps."""

    workspace: Workspace
    model_id: str
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> int:
        if "version" not in self.outputs:
            raise StepFailed(f"no version of {self.model_id!r}: the train step has not run")
        return int(self.outputs["version"])


Step = Callable[[StepContext], str]


def train(ctx: StepContext) -> str:
    from modelyard.backends import backend_for

    run = backend_for(ctx.workspace).train(ctx.model_id)
    if run.result is None:  # a Kubernetes Job: the version appears in the registry later
        raise StepFailed(f"training ran as Job {run.job}; the pipeline continues in the cluster")
    result = run.result
    if result.version is None:
        raise StepFailed("training registered no version")
    ctx.outputs["version"] = str(result.version.version)
    ctx.outputs["run_id"] = result.run_id
    return f"version {result.version.version} (run {result.run_id[:12]})"


def evaluate(ctx: StepContext) -> str:
    from modelyard.evaluation import evaluate_version

    done = evaluate_version(ctx.workspace, ctx.model_id, ctx.version)
    m = done.metrics
    flags = "; ".join(f.message for f in done.findings)
    return f"auc={m['auc']:.4f} loss={m['loss']:.4f} p90={m['p90_ms']:.2f}ms" + (
        f"; {flags}" if flags else ""
    )


def gate(ctx: StepContext) -> str:
    from modelyard.evaluation import run_gate

    verdict = run_gate(ctx.workspace, ctx.model_id, ctx.version)
    if not verdict.passed:
        raise StepFailed(f"evaluation gate refused version {ctx.version}: {verdict.reason}")
    return verdict.reason


def register(ctx: StepContext) -> str:
    from modelyard.registry import Registry

    Registry.for_workspace(ctx.workspace).set_alias(ctx.model_id, CANDIDATE_ALIAS, ctx.version)
    return f"alias {CANDIDATE_ALIAS!r} -> version {ctx.version}"


def deploy(ctx: StepContext) -> str:
    if ctx.workspace.settings.backend == "kubernetes":
        return "skipped: on Kubernetes the pipeline's CronJob ships the version in the cluster"
    from modelyard.backends import backend_for

    done = backend_for(ctx.workspace).deploy(ctx.model_id, ctx.version, by="pipeline")
    return f"{done.action} version {done.version} (revision {done.revision})"


def deploy_in_cluster(ctx: StepContext) -> str:
    """The deploy step of a pipeline run by the CronJob: its pod holds no API credentials."""
    return (
        f"skipped in the cluster: the CronJob's pod has no Kubernetes API credentials; ship "
        f"the gated version with `modelyard deploy {ctx.model_id} --version {ctx.version} "
        "--backend kubernetes`"
    )


def cluster_steps() -> list[tuple[str, Step]]:
    """The pipeline as the CronJob runs it: trained in its pod (``MODELYARD_BACKEND=local``)."""
    return [*default_steps()[:-1], ("deploy", deploy_in_cluster)]


def default_steps() -> list[tuple[str, Step]]:
    """The pipeline every scheduled model gets, in order."""
    return [
        ("train", train),
        ("evaluate", evaluate),
        ("gate", gate),
        ("register", register),
        ("deploy", deploy),
    ]


def pipeline_lock(workspace: Workspace, model_id: str) -> FileLock:
    """Held while one process runs the model's pipeline: never two runs at once."""
    return FileLock(run_dir(workspace.state_dir) / f"{model_id}.pipeline.lock")
