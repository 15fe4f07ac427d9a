"""The seam between modelyard and a Kubernetes API: a small :class:`Cluster` protocol, the
kinds modelyard manages, and :class:`InMemoryCluster`, a test double that behaves like
server-side apply closely enough to test planning, applying and pruning without a cluster.

The real implementation is :class:`modelyard.k8s.kube.KubeCluster` (the only module that
imports lightkube).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.errors import NotFound
from modelyard.k8s.plan import ObjectKey


@dataclass(frozen=True)
class Kind:
    """A kind modelyard renders: API version, kind and the plural of its URL path."""

    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""


MANAGED_KINDS: tuple[Kind, ...] = (
    Kind("v1", "ConfigMap", "configmaps"),
    Kind("v1", "Service", "services"),
    Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    Kind("apps/v1", "Deployment", "deployments"),
    Kind("argoproj.io/v1alpha1", "Rollout", "rollouts"),
    Kind("argoproj.io/v1alpha1", "AnalysisTemplate", "analysistemplates"),
    Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    Kind("networking.istio.io/v1", "VirtualService", "virtualservices"),
    Kind("networking.istio.io/v1", "DestinationRule", "destinationrules"),
    Kind("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors"),
    Kind("monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules"),
    Kind("batch/v1", "CronJob", "cronjobs"),
)
"""Kinds that ``apply`` manages and prunes, in the order they are applied.

Jobs are absent on purpose: training runs are created by ``run_training_job`` (and by
CronJobs) and outlive the specs; their TTL removes them.
"""


def kind_of(key: ObjectKey) -> Kind:
    for kind in MANAGED_KINDS:
        if kind.kind == key.kind and kind.group == key.group:
            return kind
    raise NotFound(f"{key}: modelyard does not manage kind {key.kind}")


class Cluster(Protocol):
    """What apply and prune need from a Kubernetes API."""

    def list_owned(
        self, kinds: Sequence[Kind], namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Objects of ``kinds`` in ``namespace`` carrying every label of ``selector``."""
        ...

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply ``obj`` with field manager ``modelyard``; the object as stored."""
        ...

    def delete(self, key: ObjectKey, *, dry_run: bool = False) -> None:
        """Delete the object ``key`` (nothing if it is gone already)."""
        ...


@dataclass
class InMemoryCluster:
    """A :class:`Cluster` held in a dict, for tests.

    Like an API server it adds fields of its own (uid, resourceVersion, status, a default),
    so that planning must ignore what modelyard does not manage.
    """

    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def list_owned(
        self, kinds: Sequence[Kind], namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        wanted = {(k.group, k.kind) for k in kinds}
        out = []
        for key, obj in sorted(self.objects.items()):
            labels = obj["metadata"].get("labels") or {}
            if (
                (key.group, key.kind) in wanted
                and key.namespace == namespace
                and all(labels.get(k) == v for k, v in selector.items())
            ):
                out.append(copy.deepcopy(obj))
        return out

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        key = ObjectKey.of(obj)
        stored = copy.deepcopy(dict(obj))
        previous = self.objects.get(key)
        meta = stored["metadata"]
        meta["uid"] = previous["metadata"]["uid"] if previous else f"uid-{next(self._uids)}"
        meta["resourceVersion"] = str(next(self._uids))
        meta["managedFields"] = [{"manager": "modelyard", "operation": "Apply"}]
        stored.setdefault("status", {})
        if stored["kind"] == "Service":
            stored["spec"].setdefault("sessionAffinity", "None")  # a server default
        self.calls.append(("apply-dry-run" if dry_run else "apply", str(key)))
        if not dry_run:
            self.objects[key] = stored
        return copy.deepcopy(stored)

    def delete(self, key: ObjectKey, *, dry_run: bool = False) -> None:
        self.calls.append(("delete-dry-run" if dry_run else "delete", str(key)))
        if not dry_run:
            self.objects.pop(key, None)
