"""The one usage-sample type: what a model server or a training job used at one moment.

Every source of usage (the local runner and supervisor, the cluster's metrics API,
Prometheus, trace files) produces these, in one unit each: CPU in cores, memory in bytes,
time in Unix seconds. The capacity package (right-sizing, cost) reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UsageSample", "serving_subject", "training_subject"]


@dataclass(frozen=True, slots=True)
class UsageSample:
    """CPU (cores) and resident memory (bytes) of ``subject`` at Unix time ``at``.

    ``subject`` names what was measured: ``server:<model_id>`` for a model's serving
    replica, ``train:<model_id>`` for its training job (see the helpers below).
    """

    subject: str
    at: float
    cpu_cores: float
    memory_bytes: int


def serving_subject(model_id: str) -> str:
    """The subject under which a model's serving replicas are recorded."""
    return f"server:{model_id}"


def training_subject(model_id: str) -> str:
    """The subject under which a model's training jobs are recorded."""
    return f"train:{model_id}"
