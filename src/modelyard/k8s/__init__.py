"""Kubernetes manifests and the cluster client: pure rendering of specs into manifests (Argo
Rollouts, Istio, Prometheus Operator, batch Jobs), validation against the official schemas, a
pure apply plan, server-side apply and prune, and training Jobs, all through the small
:class:`Cluster` seam (:class:`InMemoryCluster` is its double, and runs Jobs).

This is not the Kubernetes *backend*: that is :mod:`modelyard.backends.kubernetes`, which
drives the lifecycle (deploy, rollout commands, rollback, history) with what is here. Only
:mod:`modelyard.k8s.kube` imports the Kubernetes client, lazily.
"""

from __future__ import annotations

from modelyard.k8s.apply import apply_workspace, describe, desired_objects, workspace_plan
from modelyard.k8s.cluster import MANAGED_KINDS, Cluster, InMemoryCluster, Kind
from modelyard.k8s.context import RenderContext, RenderError, label_value
from modelyard.k8s.jobrun import run_training_job
from modelyard.k8s.output import to_documents, write_tree
from modelyard.k8s.plan import Change, ObjectKey, Plan, plan
from modelyard.k8s.render import ModelManifests, all_objects, render_model, render_workspace
from modelyard.k8s.validate import InvalidManifests, Validator

__all__ = [
    "MANAGED_KINDS",
    "Change",
    "Cluster",
    "InMemoryCluster",
    "InvalidManifests",
    "Kind",
    "ModelManifests",
    "ObjectKey",
    "Plan",
    "RenderContext",
    "RenderError",
    "Validator",
    "all_objects",
    "apply_workspace",
    "describe",
    "desired_objects",
    "label_value",
    "plan",
    "render_model",
    "render_workspace",
    "run_training_job",
    "to_documents",
    "workspace_plan",
    "write_tree",
]
