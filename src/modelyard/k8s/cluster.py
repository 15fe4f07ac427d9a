"""The seam between modelyard and a Kubernetes API: a small :class:`Cluster` protocol, the
kinds modelyard manages, and :class:`InMemoryCluster`, a test double that behaves like
server-side apply closely enough to test planning, applying and pruning without a cluster,
and runs the Jobs applied to it (:mod:`~modelyard.k8s.jobsim`), so a training run is tested
through the same seam.

The real implementation is :class:`modelyard.k8s.kube.KubeCluster` (the only module that
imports lightkube).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.errors import NotFound
from modelyard.k8s.jobsim import JobRunner, run_job, succeed
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
    Kind("v1", "ServiceAccount", "serviceaccounts"),
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


SECRET = Kind("v1", "Secret", "secrets")
REPLICA_SET = Kind("apps/v1", "ReplicaSet", "replicasets")
JOB = Kind("batch/v1", "Job", "jobs")
READ_KINDS: tuple[Kind, ...] = (SECRET, REPLICA_SET, JOB)
"""Kinds modelyard reads but never applies or prunes: the credentials secret (that it
exists), and the ReplicaSets and Jobs whose pods still mount a ConfigMap (prune spares it)."""


def readable_kind(key: ObjectKey) -> Kind:
    """The kind of ``key`` among those modelyard manages or reads."""
    for kind in (*MANAGED_KINDS, *READ_KINDS):
        if kind.kind == key.kind and kind.group == key.group:
            return kind
    raise NotFound(f"{key}: modelyard does not read kind {key.kind}")


def kind_of(key: ObjectKey) -> Kind:
    for kind in MANAGED_KINDS:
        if kind.kind == key.kind and kind.group == key.group:
            return kind
    raise NotFound(f"{key}: modelyard does not manage kind {key.kind}")


class Cluster(Protocol):
    """What modelyard needs from a Kubernetes API: apply and prune, steering a rollout,
    reading pods, logs, events and metrics, and following a training Job."""

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

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        """The object ``key`` as stored, or None when there is none."""
        ...

    def patch(
        self, key: ObjectKey, patch: Mapping[str, Any], *, subresource: str | None = None
    ) -> dict[str, Any]:
        """Merge-patch the object ``key`` (or its ``status`` subresource); the stored object.

        This is how Argo Rollouts' own CLI steers a rollout: ``spec.paused`` pauses and
        resumes, ``status.promoteFull`` promotes, ``status.abort`` aborts.
        """
        ...

    def pod_metrics(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        """``metrics.k8s.io`` PodMetrics of the pods carrying every label of ``selector``."""
        ...

    def pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        """Pods carrying every label of ``selector`` (with their container statuses)."""
        ...

    def pod_log(
        self, namespace: str, pod: str, *, tail_lines: int | None = None, previous: bool = False
    ) -> str:
        """The log of the pod's (first) container; ``previous``: of its last terminated one."""
        ...

    def follow_log(self, namespace: str, pod: str) -> Iterator[str]:
        """The lines of the pod's (first) container's log, until the container ends."""
        ...

    def event_list(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """Core v1 Events whose ``involvedObject.name`` is ``name``."""
        ...


def merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch of ``target`` (in place): None deletes, dicts merge."""
    for name, value in patch.items():
        if value is None:
            target.pop(name, None)
        elif isinstance(value, Mapping) and isinstance(target.get(name), dict):
            merge_patch(target[name], value)
        else:
            target[name] = copy.deepcopy(value)
    return target


@dataclass
class InMemoryCluster:
    """A :class:`Cluster` held in a dict, for tests.

    Like an API server it adds fields of its own (uid, resourceVersion, status, a default),
    so that planning must ignore what modelyard does not manage.
    """

    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    """PodMetrics objects that :meth:`pod_metrics` serves (a test puts them here)."""
    pod_objects: list[dict[str, Any]] = field(default_factory=list)
    """Pods that :meth:`pods` serves (a test puts them here, as the kubelet would report)."""
    logs: dict[tuple[str, str, bool], str] = field(default_factory=dict)
    """``(namespace, pod, previous)`` -> the container's log text."""
    event_objects: list[dict[str, Any]] = field(default_factory=list)
    """Core v1 Event objects that :meth:`event_list` serves."""
    run_job: JobRunner = succeed
    """How the pods of an applied Job end (each Job's first pod exits 0 by default)."""
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def with_credentials(self, namespace: str) -> InMemoryCluster:
        """This cluster with the credentials Secret in ``namespace`` (what an operator
        creates once per namespace, and what ``apply`` checks for); returns self."""
        from modelyard.k8s.security import (
            ADMIN_TOKEN_KEY,
            CREDENTIALS_SECRET,
            MLFLOW_CREDENTIALS_KEY,
        )

        data = {ADMIN_TOKEN_KEY: "dGVzdC10b2tlbg==", MLFLOW_CREDENTIALS_KEY: ""}
        meta = {"name": CREDENTIALS_SECRET, "namespace": namespace}
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data})
        return self

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
            if key.kind == "Job" and previous is None:  # the Job controller takes it from here
                self._run(key, stored)
        return copy.deepcopy(stored)

    def _run(self, key: ObjectKey, job: dict[str, Any]) -> None:
        outcome = run_job(job, self.run_job)
        job["status"] = outcome.status
        self.pod_objects.extend(outcome.pods)
        self.logs.update({(key.namespace, pod, False): text for pod, text in outcome.logs.items()})
        self.event_objects.extend(outcome.events)

    def delete(self, key: ObjectKey, *, dry_run: bool = False) -> None:
        self.calls.append(("delete-dry-run" if dry_run else "delete", str(key)))
        if not dry_run:
            self.objects.pop(key, None)

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        found = self.objects.get(key)
        return copy.deepcopy(found) if found is not None else None

    def patch(
        self, key: ObjectKey, patch: Mapping[str, Any], *, subresource: str | None = None
    ) -> dict[str, Any]:
        stored = self.objects.get(key)
        if stored is None:
            raise NotFound(f"{key}: not found")
        self.calls.append((f"patch-{subresource}" if subresource else "patch", str(key)))
        if subresource is not None:
            merge_patch(stored.setdefault(subresource, {}), patch.get(subresource) or {})
        else:
            merge_patch(stored, {k: v for k, v in patch.items() if k != "status"})
        stored["metadata"]["resourceVersion"] = str(next(self._uids))
        return copy.deepcopy(stored)

    def pod_metrics(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(m)
            for m in self.metrics
            if m["metadata"].get("namespace") == namespace
            and all((m["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        ]

    def pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(p)
            for p in self.pod_objects
            if p["metadata"].get("namespace") == namespace
            and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        ]

    def pod_log(
        self, namespace: str, pod: str, *, tail_lines: int | None = None, previous: bool = False
    ) -> str:
        found = self.logs.get((namespace, pod, previous))
        if found is None:  # as the API server answers for a pod or a container that is not there
            which = "previous terminated container" if previous else "pod"
            raise NotFound(f"{namespace}/{pod}: no {which} log")
        lines = found.splitlines(keepends=True)
        return "".join(lines[-tail_lines:] if tail_lines else lines)

    def follow_log(self, namespace: str, pod: str) -> Iterator[str]:
        yield from self.pod_log(namespace, pod).splitlines(keepends=True)

    def event_list(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(e)
            for e in self.event_objects
            if e["metadata"].get("namespace") == namespace
            and (e.get("involvedObject") or {}).get("name") == name
        ]
