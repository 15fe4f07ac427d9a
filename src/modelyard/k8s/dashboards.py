"""The workspace's Grafana dashboards as ConfigMaps that Grafana's dashboard sidecar loads.

kube-prometheus-stack's Grafana runs a sidecar that watches ConfigMaps labelled
``grafana_dashboard: "1"`` and loads every JSON key of them as a dashboard, in the folder an
annotation names. One ConfigMap per dashboard (a ConfigMap holds at most 1 MiB). They belong
to the workspace, not to one model: ``render`` (of the whole workspace) writes them as one more
folder beside the models', which the top kustomization includes; ``apply`` leaves them alone
(the team and overview dashboards change whenever any model does).
"""

from __future__ import annotations

from typing import Any

from modelyard.config import Workspace
from modelyard.k8s.context import RenderContext
from modelyard.k8s.render import ModelManifests

FOLDER = "grafana-dashboards"
"""Name of the extra ``render --out`` folder (model ids never start with ``grafana-``)."""
SIDECAR_LABEL = "grafana_dashboard"
"""Label the Grafana sidecar selects ConfigMaps by (kube-prometheus-stack's default)."""
FOLDER_ANNOTATION = "grafana_folder"
"""Annotation the sidecar reads the Grafana folder from, when its folderAnnotation is set."""
GRAFANA_FOLDER = "modelyard"


def dashboard_configmaps(ctx: RenderContext, ws: Workspace) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard of the workspace, labelled for the sidecar."""
    from modelyard.observe.dashboards import dashboards, to_json

    labels = {
        **ctx.owner_selector(),
        "app.kubernetes.io/component": "dashboards",
        SIDECAR_LABEL: "1",
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"dashboard-{name.removesuffix('.json')}"[:253],
                "namespace": ctx.namespace,
                "labels": labels,
                "annotations": {FOLDER_ANNOTATION: GRAFANA_FOLDER},
            },
            "data": {name: to_json(data)},
        }
        for name, data in dashboards(ws).items()
    ]


def dashboard_manifests(ws: Workspace) -> ModelManifests:
    """The dashboards' ConfigMaps as one more folder of ``render``'s output."""
    return ModelManifests(FOLDER, tuple(dashboard_configmaps(RenderContext.of(ws), ws)), None)
