"""Right-sizing advice and cost lines for the models of a workspace, as plain dicts.

``modelyard tune``, ``modelyard cost`` and the web console show the same figures; this module
turns a model's specs and its usage samples into them, so every face of the platform computes
them one way. The caller fetches the samples (the Backend seam) and passes them in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from modelyard.capacity.cost import CostLine, Requests
from modelyard.capacity.deploy_edit import cpu_quantity, memory_quantity
from modelyard.capacity.guard import change, guard, history_of
from modelyard.capacity.recommendation import Estimate, Provisioned, Recommendation, respect_hpa
from modelyard.capacity.rightsizer import ModelyardPolicy
from modelyard.config import ModelEntry, cpu_millis, memory_bytes
from modelyard.observe.usage import UsageSample, serving_subject, training_subject

WEEK_S = 7 * 86400.0
"""How far back the right-sizer looks."""


def tune_row(
    entry: ModelEntry,
    samples: Iterable[UsageSample],
    now: float,
    memory_kills: Sequence[float] = (),
) -> dict[str, Any]:
    """Current and recommended requests of ``entry``'s server, with the evidence and what
    ``tune --write`` would change (``write``; see ``capacity/guard.py``).

    ``samples`` are the server's (``server:<model>``) of the last :data:`WEEK_S`;
    ``memory_kills`` the times its server was killed for memory (OOM) in that window.
    """
    res = entry.deploy.resources
    limit = res.limits.memory or res.memory
    provisioned = Provisioned(
        cpu_millis(res.cpu) / 1000, memory_bytes(res.memory), memory_bytes(limit)
    )
    recommender = ModelyardPolicy().recommender(provisioned)
    samples = sorted(samples, key=lambda s: s.at)
    kills = sorted(memory_kills)
    for sample in samples:
        while kills and kills[0] <= sample.at:
            recommender.add_oom(kills.pop(0), float(provisioned.memory_limit_bytes or 0))
        recommender.add(sample.at, sample.cpu_cores, sample.memory_bytes)
    for at in kills:
        recommender.add_oom(at, float(provisioned.memory_limit_bytes or 0))
    rec = recommender.recommend(now)
    history = history_of(samples)
    row: dict[str, Any] = {
        "model": entry.id,
        "current": {"cpu": res.cpu, "memory": res.memory},
        "history": {
            "span_s": round(history.span_s, 1),
            "samples": history.samples,
            "needed_s": round(history.needed_s, 1),
        },
    }
    if rec is None:
        return {**row, "recommended": None, "write": None, "evidence": {"samples": 0}}
    rec = guard(rec, history, oom=bool(memory_kills))
    rec = respect_hpa(rec, entry.deploy.autoscaling, provisioned)
    cpu = change(provisioned.cpu_cores, rec.cpu_cores)
    memory = change(provisioned.memory_bytes, rec.memory_bytes)
    write = {
        "cpu": cpu_quantity(cpu) if cpu is not None else None,
        "memory": memory_quantity(memory) if memory is not None else None,
        "lowers": bool(
            (cpu is not None and cpu < (provisioned.cpu_cores or 0))
            or (memory is not None and memory < (provisioned.memory_bytes or 0))
        ),
    }
    return {**row, **_advice(rec), "write": write}


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
