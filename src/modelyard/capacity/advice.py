"""Right-sizing advice and cost lines for the models of a workspace, as plain dicts.

``modelyard tune``, ``modelyard cost`` and the web console show the same figures; this module
turns a model's specs and its usage samples into them, so every face of the platform computes
them one way. The caller fetches the samples (the Backend seam) and passes them in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from modelyard.capacity.cost import CostLine, Requests
from modelyard.capacity.deploy_edit import cpu_quantity, memory_quantity
from modelyard.capacity.recommendation import Estimate, Provisioned, Recommendation, respect_hpa
from modelyard.capacity.rightsizer import ModelyardPolicy
from modelyard.config import ModelEntry, cpu_millis, memory_bytes
from modelyard.observe.usage import UsageSample, serving_subject, training_subject

WEEK_S = 7 * 86400.0
"""How far back the right-sizer looks."""


def tune_row(entry: ModelEntry, samples: Iterable[UsageSample], now: float) -> dict[str, Any]:
    """Current and recommended requests of ``entry``'s server, with the evidence.

    ``samples`` are the server's (``server:<model>``) of the last :data:`WEEK_S`.
    """
    res = entry.deploy.resources
    limit = res.limits.memory or res.memory
    provisioned = Provisioned(
        cpu_millis(res.cpu) / 1000, memory_bytes(res.memory), memory_bytes(limit)
    )
    recommender = ModelyardPolicy().recommender(provisioned)
    for sample in samples:
        recommender.add(sample.at, sample.cpu_cores, sample.memory_bytes)
    rec = recommender.recommend(now)
    row: dict[str, Any] = {"model": entry.id, "current": {"cpu": res.cpu, "memory": res.memory}}
    if rec is None:
        return {**row, "recommended": None, "evidence": {"samples": 0}}
    rec = respect_hpa(rec, entry.deploy.autoscaling, provisioned)
    return {**row, **_advice(rec)}


def _bounds(est: Estimate, unit: str) -> dict[str, float | None]:
    return {
        f"target_{unit}": est.target,
        f"lower_{unit}": est.lower,
        f"upper_{unit}": None if math.isinf(est.upper) else est.upper,
    }


def _advice(rec: Recommendation) -> dict[str, Any]:
    return {
        "recommended": {
            "cpu": cpu_quantity(rec.cpu_cores.target) if rec.cpu_cores else None,
            "memory": memory_quantity(rec.memory_bytes.target) if rec.memory_bytes else None,
        },
        "cpu": _bounds(rec.cpu_cores, "cores") if rec.cpu_cores else None,
        "memory": _bounds(rec.memory_bytes, "bytes") if rec.memory_bytes else None,
        "evidence": {
            "samples": rec.samples,
            "window_s": round(rec.window_s, 1),
            "cpu_percentile": rec.cpu_percentile,
            "memory_percentile": rec.memory_percentile,
            "confidence": rec.confidence,
            "notes": list(rec.notes),
        },
    }


def cost_lines(
    entries: Iterable[ModelEntry], usage: Callable[[str], list[UsageSample]]
) -> list[CostLine]:
    """One serving and one training :class:`CostLine` per model; ``usage(subject)`` gives
    the subject's samples over the reported window."""
    lines = []
    for entry in entries:
        owner = entry.spec.owner
        serve = entry.deploy.resources
        train = entry.spec.training.resources
        for kind, subject, req in (
            (
                "serving",
                serving_subject(entry.id),
                Requests(cpu_millis(serve.cpu) / 1000, memory_bytes(serve.memory), serve.gpu),
            ),
            (
                "training",
                training_subject(entry.id),
                Requests(cpu_millis(train.cpu) / 1000, memory_bytes(train.memory), train.gpu),
            ),
        ):
            lines.append(CostLine(entry.id, owner.team, owner.dri, kind, req, usage(subject)))
    return lines
