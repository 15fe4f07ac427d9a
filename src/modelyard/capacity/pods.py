"""Pod and node lists for packing advice: the Alibaba openb format (cluster-trace-gpu-v2023).

Pods: ``name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, creation_time,
deletion_time`` (``gpu_milli`` is the share of one GPU a sharing pod takes, 1000 for whole
GPUs; ``gpu_spec`` the GPU models it accepts, ``|``-separated, empty for any). A list without
times (or a row with an empty creation time) arrives in list order and stays. Nodes: ``sn,
cpu_milli, memory_mib, gpu, model``; nodes of one shape form a node type, the pool a cluster
autoscaler draws from. Bad rows are skipped and reported as ``file:line: why``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.capacity.traces import SkippedRow, TraceError

__all__ = ["NodeType", "PodSpec", "read_nodes", "read_pods"]

_POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
_NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")


@dataclass(frozen=True, slots=True)
class PodSpec:
    """One pod's requests and lifetime (``None`` times: arrives in list order, stays)."""

    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_models: frozenset[str]
    created: float | None
    deleted: float | None
    order: int

    @property
    def shares_gpu(self) -> bool:
        return self.num_gpu == 1 and self.gpu_milli < 1000


@dataclass(slots=True)
class NodeType:
    """A node shape and how many nodes of it the list holds."""

    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    gpu_model: str
    count: int = 0
    members: list[str] = field(default_factory=list)


def _rows(path: Path, wanted: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in wanted if c not in header]
            if missing:
                raise TraceError(f"{path}:1: missing column(s) {', '.join(missing)}")
            return [(i, row) for i, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc}") from exc


def read_pods(path: Path, skipped: list[SkippedRow]) -> list[PodSpec]:
    """The pods of an openb pod list, in list order."""
    pods: list[PodSpec] = []
    for line, row in _rows(path, _POD_COLUMNS):
        try:
            cpu, mem = int(row["cpu_milli"]), int(row["memory_mib"])
            num_gpu, gpu_milli = int(row["num_gpu"]), int(row["gpu_milli"])
            created = _time(row.get("creation_time"))
            deleted = _time(row.get("deletion_time"))
        except ValueError:
            skipped.append(SkippedRow(str(path), line, "not a number in a column"))
            continue
        if min(cpu, mem, num_gpu, gpu_milli) < 0:
            skipped.append(SkippedRow(str(path), line, "negative request"))
            continue
        if num_gpu > 0 and not 0 < gpu_milli <= 1000:
            skipped.append(SkippedRow(str(path), line, f"gpu_milli {gpu_milli} not in 1..1000"))
            continue
        if created is not None and deleted is not None and deleted < created:
            skipped.append(SkippedRow(str(path), line, "deleted before it was created"))
            continue
        spec = row.get("gpu_spec") or ""
        models = frozenset(m for m in spec.split("|") if m and m != "nan")
        pods.append(
            PodSpec(
                row["name"],
                cpu,
                mem,
                num_gpu,
                gpu_milli if num_gpu else 0,
                models,
                created,
                deleted if created is not None else None,
                len(pods),
            )
        )
    return pods


def _time(value: str | None) -> float | None:
    return None if value is None or value.strip() in ("", "nan") else float(value)


def read_nodes(path: Path, skipped: list[SkippedRow]) -> list[NodeType]:
    """The node types of an openb node list, in the order each shape first appears."""
    types: dict[tuple[int, int, int, str], NodeType] = {}
    for line, row in _rows(path, _NODE_COLUMNS):
        try:
            cpu, mem, gpus = int(row["cpu_milli"]), int(row["memory_mib"]), int(row["gpu"])
        except ValueError:
            skipped.append(SkippedRow(str(path), line, "not a number in a column"))
            continue
        if cpu <= 0 or mem <= 0 or gpus < 0:
            skipped.append(SkippedRow(str(path), line, "zero or negative capacity"))
            continue
        model = (row["model"] or "").strip() if gpus else ""
        key = (cpu, mem, gpus, model)
        if key not in types:
            label = f"{gpus}x{model}" if gpus else "cpu"
            types[key] = NodeType(f"{label}-{cpu // 1000}c-{mem // 1024}Gi", cpu, mem, gpus, model)
        types[key].count += 1
        types[key].members.append(row["sn"])
    return list(types.values())
