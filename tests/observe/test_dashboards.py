"""The dashboards as code: valid against Grafana's dashboard schema, read back by the SDK,
built only from modelyard's and the standard exporters' metric names, written by
``modelyard dashboards`` and by ``render`` as ConfigMaps for Grafana's sidecar.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from grafana_schema import dashboard_schema
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.config import Workspace
from modelyard.observe import names
from modelyard.observe.dashboards import build, dashboards, tidy
from modelyard.observe.panels import workspace_dashboards
from registry_bed import POD_REACHABLE_ENV

STANDARD = {
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "kube_pod_container_resource_requests",
    "kube_pod_container_resource_limits",
    "kube_pod_labels",
    "kube_pod_status_ready",
    "kube_pod_status_phase",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "ALERTS",
}
"""cAdvisor, kube-state-metrics and Prometheus' own ``ALERTS``."""
runner = CliRunner()


def _modelyard_names() -> set[str]:
    base = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    return base | {f"{n}{s}" for n in base for s in ("_bucket", "_sum", "_count")}


@pytest.fixture(scope="module")
def boards(observe_ws: Workspace) -> dict[str, dict[str, Any]]:
    return dashboards(observe_ws)


def _targets(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in board["panels"] for t in p.get("targets", [])]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = dashboard_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_derived_schema_holds_the_sdks_model() -> None:
    definitions = dashboard_schema()["definitions"]
    assert {"Dashboard", "Panel", "RowPanel", "GridPos", "DataSourceRef"} <= set(definitions)
    assert definitions["Dashboard"]["required"] == ["annotations", "schemaVersion", "templating"]
    assert definitions["GridPos"]["required"] == ["h", "w", "x", "y"]
    assert definitions["Panel"]["properties"]["gridPos"] == {"$ref": "#/definitions/GridPos"}
    assert all(d["additionalProperties"] is False for d in definitions.values())


def test_every_dashboard_validates_against_grafanas_schema(
    boards: dict[str, dict[str, Any]], validator: jsonschema.Draft7Validator
) -> None:
    assert sorted(boards) == [
        "modelyard-model-ctr.json",
        "modelyard-overview.json",
        "modelyard-team-ads-ranking.json",
    ]
    for name, board in boards.items():
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(board)]
        assert not problems, f"{name}: " + "; ".join(problems[:5])
        for panel in board["panels"]:  # Grafana's grid has 24 columns
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, (name, panel["title"])


@pytest.mark.parametrize(
    ("path", "change"),
    [
        (("panels", 1), lambda p: p.update(gridpos=p.pop("gridPos"))),  # unknown key
        (("panels", 1, "gridPos"), lambda g: g.update(w="12")),  # wrong type
        (("panels", 1, "gridPos"), lambda g: g.pop("h")),  # missing required field
        ((), lambda b: b.pop("templating")),
        ((), lambda b: b.update(graphTooltip=7)),  # not a DashboardCursorSync
    ],
)
def test_the_schema_rejects_what_grafana_would(
    boards: dict[str, dict[str, Any]],
    validator: jsonschema.Draft7Validator,
    path: tuple[Any, ...],
    change: Any,
) -> None:
    board = json.loads(json.dumps(boards["modelyard-overview.json"]))
    assert validator.is_valid(board)
    target = board
    for step in path:
        target = target[step]
    change(target)
    assert not validator.is_valid(board)


def test_each_dashboard_imports_back_with_the_library(boards: dict[str, dict[str, Any]]) -> None:
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    for name, board in boards.items():
        back = Dashboard.from_json(board)
        assert back.uid == board["uid"]
        assert back.panels is not None
        again = tidy(json.loads(json.dumps(back, cls=JSONEncoder)))
        assert again == board, f"{name} changed in a round trip through the SDK"


def test_dashboards_use_a_datasource_variable(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        variables = board["templating"]["list"]
        assert {"type": "datasource", "name": "datasource", "query": "prometheus"}.items() <= (
            variables[0].items()
        )
        for panel in board["panels"]:
            if panel.get("targets"):
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_queries_name_only_known_metrics(boards: dict[str, dict[str, Any]]) -> None:
    known = _modelyard_names() | STANDARD
    used = set()
    for board in boards.values():
        for target in _targets(board):
            used |= set(re.findall(r"([a-zA-Z_:][\w:]*)\{", target["expr"]))
    assert used, "no metric found in any query"
    assert used <= known, f"unknown metric names: {sorted(used - known)}"
    assert {names.REQUESTS, names.FEEDBACK_OUTCOMES, names.SHADOW_DIVERGED} <= used


def test_the_model_dashboard_shows_what_the_issue_lists(observe_ws: Workspace) -> None:
    board = next(d for d in workspace_dashboards(observe_ws) if d.uid == "modelyard-model-ctr")
    titles = " | ".join(p.title for p in board.panels()).lower()
    for word in ("requests by version and role", "error", "p50 / p90 / p99", "batch size",
                 "rate-limited and shed", "breaker", "shadow divergence", "cpu", "memory",
                 "replicas", "click rate", "calibration"):  # fmt: skip
        assert word in titles, word


def test_output_is_deterministic(observe_ws: Workspace) -> None:
    spec = workspace_dashboards(observe_ws)[0]
    assert build(spec) == build(spec)


def test_dashboards_command_writes_and_lists(observe_ws: Workspace, tmp_path: Path) -> None:
    ws = str(observe_ws.root)
    done = runner.invoke(app, ["dashboards", "--out", str(tmp_path / "out"), "-w", ws])
    assert done.exit_code == 0, done.output
    written = {p.name: json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")}
    assert written == dashboards(observe_ws)
    done = runner.invoke(app, ["dashboards", "--json", "-w", ws])
    assert done.exit_code == 0, done.output
    listed = {row["uid"]: row["panels"] for row in json.loads(done.output)}
    assert listed["modelyard-model-ctr"] >= 14
    done = runner.invoke(app, ["dashboards", "-w", str(tmp_path / "nowhere")])
    assert done.exit_code in (2, 3), done.output


def test_render_writes_configmaps_for_the_grafana_sidecar(
    observe_ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "manifests"
    args = ["render", "--check", "--out", str(out), "-w", str(observe_ws.root)]
    done = runner.invoke(app, [*args, "--version", "ctr=1"], env=POD_REACHABLE_ENV)
    assert done.exit_code == 0, done.output
    top = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert "grafana-dashboards" in top["resources"]
    folder = out / "grafana-dashboards"
    maps = [yaml.safe_load(p.read_text()) for p in folder.glob("configmap-*.yaml")]
    assert len(maps) == 3
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "modelyard"
        ((key, text),) = cm["data"].items()
        assert dashboards(observe_ws)[key] == json.loads(text)


def test_the_server_never_imports_the_dashboard_library() -> None:
    code = (
        "import sys, modelyard.serving, modelyard.cli.app; "
        "sys.exit('grafana_foundation_sdk' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
