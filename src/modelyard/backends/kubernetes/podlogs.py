"""Logs and events of a model's pods, read through the :class:`~modelyard.k8s.cluster.Cluster`
seam: each serving pod's container log (and its previous container's, after a restart), the
restarts the kubelet reports (``lastState.terminated``: ``OOMKilled``, exit code, signal), and
the cluster's Events of the pods and of the model's workload (evictions, back-offs, probes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelyard.backends.backend import DeploymentEvent, LogText
from modelyard.errors import NotFound
from modelyard.k8s import Cluster


def _seconds(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _serving(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's serving pods (training Jobs' pods have logs of their own: ``--run``)."""
    return [
        p for p in pods if "batch.kubernetes.io/job-name" not in (p["metadata"].get("labels") or {})
    ]


def pod_logs(
    cluster: Cluster, namespace: str, model_id: str, tail_lines: int | None
) -> list[LogText]:
    out = []
    for pod in _serving(cluster.pods(namespace, {"modelyard.dev/model": model_id})):
        name = pod["metadata"]["name"]
        restarted = any(
            (c.get("restartCount") or 0) > 0
            for c in (pod.get("status") or {}).get("containerStatuses") or []
        )
        if restarted:
            try:
                text = cluster.pod_log(namespace, name, tail_lines=tail_lines, previous=True)
                out.append(LogText(f"pod {name} (previous container)", text))
            except NotFound:
                pass
        try:
            text = cluster.pod_log(namespace, name, tail_lines=tail_lines)
        except NotFound:
            text = ""
        out.append(LogText(f"pod {name}", text))
    return out


def _exit_event(pod: str, status: dict[str, Any]) -> DeploymentEvent | None:
    terminated = (status.get("lastState") or {}).get("terminated")
    if not terminated:
        return None
    reason = terminated.get("reason") or "Error"
    code = terminated.get("exitCode")
    signal = terminated.get("signal") or (
        code - 128 if isinstance(code, int) and code > 128 else None
    )
    words = f"{reason}, exit code {code}" + (f" (signal {signal})" if signal else "")
    detail = {
        "pod": pod,
        "container": status.get("name"),
        "reason": words,
        "memory": reason == "OOMKilled",
        "restarts": status.get("restartCount") or 0,
    }
    message = f"container {status.get('name')} of pod {pod} ended: {words}; restarted"
    return DeploymentEvent(_seconds(terminated.get("finishedAt")), "server_exited", message, detail)


def pod_events(
    cluster: Cluster, namespace: str, model_id: str, workloads: list[str]
) -> list[DeploymentEvent]:
    found: list[DeploymentEvent] = []
    names = list(workloads)
    for pod in _serving(cluster.pods(namespace, {"modelyard.dev/model": model_id})):
        name = pod["metadata"]["name"]
        names.append(name)
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            event = _exit_event(name, status)
            if event is not None:
                found.append(event)
    for name in names:
        for ev in cluster.event_list(namespace, name):
            at = _seconds(
                ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp")
            )
            reason = ev.get("reason") or "Event"
            kind = (ev.get("involvedObject") or {}).get("kind") or "object"
            message = f"{kind} {name}: {ev.get('type', 'Normal')} {reason}: {ev.get('message', '')}"
            detail = {"object": name, "type": ev.get("type"), "count": ev.get("count")}
            found.append(DeploymentEvent(at, f"k8s:{reason}", message, detail))
    return sorted(found, key=lambda e: e.at)
