"""Packing advice: replay pod creations and deletions on a node pool under scoring policies.

Every node keeps its GPUs apart (a sharing pod takes ``gpu_milli`` of one GPU, a whole-GPU pod
takes whole free GPUs), so no placement overcommits a device. When no node in use can take a
pod, a node is added as a cluster autoscaler would: the first node type in the node list's
order that can hold the pod and still has a node left (the same rule for every policy, so the
figures compare the scoring alone); a node that empties is removed. Policies: kube-scheduler's
``LeastAllocated`` and ``MostAllocated`` (CPU and memory, weight 1 each, GPUs by first fit), and
``modelyard``: fragmentation-aware (after FGD, Weng et al., ATC 2023) for GPU pods, the
placement that minimises the growth of expected fragmentation (in GPUs) minus how full the
node becomes (CPU, memory and GPU shares averaged, 0-1), so it packs like ``MostAllocated``
unless a choice strands GPU pieces the pending pods cannot use; CPU-only pods go to the
fullest node (``MostAllocated``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelyard.capacity.pods import NodeType, PodSpec

__all__ = ["EXPANDERS", "POLICIES", "Node", "PackResult", "Workload", "pack"]

POLICIES = ("LeastAllocated", "MostAllocated", "modelyard")
EXPANDERS = ("first", "largest")


@dataclass(slots=True)
class Node:
    """A node in use: what is left of its CPU, memory and each GPU."""

    name: str
    type: NodeType
    cpu_free: int
    memory_free: int
    gpu_free: list[int]
    pods: int = 0

    def fits(self, pod: PodSpec) -> bool:
        if pod.cpu_milli > self.cpu_free or pod.memory_mib > self.memory_free:
            return False
        if pod.num_gpu == 0:
            return True
        if pod.gpu_models and self.type.gpu_model not in pod.gpu_models:
            return False
        if pod.shares_gpu:
            return any(f >= pod.gpu_milli for f in self.gpu_free)
        return sum(f == 1000 for f in self.gpu_free) >= pod.num_gpu


@dataclass(frozen=True, slots=True)
class Workload:
    """The GPU request classes of the pod list and their shares, for fragmentation."""

    classes: tuple[tuple[int, int, float], ...]  # (num_gpu, gpu_milli, share)

    @classmethod
    def of(cls, pods: Sequence[PodSpec]) -> Workload:
        counts = Counter((p.num_gpu, p.gpu_milli) for p in pods if p.num_gpu)
        total = sum(counts.values()) or 1
        return cls(tuple((k, m, n / total) for (k, m), n in sorted(counts.items())))

    def fragmented(self, gpu_free: Sequence[int]) -> float:
        """Expected GPU milli on a node that the next GPU pod could not use."""
        whole = sum(f == 1000 for f in gpu_free)
        free = sum(gpu_free)
        lost = 0.0
        for num, milli, share in self.classes:
            if num == 1 and milli < 1000:
                lost += share * sum(f for f in gpu_free if f < milli)
            elif whole >= num:
                lost += share * sum(f for f in gpu_free if f < 1000)
            else:
                lost += share * free
        return lost


@dataclass(slots=True)
class PackResult:
    """One policy's replay: the figures and every placement."""

    policy: str
    nodes_at_peak: int = 0
    node_hours: float = 0.0
    gpu_hours: float = 0.0
    cpu_core_hours: float = 0.0
    placed: int = 0
    unplaced: list[str] = field(default_factory=list)
    fragmentation_sum: float = 0.0
    fragmentation_events: int = 0
    placements: list[dict[str, object]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        frag = (
            self.fragmentation_sum / self.fragmentation_events if self.fragmentation_events else 0.0
        )
        return {
            "nodes_at_peak": self.nodes_at_peak,
            "node_hours": round(self.node_hours, 1),
            "gpu_hours": round(self.gpu_hours, 1),
            "cpu_core_hours": round(self.cpu_core_hours, 1),
            "placed": self.placed,
            "unplaced": len(self.unplaced),
            "gpu_fragmentation": round(frag, 4),
        }


def _score(policy: str, node: Node, pod: PodSpec) -> float:
    cpu_used = (node.type.cpu_milli - node.cpu_free + pod.cpu_milli) / node.type.cpu_milli
    mem_used = (node.type.memory_mib - node.memory_free + pod.memory_mib) / node.type.memory_mib
    allocated = (cpu_used + mem_used) / 2
    return allocated if policy == "MostAllocated" else 1 - allocated


def _gpus_for(pod: PodSpec, node: Node, workload: Workload | None) -> list[int]:
    """Which GPUs of ``node`` the pod takes: first fit, or least fragmentation with a workload."""
    if pod.num_gpu == 0:
        return []
    if not pod.shares_gpu:
        return [i for i, f in enumerate(node.gpu_free) if f == 1000][: pod.num_gpu]
    fitting = [i for i, f in enumerate(node.gpu_free) if f >= pod.gpu_milli]
    if workload is None:
        return fitting[:1]
    return [min(fitting, key=lambda i: (_after(node, [i], pod, workload), node.gpu_free[i]))]


def _after(node: Node, gpus: list[int], pod: PodSpec, workload: Workload) -> float:
    free = list(node.gpu_free)
    for i in gpus:
        free[i] -= pod.gpu_milli
    return workload.fragmented(free)


def _choose(
    policy: str, nodes: list[Node], pod: PodSpec, workload: Workload
) -> tuple[Node, list[int]] | None:
    fitting = [n for n in nodes if n.fits(pod)]
    if not fitting:
        return None
    if policy != "modelyard":
        best = max(fitting, key=lambda n: _score(policy, n, pod))  # max keeps the first of ties
        return best, _gpus_for(pod, best, None)
    if pod.num_gpu == 0:
        best = max(fitting, key=lambda n: _score("MostAllocated", n, pod))
        return best, []
    options: list[tuple[float, float, int, Node, list[int]]] = []
    for node in fitting:
        gpus = _gpus_for(pod, node, workload)
        delta = _after(node, gpus, pod, workload) - workload.fragmented(node.gpu_free)
        # fragmentation grown (in GPUs) against how full the node gets (0-1), weight 1 each
        options.append((delta / 1000 - _packed(node, pod), delta, len(options), node, gpus))
    _, _, _, node, gpus = min(options, key=lambda o: o[:3])
    return node, gpus


def _packed(node: Node, pod: PodSpec) -> float:
    """How full the node would be with the pod: CPU, memory and GPU shares, averaged."""
    gpu_total = node.type.gpus * 1000
    gpu_taken = pod.gpu_milli if pod.shares_gpu else 1000 * pod.num_gpu
    gpu_used = (gpu_total - sum(node.gpu_free) + gpu_taken) / gpu_total if gpu_total else 0.0
    return (_score("MostAllocated", node, pod) * 2 + gpu_used) / 3


def pack(
    pods: Sequence[PodSpec], types: Sequence[NodeType], policy: str, expander: str = "largest"
) -> PackResult:
    """Replay ``pods`` on a pool drawn from ``types`` under ``policy``.

    ``expander`` picks the type of an added node: ``first`` (the node list's order) or
    ``largest`` (most GPUs, then CPU, then memory, among the types that can hold the pod).
    """
    if expander not in EXPANDERS:
        raise ValueError(f"unknown expander {expander!r}; use one of {', '.join(EXPANDERS)}")
    order = _largest_first(types) if expander == "largest" else list(types)
    if policy not in POLICIES:
        raise ValueError(f"unknown packing policy {policy!r}; use one of {', '.join(POLICIES)}")
    workload = Workload.of(pods)
    result = PackResult(policy)
    pool = {t.name: list(reversed(t.members)) for t in types}
    nodes: list[Node] = []
    where: dict[str, tuple[Node, list[int]]] = {}
    added_at: dict[str, float] = {}
    events = sorted(
        [(p.created if p.created is not None else float(p.order), 1, p.order, p) for p in pods]
        + [(p.deleted, 0, p.order, p) for p in pods if p.deleted is not None]
    )
    last = 0.0
    for at, kind, _, pod in events:
        hours = max(at - last, 0.0) / 3600.0
        result.node_hours += len(nodes) * hours
        result.gpu_hours += sum(n.type.gpus for n in nodes) * hours
        result.cpu_core_hours += sum(n.type.cpu_milli for n in nodes) / 1000 * hours
        last = at
        if kind == 0:
            _remove(pod, where, nodes, result, at, pool)
            continue
        chosen = _choose(policy, nodes, pod, workload)
        if chosen is None:
            node = _add_node(pod, order, pool)
            if node is None:
                result.unplaced.append(pod.name)
                continue
            nodes.append(node)
            added_at[node.name] = at
            chosen = (node, _gpus_for(pod, node, workload if policy == "modelyard" else None))
        node, gpus = chosen
        node.cpu_free -= pod.cpu_milli
        node.memory_free -= pod.memory_mib
        for i in gpus:
            node.gpu_free[i] -= pod.gpu_milli if pod.shares_gpu else 1000
        node.pods += 1
        where[pod.name] = (node, gpus)
        result.placed += 1
        result.nodes_at_peak = max(result.nodes_at_peak, len(nodes))
        result.placements.append(_row(policy, at, "create", pod, node, gpus))
        _measure(result, nodes, workload)
    return result


def _largest_first(types: Sequence[NodeType]) -> list[NodeType]:
    """modelyard's expander: the biggest shape first (GPUs, then CPU, then memory)."""
    return sorted(types, key=lambda t: (-t.gpus, -t.cpu_milli, -t.memory_mib))


def _add_node(pod: PodSpec, types: Sequence[NodeType], pool: dict[str, list[str]]) -> Node | None:
    for t in types:
        if not pool[t.name]:
            continue
        node = Node("", t, t.cpu_milli, t.memory_mib, [1000] * t.gpus)
        if node.fits(pod):
            node.name = pool[t.name].pop()
            return node
    return None


def _remove(
    pod: PodSpec,
    where: dict[str, tuple[Node, list[int]]],
    nodes: list[Node],
    result: PackResult,
    at: float,
    pool: dict[str, list[str]],
) -> None:
    found = where.pop(pod.name, None)
    if found is None:
        return  # it was never placed
    node, gpus = found
    node.cpu_free += pod.cpu_milli
    node.memory_free += pod.memory_mib
    for i in gpus:
        node.gpu_free[i] += pod.gpu_milli if pod.shares_gpu else 1000
    node.pods -= 1
    result.placements.append(_row(result.policy, at, "delete", pod, node, gpus))
    if node.pods == 0:  # the autoscaler gives an empty node back to the pool
        nodes.remove(node)
        pool[node.type.name].append(node.name)


def _measure(result: PackResult, nodes: list[Node], workload: Workload) -> None:
    capacity = sum(n.type.gpus * 1000 for n in nodes)
    if capacity:
        lost = sum(workload.fragmented(n.gpu_free) for n in nodes)
        result.fragmentation_sum += lost / capacity
        result.fragmentation_events += 1


def _row(
    policy: str, at: float, event: str, pod: PodSpec, node: Node, gpus: list[int]
) -> dict[str, object]:
    share = pod.gpu_milli if pod.shares_gpu else 1000
    return {
        "policy": policy,
        "time": at,
        "event": event,
        "pod": pod.name,
        "node": node.name,
        "node_type": node.type.name,
        "cpu_milli": pod.cpu_milli,
        "memory_mib": pod.memory_mib,
        "gpus": "|".join(f"{i}:{share}" for i in gpus),
    }
