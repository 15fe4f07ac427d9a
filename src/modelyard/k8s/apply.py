"""``modelyard diff`` and ``modelyard apply``: render, validate, plan, then server-side apply
and prune, through any :class:`~modelyard.k8s.cluster.Cluster`.

Objects are applied kind by kind in :data:`~modelyard.k8s.cluster.MANAGED_KINDS` order
(ConfigMaps and Services before the workloads that use them), and pruned last, so that a
failure half-way never leaves a model with less than it had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.config import Workspace
from modelyard.k8s.cluster import MANAGED_KINDS, Cluster, kind_of
from modelyard.k8s.context import RenderContext
from modelyard.k8s.plan import Change, Plan, plan
from modelyard.k8s.render import all_objects, render_workspace
from modelyard.k8s.validate import default_validator

_ORDER = {(k.group, k.kind): i for i, k in enumerate(MANAGED_KINDS)}


def desired_objects(
    ws: Workspace, model_ids: Sequence[str] = (), versions: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Rendered and validated objects of the models named (all when none is)."""
    objects = all_objects(render_workspace(ws, model_ids, versions))
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
        live = [
            obj for obj in live if obj["metadata"]["labels"].get("modelyard.dev/model") in model_ids
        ]
    return plan(desired, live, ctx.owner_selector(), prune=prune)


def _apply_order(change: Change) -> tuple[int, str]:
    return (_ORDER.get((change.key.group, change.key.kind), len(_ORDER)), str(change.key))


def execute(cluster: Cluster, the_plan: Plan, *, dry_run: bool = False) -> None:
    """Apply creates and updates in dependency order, then prune (reverse order)."""
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
