"""What rendering needs to know about the workspace, gathered once, and the names and labels
every rendered object carries.

Rendering is pure: it reads a :class:`RenderContext` and a model's specs, never files or the
environment. Labels are how ``apply`` finds what it owns, so they are built in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import Any

from modelyard.config import ModelEntry, NodeClass, Runtime, Workspace, WorkspaceSettings
from modelyard.environments import image_for, pinned_images
from modelyard.errors import ConfigError

MANAGED_BY = "modelyard"
"""Value of ``app.kubernetes.io/managed-by`` on everything modelyard renders."""
FIELD_MANAGER = "modelyard"
"""Field manager name of server-side apply."""
HTTP_PORT = 8080
GRPC_PORT = 9000
"""The server's gRPC port (container and Service), where ``deploy.yaml`` has ``grpc: true``."""
"""Port the model server listens on inside the pod."""
DEFAULT_PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"
"""Prometheus that Argo Rollouts' analysis queries (kube-prometheus-stack's default service)."""

_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9._-]+")


class RenderError(ConfigError):
    """A model's specs are valid for the local backend but cannot be rendered for Kubernetes."""

    def __init__(self, model: str, file: str, field: str, message: str) -> None:
        self.model, self.file, self.field = model, file, field
        super().__init__(f"model {model!r}: {file}: {field}: {message}")


@dataclass(frozen=True)
class RenderContext:
    """Workspace-wide facts rendering needs; build it with :meth:`of`."""

    workspace: str
    namespace: str
    image_registry: str
    service_account: str
    runtimes: Mapping[str, Runtime]
    node_classes: Mapping[str, NodeClass] = field(default_factory=dict)
    settings: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    versions: Mapping[str, int] = field(default_factory=dict)
    """Registry version each served model's pods serve; rendering one without it is an error."""
    pinned_images: Mapping[str, str] = field(default_factory=dict)
    """Image tag -> ``repo@sha256:...`` of pushed builds (``.modelyard/images/index.json``)."""

    @classmethod
    def of(cls, ws: Workspace, versions: Mapping[str, int] | None = None) -> RenderContext:
        k8s = ws.settings.kubernetes
        return cls(
            workspace=label_value(ws.name),
            namespace=k8s.namespace,
            image_registry=k8s.image_registry.rstrip("/"),
            service_account=k8s.service_account,
            runtimes=ws.runtimes,
            node_classes=ws.settings.node_classes,
            settings=ws.settings,
            prometheus_url=k8s.prometheus_url,
            versions=dict(versions or {}),
            pinned_images=pinned_images(ws.state_dir),
        )

    def image(self, entry: ModelEntry, *, notebook: bool = False) -> str:
        """The runtime's image, else its built tag or pushed digest (``images build``); with
        ``notebook``, the variant with the notebook layer (``images build --notebook``)."""
        name = entry.spec.runtime
        return image_for(
            name, self.runtimes[name], self.image_registry, self.pinned_images, notebook=notebook
        )

    def version(self, entry: ModelEntry) -> int:
        """The registry version ``entry``'s server pods serve: always pinned.

        An unpinned pod would serve whatever is newest when it starts, so a new version would
        change no pod template (no canary, no analysis) and reach stable pods as they restart.
        """
        pinned = self.versions.get(entry.id)
        if pinned is None:
            raise RenderError(
                entry.id,
                str(entry.dir / "model.yaml"),
                "state",
                f"no registry version to pin: a {entry.spec.state} model's pods serve one "
                f"version, named in their template. Pass --version {entry.id}=N, or mark a "
                f"version production (`modelyard deploy {entry.id} N` moves the registry's alias); "
                "render reads the production alias when the registry is reachable",
            )
        return pinned

    def owner_selector(self) -> dict[str, str]:
        """Labels that mark an object as rendered by this workspace: what prune looks for."""
        return {
            "app.kubernetes.io/managed-by": MANAGED_BY,
            "app.kubernetes.io/part-of": self.workspace,
        }


def label_value(text: str) -> str:
    """``text`` made a valid label value: at most 63 of ``[A-Za-z0-9._-]``, alphanumeric ends.

    ``ada@example.com`` becomes ``ada_at_example.com``.
    """
    value = _LABEL_VALUE_BAD.sub("-", text.replace("@", "_at_"))[:63]
    return value.strip("._-")


def selector_labels(entry: ModelEntry, component: str) -> dict[str, str]:
    """The few labels that select a model's pods; they never change (selectors are immutable)."""
    return {
        "app.kubernetes.io/name": entry.id,
        "app.kubernetes.io/instance": entry.id,
        "app.kubernetes.io/component": component,
    }


def labels(ctx: RenderContext, entry: ModelEntry, component: str) -> dict[str, str]:
    """Ownership labels of every object rendered for ``entry``."""
    owner = entry.spec.owner
    return {
        **selector_labels(entry, component),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": ctx.workspace,
        "modelyard.dev/model": entry.id,
        "modelyard.dev/team": label_value(owner.team),
        "modelyard.dev/dri": label_value(owner.dri),
    }


def metadata(
    ctx: RenderContext,
    entry: ModelEntry,
    name: str,
    component: str,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``metadata`` of a namespaced object: name, namespace, ownership labels, and the DRI
    plus any ``annotations`` given."""
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": labels(ctx, entry, component),
        "annotations": {"modelyard.dev/dri": entry.spec.owner.dri, **(annotations or {})},
    }


def pool_object_name(pool: str) -> str:
    """``pool-<name>``: the name of a pool's Deployment and Service (and prefix of the rest)."""
    return f"pool-{pool}"


def pool_selector_labels(pool: str, component: str) -> dict[str, str]:
    """The labels that select a pool's pods (immutable, like a model's)."""
    name = pool_object_name(pool)
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
    }


def pool_labels(ctx: RenderContext, pool: str, component: str) -> dict[str, str]:
    """Ownership labels of a pool's objects and pods."""
    return {
        **pool_selector_labels(pool, component),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": ctx.workspace,
        "modelyard.dev/pool": pool,
    }


def pool_metadata(
    ctx: RenderContext,
    pool: str,
    name: str,
    component: str,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``metadata`` of a pool's object: ownership labels and ``modelyard.dev/pool``; no
    ``modelyard.dev/model``, so pruning one model's objects never touches its pool."""
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": pool_labels(ctx, pool, component),
        "annotations": dict(annotations or {}),
    }


def seconds(value: float) -> int:
    """Whole seconds, rounded up (Kubernetes fields take integers)."""
    return max(ceil(value), 0)


def go_duration(value: float) -> str:
    """A duration as Prometheus and Argo write it: whole seconds, ``'30s'``."""
    return f"{max(seconds(value), 1)}s"
