"""The capacity package's public API is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import modelyard.capacity


def test_capacity_api() -> None:
    assert sorted(modelyard.capacity.__all__) == [
        "CostLine", "Estimate", "InMemoryUsage", "ModelyardPolicy", "ModelyardSettings",
        "Policy", "PrometheusUsage", "Provisioned", "Recommendation", "Recommender",
        "Requests", "StaticPolicy", "TraceError", "UsageSource", "VpaPolicy", "VpaSettings",
        "cost_report", "cpu_quantity", "edit_resources", "memory_quantity", "promql_for",
        "read_bitbrains", "read_gentd26", "replay_series", "replay_trace", "respect_hpa",
    ]  # fmt: skip
    for name in modelyard.capacity.__all__:
        assert hasattr(modelyard.capacity, name)


def test_capacity_imports_no_heavy_library() -> None:
    code = (
        "import sys, modelyard.capacity, modelyard.capacity.packing;"
        "heavy = ('numpy', 'httpx', 'ruamel', 'sqlite3', 'psutil');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
