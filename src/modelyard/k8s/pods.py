"""Pod templates: resources, probes, graceful drain, placement and the "restricted" security
standard, shared by the model server and the training job.

``scheduling.numa`` asks for Guaranteed QoS with whole CPUs (what the kubelet's static CPU
manager pins); ``scheduling.avoid`` keeps pods off node classes by a required node affinity,
so a class's taint needs no toleration at all.
"""

from __future__ import annotations

import copy
from typing import Any

from modelyard.config import ModelEntry, cpu_millis, memory_bytes
from modelyard.k8s.bundle import MOUNT_PATH
from modelyard.k8s.context import (
    GRPC_PORT,
    HTTP_PORT,
    RenderContext,
    RenderError,
    selector_labels,
)
from modelyard.k8s.security import (
    ADMIN_TOKEN_FILE,
    container_security,
    credential_env,
    credential_mounts,
    credential_volumes,
    pull_policy,
)

GPU_RESOURCE = "nvidia.com/gpu"
PRESTOP_DRAIN_S = 10
"""Seconds a stopping server keeps serving while endpoints and Istio forget it."""
PROBE_TIMEOUT_S = 5
"""A busy one-CPU server may answer a probe late; the 1 s default would restart it under load."""
ADMIN_TOKEN_FILE_ENV = "MODELYARD_ADMIN_TOKEN_FILE"  # noqa: S105 - a variable's name
"""The server reads its admin token from the file this names: every replica the same one."""
CPU_BURST = 2
"""CPU limit as a multiple of the request when ``limits.cpu`` is unset."""
STATE_DIR = "/tmp/modelyard"  # noqa: S108 - an emptyDir, private to the pod
"""Writable state folder inside pods (the root filesystem is read-only)."""


def server_resources(entry: ModelEntry) -> dict[str, Any]:
    """Requests and limits of a server container from ``deploy.yaml``."""
    res = entry.deploy.resources
    if entry.deploy.scheduling.numa:
        return _guaranteed(entry)
    requests: dict[str, str] = {"cpu": res.cpu, "memory": res.memory}
    limits: dict[str, str] = {
        "cpu": res.limits.cpu or burst_cpu(res.cpu),
        "memory": res.limits.memory or res.memory,
    }
    if res.gpu:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(res.gpu)
    return {"requests": requests, "limits": limits}


def burst_cpu(request: str) -> str:
    """The default CPU limit: :data:`CPU_BURST` times the request, as the API server writes it.

    A limit keeps one busy pod from starving its node; room above the request lets a pod
    absorb a burst, and lets the usage history see demand above the request (a limit equal
    to the request would hide it from right-sizing).
    """
    millis = cpu_millis(request) * CPU_BURST
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _guaranteed(entry: ModelEntry) -> dict[str, Any]:
    res = entry.deploy.resources
    millis = cpu_millis(res.cpu)
    if millis % 1000:
        whole = sorted({max(millis // 1000, 1), millis // 1000 + 1})
        raise RenderError(
            entry.id,
            str(entry.dir / "deploy.yaml"),
            "resources.cpu",
            f"scheduling.numa needs whole CPUs, got {res.cpu!r}; "
            f"write {' or '.join(map(str, whole))}, or set numa: false",
        )
    if res.limits.cpu is not None and cpu_millis(res.limits.cpu) != millis:
        raise RenderError(
            entry.id,
            str(entry.dir / "deploy.yaml"),
            "resources.limits.cpu",
            f"scheduling.numa needs the cpu limit equal to the request ({res.cpu}), "
            f"got {res.limits.cpu!r}; remove the limit or make them equal",
        )
    if res.limits.memory is not None and memory_bytes(res.limits.memory) != memory_bytes(
        res.memory
    ):
        raise RenderError(
            entry.id,
            str(entry.dir / "deploy.yaml"),
            "resources.limits.memory",
            f"scheduling.numa needs the memory limit equal to the request ({res.memory}), "
            f"got {res.limits.memory!r}; remove the limit or make them equal",
        )
    both: dict[str, str] = {"cpu": str(millis // 1000), "memory": res.memory}
    if res.gpu:
        both[GPU_RESOURCE] = str(res.gpu)
    return {"requests": dict(both), "limits": dict(both)}


def training_resources(entry: ModelEntry) -> dict[str, Any]:
    """Requests and limits of a training container from ``model.yaml``."""
    res = entry.spec.training.resources
    requests: dict[str, str] = {"cpu": res.cpu, "memory": res.memory}
    limits: dict[str, str] = {"cpu": burst_cpu(res.cpu), "memory": res.memory}
    if res.gpu:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(res.gpu)
    return {"requests": requests, "limits": limits}


def env(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """Variables of every modelyard container: where state, HOME and credentials are."""
    return [
        {"name": "MODELYARD_MODEL", "value": entry.id},
        {"name": "MODELYARD_STATE_DIR", "value": STATE_DIR},
        {"name": "HOME", "value": "/tmp"},  # noqa: S108 - an emptyDir
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        *credential_env(ctx.settings.s3.endpoint_url),
    ]


def _mounts() -> list[dict[str, Any]]:
    return [
        {"name": "workspace", "mountPath": MOUNT_PATH, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
        *credential_mounts(),
    ]


def volumes(workspace: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's volumes: the ``workspace`` slice given, a writable /tmp, the credentials."""
    return [
        workspace,
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        *credential_volumes(),
    ]


def server_container(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    probe = {
        "httpGet": {"path": "/v2/health/live", "port": "http"},
        "periodSeconds": 5,
        "timeoutSeconds": PROBE_TIMEOUT_S,
    }
    return {
        "name": "server",
        "image": ctx.image(entry),
        "imagePullPolicy": pull_policy(ctx.image(entry)),
        "args": [
            *("modelyard", "serve", entry.id, "-w", MOUNT_PATH),
            *("--host", "0.0.0.0", "--port", str(HTTP_PORT)),  # noqa: S104 - inside the pod
            *(("--grpc-port", str(GRPC_PORT)) if entry.deploy.grpc else ()),
            # A pinned version changes the pod template, which is what starts a rollout.
            *("--version", str(ctx.version(entry))),
        ],
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            *(
                [{"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"}]
                if entry.deploy.grpc
                else []
            ),
        ],
        "env": [*env(ctx, entry), {"name": ADMIN_TOKEN_FILE_ENV, "value": ADMIN_TOKEN_FILE}],
        "resources": server_resources(entry),
        # Ready only once the model is loaded and warm-up requests have run.
        "readinessProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": "http"},
            "periodSeconds": 5,
            "timeoutSeconds": PROBE_TIMEOUT_S,
            "failureThreshold": 3,
        },
        "livenessProbe": {**copy.deepcopy(probe), "failureThreshold": 6},
        # Loading a large model may take minutes; liveness starts counting after it.
        "startupProbe": {**copy.deepcopy(probe), "failureThreshold": 120},
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_DRAIN_S}}},
        "securityContext": container_security(),
        "volumeMounts": _mounts(),
    }


def training_container(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    return {
        "name": "train",
        "image": ctx.image(entry),
        "imagePullPolicy": pull_policy(ctx.image(entry)),
        "args": [
            *("modelyard", "train", entry.id, "--backend", "local", "--in-cluster"),
            *("-w", MOUNT_PATH),
        ],
        "env": env(ctx, entry),
        "resources": training_resources(entry),
        "securityContext": container_security(),
        "volumeMounts": _mounts(),
    }


def node_affinity(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any] | None:
    """Required node affinity keeping pods off ``scheduling.avoid`` classes (None if none)."""
    avoided: dict[str, list[str]] = {}
    for name in entry.deploy.scheduling.avoid:
        node_class = ctx.node_classes.get(name)
        if node_class is None:  # config refuses this at load; guard direct callers
            raise RenderError(
                entry.id,
                str(entry.dir / "deploy.yaml"),
                "scheduling.avoid",
                f"unknown node class {name!r}; define it under node_classes in modelyard.yaml",
            )
        values = avoided.setdefault(node_class.label, [])
        values.extend(v for v in node_class.values if v not in values)
    if not avoided:
        return None
    expressions = [
        {"key": key, "operator": "NotIn", "values": values} for key, values in avoided.items()
    ]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expressions}]
            }
        }
    }


def topology_spread(entry: ModelEntry) -> list[dict[str, Any]]:
    """Spread replicas over zones and nodes, softly so that a small cluster still schedules."""
    return spread(selector_labels(entry, "server"))


def spread(pod_labels: dict[str, str]) -> list[dict[str, Any]]:
    """Soft zone and node spread of the pods ``pod_labels`` select."""
    selector = {"matchLabels": pod_labels}
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": copy.deepcopy(selector),
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def gpu_tolerations(gpus: int) -> list[dict[str, Any]]:
    """GPU nodes are commonly tainted ``nvidia.com/gpu``; pods that use a GPU tolerate it."""
    if not gpus:
        return []
    return [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
