"""The kube-scheduler profile that ``modelyard capacity pack`` advises, as a manifest.

``NodeResourcesFit`` scores nodes with a scoring strategy: ``LeastAllocated`` (the default:
spread), ``MostAllocated`` (bin-pack) or ``RequestedToCapacityRatio``, over weighted resources
(``cpu`` and ``memory``, weight 1, unless told). modelyard's fragmentation-aware policy packs
like ``MostAllocated`` with GPUs counted, which is the closest built-in profile; choosing the
GPU inside a node (per-GPU sharing) needs a device plugin or scheduler extension that
kube-scheduler does not ship, so the profile says ``MostAllocated`` for it. Pods opt in with
``spec.schedulerName``.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import ConfigError

__all__ = ["SCHEDULER_NAME", "STRATEGIES", "scheduler_configuration"]

SCHEDULER_NAME = "modelyard-packing"
STRATEGIES = {
    "LeastAllocated": "LeastAllocated",
    "MostAllocated": "MostAllocated",
    "modelyard": "MostAllocated",
}
GPU_RESOURCE = "nvidia.com/gpu"


def scheduler_configuration(
    strategy: str = "modelyard", *, gpu_weight: int = 1, name: str = SCHEDULER_NAME
) -> dict[str, Any]:
    """A ``KubeSchedulerConfiguration`` with one profile that scores by ``strategy``."""
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"unknown scoring strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
        )
    resources = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
    if gpu_weight:
        resources.append({"name": GPU_RESOURCE, "weight": gpu_weight})
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [
            {
                "schedulerName": name,
                "pluginConfig": [
                    {
                        "name": "NodeResourcesFit",
                        "args": {
                            "scoringStrategy": {
                                "type": STRATEGIES[strategy],
                                "resources": resources,
                            }
                        },
                    }
                ],
            }
        ],
    }
