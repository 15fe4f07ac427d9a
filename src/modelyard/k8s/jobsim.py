"""What the Job controller and the kubelet make of a batch/v1 Job, for the in-memory cluster.

:class:`~modelyard.k8s.cluster.InMemoryCluster` runs a Job when it is applied: one pod per
attempt (labelled ``batch.kubernetes.io/job-name`` as the controller labels them), each
ending as a :data:`JobRunner` says (exit code and log), retried up to ``backoffLimit``; then
the Job's ``Complete`` or ``Failed`` condition and the Events the controller records. So the
training follow-loop and the Kubernetes backend's ``train`` run against it with no cluster.
Pure: the cluster stores what :func:`run_job` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
DEFAULT_BACKOFF_LIMIT = 6
"""The API server's default ``backoffLimit``."""


@dataclass(frozen=True)
class PodRun:
    """How one pod of a Job ended: its container's exit code and what it logged."""

    exit_code: int = 0
    log: str = ""


JobRunner = Callable[[Mapping[str, Any], int], PodRun]
"""``(the Job as applied, attempt 0, 1, ...)`` -> how that attempt's pod ended."""


def succeed(job: Mapping[str, Any], attempt: int) -> PodRun:
    """The default runner: every Job's first pod exits 0 and logs nothing."""
    return PodRun()


@dataclass(frozen=True)
class JobOutcome:
    """What the cluster holds once a Job ran: its status, its pods, their logs, the Events."""

    status: dict[str, Any]
    pods: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    """Pod name -> its container's log."""
    events: list[dict[str, Any]] = field(default_factory=list)


def _event(job: Mapping[str, Any], n: int, kind: str, reason: str, message: str) -> dict[str, Any]:
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{n}", "namespace": meta.get("namespace")},
        "involvedObject": {"kind": "Job", "name": meta["name"]},
        "type": kind,
        "reason": reason,
        "message": message,
        "count": 1,
    }


def _pod(job: Mapping[str, Any], attempt: int, run: PodRun) -> dict[str, Any]:
    meta, spec = job["metadata"], job["spec"]
    template = spec["template"]
    labels = {**(template.get("metadata") or {}).get("labels", {}), JOB_NAME_LABEL: meta["name"]}
    container = template["spec"]["containers"][0]["name"]
    ended = "Completed" if run.exit_code == 0 else "Error"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-{attempt + 1:05d}",
            "namespace": meta.get("namespace"),
            "labels": labels,
        },
        "status": {
            "phase": "Succeeded" if run.exit_code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": container,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": run.exit_code, "reason": ended}},
                }
            ],
        },
    }


def run_job(job: Mapping[str, Any], runner: JobRunner = succeed) -> JobOutcome:
    """Run ``job`` to its end: pods until one succeeds or ``backoffLimit`` retries failed."""
    limit = int(job["spec"].get("backoffLimit", DEFAULT_BACKOFF_LIMIT))
    outcome = JobOutcome(status={})
    for attempt in range(limit + 1):
        run = runner(job, attempt)
        pod = _pod(job, attempt, run)
        name = pod["metadata"]["name"]
        outcome.pods.append(pod)
        outcome.logs[name] = run.log
        n = len(outcome.events)
        outcome.events.append(_event(job, n, "Normal", "SuccessfulCreate", f"Created pod: {name}"))
        if run.exit_code == 0:
            outcome.events.append(_event(job, n + 1, "Normal", "Completed", "Job completed"))
            condition = {"type": "Complete", "status": "True"}
            outcome.status.update(succeeded=1, failed=attempt, conditions=[condition])
            return outcome
    message = "Job has reached the specified backoff limit"
    n = len(outcome.events)
    outcome.events.append(_event(job, n, "Warning", "BackoffLimitExceeded", message))
    condition = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": message,
    }
    outcome.status.update(failed=limit + 1, conditions=[condition])
    return outcome
