"""Training as ``batch/v1``: a ``Job`` from ``model.yaml``'s training section and, when
``training.schedule`` is set, a ``CronJob`` that retrains on that schedule.

The Job's container runs ``modelyard train <id> --backend local --in-cluster -w /workspace``:
inside the pod, training is an ordinary local run of the workspace slice mounted from the
model's ConfigMap, with state under ``/tmp`` and tracking and artifacts where ``modelyard.yaml``
says. The CronJob's runs the model's whole pipeline instead, the same one ``modelyard pipeline
run`` runs locally: ``modelyard pipeline run <id> --in-cluster -w /workspace`` (train in the
pod, evaluate, gate, register; see docs/evaluation.md for the deploy step in the cluster).
The rendered Job is a template (Jobs are immutable, and applying it would retrain at every
apply) with ``generateName``: ``run_training_job`` names a copy per run; only the CronJob is
applied and pruned. The pod mounts the model's whole folder (see :mod:`.bundle`); its
evaluation data comes from the artifact store, a node drain does not count as a failed
attempt, and the deadline leaves room for scheduling and the image pull.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.bundle import MOUNT_PATH, source_volume
from modelyard.k8s.context import RenderContext, labels, metadata, seconds
from modelyard.k8s.pods import gpu_tolerations, training_container, volumes
from modelyard.k8s.security import pod_security, workload_skips

FINISHED_TTL_S = 7 * 24 * 3600
"""Finished Jobs (and their logs) are kept a week, then garbage-collected."""
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}
"""Training pods stay out of the mesh: a sidecar never exits, so the Job would never finish,
and it would need istiod, which the training NetworkPolicy does not admit."""
START_HEADROOM_S = 15 * 60
"""Added to each attempt's ``training.timeout`` in the Job's deadline, which also counts
scheduling, a node scale-up and the image pull."""
DISRUPTION_POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]
}
"""A pod evicted by a node drain or preemption is retried without counting as a failure."""


def job_name(entry: ModelEntry) -> str:
    return f"{entry.id}-train"


def cronjob_name(entry: ModelEntry) -> str:
    return f"{entry.id}-retrain"


def job_spec(ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]) -> dict[str, Any]:
    """The ``spec`` of a training Job: deadline, retries, TTL and the pod, which mounts the
    model's whole folder (``folder``: path -> bytes) from its source ConfigMap."""
    training = entry.spec.training
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": ctx.service_account,
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": [training_container(ctx, entry)],
        "volumes": volumes(source_volume(ctx, entry, folder)),
    }
    tolerations = gpu_tolerations(training.resources.gpu)
    if tolerations:
        pod["tolerations"] = tolerations
    # At least one retry, for a pod lost with its node; the policy keeps that from counting.
    backoff = max(training.retries, 1)
    attempt_s = max(seconds(training.timeout), 1)
    return {
        "backoffLimit": backoff,
        "podFailurePolicy": DISRUPTION_POLICY,
        "activeDeadlineSeconds": attempt_s * (backoff + 1) + START_HEADROOM_S,
        "ttlSecondsAfterFinished": FINISHED_TTL_S,
        "template": {
            "metadata": {"labels": {**labels(ctx, entry, "training"), **NO_SIDECAR}},
            "spec": pod,
        },
    }


def job(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes], name: str | None = None
) -> dict[str, Any]:
    """A training Job named ``name``; without one, the template: ``generateName:
    <id>-train-``, so that each ``kubectl create`` of it is a run of its own."""
    meta = metadata(ctx, entry, name or job_name(entry), "training", workload_skips(ctx, entry))
    if name is None:
        del meta["name"]
        meta = {"generateName": f"{job_name(entry)}-", **meta}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": job_spec(ctx, entry, folder),
    }


def pipeline_args(entry: ModelEntry) -> list[str]:
    """The scheduled pod's command: the model's pipeline, run once in the cluster."""
    return ["modelyard", "pipeline", "run", entry.id, "--in-cluster", "-w", MOUNT_PATH]


def cronjob(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]
) -> dict[str, Any] | None:
    """A CronJob running the model's pipeline on ``training.schedule`` (None when unset)."""
    schedule = entry.spec.training.schedule
    if schedule is None:
        return None
    spec = job_spec(ctx, entry, folder)
    spec["template"]["spec"]["containers"][0]["args"] = pipeline_args(entry)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(
            ctx, entry, cronjob_name(entry), "training", workload_skips(ctx, entry)
        ),
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            # A run still going when the next is due means the schedule is too tight.
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels(ctx, entry, "training")},
                "spec": spec,
            },
        },
    }
