"""``modelyard train --backend kubernetes``: create a training Job from the specs, stream its
pods' logs and events to the caller, and return the exit code of the run.

The cluster calls go through the :class:`~modelyard.k8s.cluster.Cluster` seam like every
other, so the follow-loop runs against :class:`~modelyard.k8s.cluster.InMemoryCluster`, which
runs the Jobs applied to it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from modelyard.config import Workspace
from modelyard.errors import NotFound
from modelyard.k8s.bundle import source_configmap
from modelyard.k8s.cluster import Cluster
from modelyard.k8s.context import RenderContext
from modelyard.k8s.jobsim import JOB_NAME_LABEL
from modelyard.k8s.plan import ObjectKey
from modelyard.k8s.render import read_folder
from modelyard.k8s.training import job

POLL_S = 2.0


def run_name(model_id: str, now: datetime | None = None, token: str | None = None) -> str:
    """``<id>-train-<UTC timestamp>-<4 random hex>``, unique even for two runs in one second;
    ``-train`` is left out where a long id would pass the 63 characters of a name."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    suffix = f"{stamp}-{token or secrets.token_hex(2)}"
    name = f"{model_id}-train-{suffix}"
    return name if len(name) <= 63 else f"{model_id}-{suffix}"


def training_job(
    ws: Workspace, model_id: str, params: Mapping[str, str], name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ConfigMap (the model's folder) and the Job of one run; ``params`` become
    ``--param k=v`` arguments."""
    ctx = RenderContext.of(ws)
    entry = ws.model(model_id)
    folder = read_folder(entry)
    configmap = source_configmap(ctx, entry, folder)
    manifest = job(ctx, entry, folder, name)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    for key, value in sorted(params.items()):
        container["args"] += ["--param", f"{key}={value}"]
    manifest["metadata"]["labels"]["modelyard.dev/run"] = name
    return configmap, manifest


def _exit_code(pods: list[dict[str, Any]]) -> int:
    for pod in reversed(pods):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated and terminated.get("exitCode"):
                return int(terminated["exitCode"])
    return 1


def run_training_job(
    workspace: Workspace,
    model_id: str,
    params: Mapping[str, str],
    *,
    cluster: Cluster | None = None,
    echo: Callable[[str], None] = print,
    poll_s: float = POLL_S,
) -> int:
    """Run one training of ``model_id`` as a Kubernetes Job; 0 on success, else its exit code.

    Logs of every pod (retries included) and the Job's events are passed to ``echo``.
    """
    if cluster is None:
        from modelyard.k8s.kube import KubeCluster

        cluster = KubeCluster(workspace.settings.kubernetes.context)
    namespace = workspace.settings.kubernetes.namespace
    name = run_name(model_id)
    configmap, manifest = training_job(workspace, model_id, params, name)
    cluster.apply(configmap)
    cluster.apply(manifest)
    echo(f"job {namespace}/{name} created")
    followed: set[str] = set()
    seen_events: set[str] = set()
    key = ObjectKey("batch", "Job", namespace, name)
    while True:
        for line in _event_lines(cluster, namespace, name):
            if line not in seen_events:
                seen_events.add(line)
                echo(f"[event] {line}")
        pods = cluster.pods(namespace, {JOB_NAME_LABEL: name})
        for pod in pods:
            pod_name = pod["metadata"]["name"]
            phase = (pod.get("status") or {}).get("phase")
            if pod_name not in followed and phase in ("Running", "Succeeded", "Failed"):
                followed.add(pod_name)
                for line in cluster.follow_log(namespace, pod_name):
                    echo(line.rstrip("\n"))
        found = cluster.get(key)
        if found is None:
            raise NotFound(f"job {namespace}/{name} is gone before it finished (deleted?)")
        for condition in (found.get("status") or {}).get("conditions") or []:
            if condition.get("status") != "True":
                continue
            if condition.get("type") == "Complete":
                echo(f"job {name} succeeded")
                return 0
            if condition.get("type") == "Failed":
                echo(f"job {name} failed: {condition.get('reason')}: {condition.get('message')}")
                return _exit_code(cluster.pods(namespace, {JOB_NAME_LABEL: name}))
        time.sleep(poll_s)


def _event_lines(cluster: Cluster, namespace: str, name: str) -> list[str]:
    """The Job's Events, one line each (``Warning BackoffLimitExceeded: ...``)."""
    return [
        f"{e.get('type')} {e.get('reason')}: {e.get('message')}"
        for e in cluster.event_list(namespace, name)
    ]
