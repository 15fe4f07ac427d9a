"""HPA-awareness: the right-sizer must not fight the horizontal autoscaler.

The rule: when a model autoscales on CPU (``autoscaling.enabled`` with ``cpu_percent``), HPA
divides the replicas' CPU use by the CPU request to decide how many replicas to run, so the
request is the autoscaler's yardstick, not a forecast of use. Lowering it towards use would
make HPA add replicas, which lowers use per replica, which would lower the request again: a
spiral. So modelyard keeps the CPU request as it is and right-sizes memory only; the same for
memory when ``memory_percent`` is set. Scaling on request rate (``rps_per_replica``) does not
read the request, so both are right-sized then.
"""

from __future__ import annotations

from dataclasses import replace

from modelyard.capacity.recommendation import Estimate, Provisioned, Recommendation
from modelyard.config.schema import Autoscaling

__all__ = ["respect_hpa"]


def respect_hpa(
    rec: Recommendation, autoscaling: Autoscaling, provisioned: Provisioned
) -> Recommendation:
    """``rec`` with the resources the HPA scales on held at their current requests."""
    if not autoscaling.enabled:
        return rec
    notes = list(rec.notes)
    cpu, memory = rec.cpu_cores, rec.memory_bytes
    if autoscaling.cpu_percent is not None and provisioned.cpu_cores is not None:
        held = provisioned.cpu_cores
        cpu = Estimate(held, held, held)
        notes.append(
            f"cpu held: HPA scales replicas at {autoscaling.cpu_percent}% of the CPU request"
        )
    if autoscaling.memory_percent is not None and provisioned.memory_bytes is not None:
        held = provisioned.memory_bytes
        memory = Estimate(held, held, held)
        notes.append(
            f"memory held: HPA scales replicas at {autoscaling.memory_percent}% of the request"
        )
    return replace(rec, cpu_cores=cpu, memory_bytes=memory, notes=tuple(notes))
