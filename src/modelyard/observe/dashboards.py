"""Grafana dashboards as code: the specs of :mod:`modelyard.observe.panels` built with
grafana-foundation-sdk (Grafana's own dashboard model), as JSON documents.

Every dashboard has a ``datasource`` variable (any Prometheus), so it can be imported into a
Grafana with a differently named datasource. The SDK is imported lazily: only the
``dashboards`` command and ``render`` load it, never the model server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.config import Workspace
from modelyard.observe.panels import DashboardSpec, PanelSpec, workspace_dashboards

if TYPE_CHECKING:
    from grafana_foundation_sdk.cog.builder import Builder

DATASOURCE_VARIABLE = "datasource"
PANEL_HEIGHT = 8
PANEL_WIDTH = 12
REFRESH = "30s"

# Fields the SDK emits with their default values that Grafana's published dashboard schema
# (the one the tests validate against) does not define; Grafana reads the same without them.
_VARIABLE_EXTRAS = ("allowCustomValue", "auto", "auto_min", "auto_count")


def _panel(spec: PanelSpec, datasource: Any) -> Builder[Any]:
    from grafana_foundation_sdk.builders import prometheus, stat, text, timeseries

    if spec.kind == "text":
        return (
            text.Panel().title(spec.title).content(spec.text).height(PANEL_HEIGHT).span(PANEL_WIDTH)
        )
    builder: Any = timeseries.Panel() if spec.kind == "timeseries" else stat.Panel()
    builder = builder.title(spec.title).datasource(datasource).unit(spec.unit)
    builder = builder.height(PANEL_HEIGHT).span(PANEL_WIDTH)
    if spec.description:
        builder = builder.description(spec.description)
    for index, query in enumerate(spec.queries):
        target = prometheus.Dataquery().expr(query.expr).ref_id(chr(ord("A") + index))
        builder = builder.with_target(target.legend_format(query.legend or "__auto"))
    result: Builder[Any] = builder
    return result


def build(spec: DashboardSpec) -> dict[str, Any]:
    """One dashboard as Grafana's JSON model."""
    from grafana_foundation_sdk.builders import dashboard
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import DataSourceRef

    datasource = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
    board = (
        dashboard.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .refresh(REFRESH)
        .time("now-6h", "now")
        .with_variable(
            dashboard.DatasourceVariable(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus")
        )
    )
    for row in spec.rows:
        board = board.with_row(dashboard.Row(row.title))
        for panel in row.panels:
            board = board.with_panel(_panel(panel, datasource))
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return tidy(data)


def tidy(data: dict[str, Any]) -> dict[str, Any]:
    """The SDK's JSON less the defaults Grafana's published schema does not define."""
    for variable in data.get("templating", {}).get("list", []):
        for key in _VARIABLE_EXTRAS:
            variable.pop(key, None)
    for panel in data.get("panels", []):
        if panel.get("options", {}) is None:
            panel["options"] = {}
    return data


def file_name(spec: DashboardSpec) -> str:
    return f"{spec.uid}.json"


def to_json(data: dict[str, Any]) -> str:
    """Deterministic text: the same specs give the same bytes."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def dashboards(ws: Workspace) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, for every dashboard of the workspace."""
    return {file_name(spec): build(spec) for spec in workspace_dashboards(ws)}


def write_dashboards(ws: Workspace, out: Path) -> Sequence[Path]:
    """Write every dashboard as ``<uid>.json`` under ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in dashboards(ws).items():
        path = out / name
        path.write_text(to_json(data), encoding="utf-8")
        written.append(path)
    return written
