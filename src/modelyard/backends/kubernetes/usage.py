"""Usage on Kubernetes: the metrics API's PodMetrics made into UsageSamples.

The metrics API (metrics-server) answers CPU as a quantity in nano-, micro- or millicores and
memory in bytes with binary suffixes; both become the one usage unit (cores, bytes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from modelyard.observe.usage import UsageSample, serving_subject, training_subject

_CPU = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>n|u|m)?$")
_CPU_FACTOR = {"n": 1e-9, "u": 1e-6, "m": 1e-3, None: 1.0}
_MEM = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEM_FACTOR = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    None: 1,
}


def cpu_cores(quantity: str) -> float:
    """``"250m"`` -> 0.25; ``"123456789n"`` -> 0.123456789."""
    found = _CPU.match(str(quantity).strip())
    if found is None:
        return 0.0
    return float(found["num"]) * _CPU_FACTOR[found["unit"]]


def memory_bytes(quantity: str) -> int:
    """``"12Mi"`` -> 12582912."""
    found = _MEM.match(str(quantity).strip())
    if found is None:
        return 0
    return int(float(found["num"]) * _MEM_FACTOR[found["unit"]])


def _unix(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def samples_of(model_id: str, pod_metrics: Iterable[dict[str, Any]]) -> list[UsageSample]:
    """One sample per pod (its containers summed): a training pod's under ``train:<id>``."""
    out = []
    for pod in pod_metrics:
        labels = pod["metadata"].get("labels") or {}
        training = labels.get("app.kubernetes.io/component") == "training" or (
            "batch.kubernetes.io/job-name" in labels
        )
        subject = training_subject(model_id) if training else serving_subject(model_id)
        containers = pod.get("containers") or []
        cpu = sum(cpu_cores((c.get("usage") or {}).get("cpu", "0")) for c in containers)
        memory = sum(memory_bytes((c.get("usage") or {}).get("memory", "0")) for c in containers)
        out.append(UsageSample(subject, _unix(pod.get("timestamp")), cpu, memory))
    return sorted(out, key=lambda s: s.at)
