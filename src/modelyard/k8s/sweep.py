"""A sweep on Kubernetes: one ``batch/v1`` Job per trial, rendered from the training Job.

Each trial Job is the model's training Job (same image, resources, deadline, security, no
mesh sidecar) whose container trains with the trial's parameters as a child of the sweep's
MLflow parent run (``--sweep-parent RUN``: the run is tagged ``mlflow.parentRunId`` and
registers nothing). The cluster's scheduler decides how many run at once from what its nodes
hold; modelyard adds no scheduler. Pure: specs and draws in, manifests out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.context import RenderContext
from modelyard.k8s.training import job

SWEEP_LABEL = "modelyard.dev/sweep"
TRIAL_LABEL = "modelyard.dev/trial"


def trial_job_name(entry: ModelEntry, parent_run_id: str, number: int) -> str:
    """``<id>-sweep-<first 8 of the parent run>-<n>``: at most 62 characters for a 42-character
    model id and up to 9,999 trials."""
    return f"{entry.id}-sweep-{parent_run_id[:8].lower()}-{number}"


def trial_jobs(
    ctx: RenderContext,
    entry: ModelEntry,
    parent_run_id: str,
    draws: Sequence[Mapping[str, object]],
    folder: Mapping[str, bytes],
) -> list[dict[str, Any]]:
    """One Job per drawn trial, numbered from 0 as the local sweep numbers them; ``folder`` is
    the model's folder, mounted from its source ConfigMap as the training Job mounts it."""
    jobs = []
    for number, params in enumerate(draws):
        manifest = job(ctx, entry, folder, trial_job_name(entry, parent_run_id, number))
        marks = {SWEEP_LABEL: parent_run_id[:8].lower(), TRIAL_LABEL: str(number)}
        manifest["metadata"]["labels"].update(marks)
        template = manifest["spec"]["template"]
        template["metadata"]["labels"].update(marks)
        container = template["spec"]["containers"][0]
        pairs = [arg for key, value in params.items() for arg in ("-p", f"{key}={value}")]
        container["args"] = [*container["args"], "--sweep-parent", parent_run_id, *pairs]
        jobs.append(manifest)
    return jobs
