"""``modelyard diff`` and ``modelyard apply``: render, validate, plan, then server-side apply
and prune, through any :class:`~modelyard.k8s.cluster.Cluster`.

Objects are applied kind by kind in :data:`~modelyard.k8s.cluster.MANAGED_KINDS` order
(ConfigMaps and Services before the workloads that use them), and pruned last, so that a
failure half-way never leaves a model with less than it had. A ConfigMap that pods may still
mount (a live workload's template, a ReplicaSet with replicas, a running Job) is never pruned:
the stable pods of a canary rollout keep the files they started with. The credentials secret
the pods mount is checked first: without it they would wait Pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.config import Workspace
from modelyard.errors import NotFound
from modelyard.k8s.cluster import JOB, MANAGED_KINDS, REPLICA_SET, SECRET, Cluster, kind_of
from modelyard.k8s.context import RenderContext
from modelyard.k8s.plan import Change, ObjectKey, Plan, plan
from modelyard.k8s.render import all_objects, render_workspace
from modelyard.k8s.security import (
    ADMIN_TOKEN_KEY,
    CREDENTIALS_SECRET,
    MLFLOW_CREDENTIALS_KEY,
    secret_howto,
    service_account,
)
from modelyard.k8s.validate import default_validator

_ORDER = {(k.group, k.kind): i for i, k in enumerate(MANAGED_KINDS)}


def desired_objects(
    ws: Workspace, model_ids: Sequence[str] = (), versions: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Rendered and validated objects of the models named (all when none is), and the
    ServiceAccount their pods run as."""
    rendered = all_objects(render_workspace(ws, model_ids, versions))
    objects = [service_account(RenderContext.of(ws)), *rendered] if rendered else rendered
    default_validator().check(objects)
    return objects


def workspace_plan(
    cluster: Cluster,
    ws: Workspace,
    model_ids: Sequence[str] = (),
    *,
    prune: bool = True,
    versions: Mapping[str, int] | None = None,
) -> Plan:
    """The plan for ``ws`` against what ``cluster`` holds.

    With ``model_ids``, only those models' live objects are candidates for pruning.
    """
    ctx = RenderContext.of(ws)
    desired = desired_objects(ws, model_ids, versions)
    live = cluster.list_owned(MANAGED_KINDS, ctx.namespace, ctx.owner_selector())
    if model_ids:
        # Those models' objects, and what the workspace's models share (the ServiceAccount),
        # which is rendered with any of them and so is never pruned here.
        live = [
            obj
            for obj in live
            if obj["metadata"]["labels"].get("modelyard.dev/model") in model_ids
            or obj["kind"] == "ServiceAccount"
        ]
    the_plan = plan(desired, live, ctx.owner_selector(), prune=prune)
    if not the_plan.prunes:
        return the_plan
    # Workloads pruned now take their pods along; what stays may still mount a ConfigMap.
    going = {c.key for c in the_plan.prunes}
    staying = [obj for obj in live if ObjectKey.of(obj) not in going]
    pods_of = cluster.list_owned((REPLICA_SET, JOB), ctx.namespace, ctx.owner_selector())
    mounted = mounted_configmaps([*staying, *pods_of])
    kept = tuple(
        c
        for c in the_plan.changes
        if not (c.action == "prune" and c.key.kind == "ConfigMap" and c.key.name in mounted)
    )
    return Plan(kept)


def _template_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template")


def _in_use(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status") or {}
    if obj.get("kind") == "ReplicaSet":  # an old revision scaled to zero runs no pod
        return bool((obj.get("spec") or {}).get("replicas")) or bool(status.get("replicas"))
    if obj.get("kind") == "Job":
        done = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
        return not done & {"Complete", "Failed"}
    return True  # a workload's live template: its pods, or the next ones


def mounted_configmaps(objects: Sequence[Mapping[str, Any]]) -> set[str]:
    """Names of the ConfigMaps that pods of ``objects`` mount or may mount."""
    names: set[str] = set()
    for obj in objects:
        template = _template_of(obj)
        if template is None or not _in_use(obj):
            continue
        for volume in (template.get("spec") or {}).get("volumes") or []:
            sources = [volume, *((volume.get("projected") or {}).get("sources") or [])]
            names.update(s["configMap"]["name"] for s in sources if "configMap" in s)
    return names


class MissingSecret(NotFound):
    """The credentials secret the pods mount is not there, or lacks a key they need."""


def check_credentials(cluster: Cluster, namespace: str) -> None:
    """Refuse to apply pods that would wait Pending for the credentials secret."""
    found = cluster.get(ObjectKey(SECRET.group, SECRET.kind, namespace, CREDENTIALS_SECRET))
    if found is None:
        raise MissingSecret(
            f"secret {namespace}/{CREDENTIALS_SECRET} does not exist; every modelyard pod "
            f"mounts it and would wait Pending. Create it: {secret_howto(namespace)}"
        )
    keys = set(found.get("data") or {}) | set(found.get("stringData") or {})
    missing = sorted({ADMIN_TOKEN_KEY, MLFLOW_CREDENTIALS_KEY} - keys)
    if missing:
        raise MissingSecret(
            f"secret {namespace}/{CREDENTIALS_SECRET} has no key {', '.join(missing)}; the "
            f"pods mount them (an empty file will do for {MLFLOW_CREDENTIALS_KEY} when MLflow "
            f"needs no login). Recreate it: {secret_howto(namespace)}"
        )


def _apply_order(change: Change) -> tuple[int, str]:
    return (_ORDER.get((change.key.group, change.key.kind), len(_ORDER)), str(change.key))


def execute(cluster: Cluster, the_plan: Plan, *, dry_run: bool = False) -> None:
    """Apply creates and updates in dependency order, then prune (reverse order)."""
    workloads = [c for c in the_plan.creates + the_plan.updates if _template_of(c.desired or {})]
    if workloads:
        check_credentials(cluster, workloads[0].key.namespace)
    for change in sorted(the_plan.creates + the_plan.updates, key=_apply_order):
        assert change.desired is not None  # creates and updates always carry the object
        cluster.apply(change.desired, dry_run=dry_run)
    for change in sorted(the_plan.prunes, key=_apply_order, reverse=True):
        kind_of(change.key)  # refuse to delete a kind modelyard does not manage
        cluster.delete(change.key, dry_run=dry_run)


def apply_workspace(
    cluster: Cluster,
    ws: Workspace,
    model_ids: Sequence[str] = (),
    *,
    dry_run: bool = False,
    prune: bool = True,
    versions: Mapping[str, int] | None = None,
) -> Plan:
    """Plan, then carry the plan out (server-side dry run when ``dry_run``); the plan."""
    the_plan = workspace_plan(cluster, ws, model_ids, prune=prune, versions=versions)
    execute(cluster, the_plan, dry_run=dry_run)
    return the_plan


def describe(the_plan: Plan, *, verbose: bool = False) -> list[str]:
    """Lines for a person: ``+ create``, ``~ update (fields)``, ``- prune``."""
    marks = {"create": "+", "update": "~", "prune": "-", "unchanged": "="}
    lines = []
    for change in the_plan.changes:
        if change.action == "unchanged" and not verbose:
            continue
        line = f"{marks[change.action]} {change.action:<9} {change.key}"
        if change.fields:
            shown = ", ".join(change.fields[:5])
            more = f" (+{len(change.fields) - 5} more)" if len(change.fields) > 5 else ""
            line += f"  [{shown}{more}]"
        lines.append(line)
    counts = the_plan.summary()
    lines.append(", ".join(f"{n} {action}" for action, n in counts.items()))
    return lines
