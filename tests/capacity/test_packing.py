"""Packing: per-GPU placement, the fragmentation-aware choice, and a replay of the placements
file that finds no node and no GPU over capacity at any time."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.capacity.packing import POLICIES, Workload, pack
from modelyard.capacity.pods import NodeType, PodSpec, read_nodes, read_pods
from modelyard.cli.app import app

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "alibaba-gpu-v2023"


def pod(name, gpu_milli, num_gpu=1, order=0, cpu=1000, mem=1024, created=None, deleted=None):
    return PodSpec(name, cpu, mem, num_gpu, gpu_milli, frozenset(), created, deleted, order)


def node_type(gpus=2, count=4):
    return NodeType("t", 64000, 262144, gpus, "T4", count, [f"n{i}" for i in range(count)])


def test_shared_gpus_are_not_pooled():
    # two 600-milli pods cannot share one GPU even though the node has 2000 milli in all
    result = pack([pod("a", 600, order=0), pod("b", 600, order=1)], [node_type()], "MostAllocated")
    gpus = [row["gpus"] for row in result.placements]
    assert gpus == ["0:600", "1:600"]


def test_modelyard_leaves_gpu_pieces_the_pending_pods_can_use():
    # 300, 500, 500, 700 milli on one 2-GPU node. First fit: 300 and 500 on GPU 0 (200 left),
    # 500 on GPU 1 (500 left): the 700 needs a second node. modelyard puts both 500s on GPU 1,
    # which keeps GPU 0's 700 whole for the last pod.
    pods = [
        pod("a", 300, order=0),
        pod("b", 500, order=1),
        pod("c", 500, order=2),
        pod("d", 700, order=3),
    ]
    most = pack(pods, [node_type(count=2)], "MostAllocated")
    ours = pack(pods, [node_type(count=2)], "modelyard")
    assert most.nodes_at_peak == 2
    assert ours.nodes_at_peak == 1
    assert [r["gpus"] for r in ours.placements] == ["0:300", "1:500", "1:500", "0:700"]


def test_fragmentation_counts_what_pending_classes_cannot_use():
    workload = Workload.of([pod("a", 500), pod("b", 1000, order=1)])
    # GPU free 400 (no use to either class) and 1000 (whole): half the pods are 500-milli
    assert workload.fragmented([400, 1000]) == pytest.approx(0.5 * 400 + 0.5 * 400)


def test_deleted_pods_free_capacity_and_empty_nodes_leave():
    pods = [
        pod("a", 1000, num_gpu=2, created=0, deleted=3600),
        pod("b", 1000, num_gpu=2, order=1, created=7200),
    ]
    result = pack(pods, [node_type(count=1)], "modelyard")
    assert result.nodes_at_peak == 1
    assert result.node_hours == pytest.approx(1.0)  # the node left when 'a' ended; 'b' is last


def _check_placements(path: Path, node_types: dict[str, dict]) -> int:
    used = defaultdict(lambda: [0, 0, defaultdict(int)])
    rows = list(csv.DictReader(path.open()))
    for row in rows:
        key = (row["policy"], row["node"])
        sign = 1 if row["event"] == "create" else -1
        state = used[key]
        state[0] += sign * int(row["cpu_milli"])
        state[1] += sign * int(row["memory_mib"])
        for part in filter(None, row["gpus"].split("|")):
            gpu, milli = part.split(":")
            state[2][gpu] += sign * int(milli)
        cap = node_types[row["node_type"]]
        assert state[0] <= cap["cpu_milli"], row
        assert state[1] <= cap["memory_mib"], row
        assert all(0 <= v <= 1000 for v in state[2].values()), row
        assert all(int(g) < cap["gpus"] for g in state[2]), row
    return len(rows)


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/traces")
def test_placements_of_the_real_lists_never_exceed_a_node_or_a_gpu(tmp_path: Path):
    with (SHARED / "openb_pod_list_default.csv").open() as src:
        lines = src.readlines()[:1501]  # the first 1,500 pods keep it quick
    pods = tmp_path / "pods.csv"
    pods.write_text("".join(lines))
    out = tmp_path / "placements.csv"
    result = CliRunner().invoke(
        app,
        [
            "capacity",
            "pack",
            "--pods",
            str(pods),
            "--nodes",
            str(SHARED / "openb_node_list_all_node.csv"),
            "--json",
            "--placements",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["policies"]) == set(POLICIES)
    assert _check_placements(out, report["node_types"]) >= 3 * 1500
    ours, most = report["policies"]["modelyard"], report["policies"]["MostAllocated"]
    assert ours["nodes_at_peak"] <= most["nodes_at_peak"]
    assert ours["gpu_fragmentation"] <= most["gpu_fragmentation"]


def test_bad_pod_rows_are_reported(tmp_path: Path):
    path = tmp_path / "p.csv"
    path.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,1,1,0\nb,-1,1,0,0\nc,1,1,0,0\n"
    )
    skipped = []
    pods = read_pods(path, skipped)
    assert [p.name for p in pods] == ["c"]
    assert [(s.line, s.reason.split()[0]) for s in skipped] == [(2, "gpu_milli"), (3, "negative")]
    nodes = tmp_path / "n.csv"
    nodes.write_text("sn,cpu_milli\nx,1\n")
    with pytest.raises(Exception, match=r"n\.csv:1: missing column"):
        read_nodes(nodes, skipped)
