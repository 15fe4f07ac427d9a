"""Capacity commands: ``tune`` (right-sizing, and its replay on traces) and ``cost``.

The usage history comes from the local state store today; it is opened in ``_usage_source``
only, so moving the store (or reading the Backend seam instead) is a one-line change.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli import capacity_views
from modelyard.cli.output import console, emit, print_json

if TYPE_CHECKING:
    from modelyard.backends import Backend
    from modelyard.capacity.sources import UsageSource
    from modelyard.config import Workspace
    from modelyard.observe.usage import UsageSample

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (or any folder inside it).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class TraceFormat(StrEnum):
    bitbrains = "bitbrains"
    gentd26 = "gentd26"


class GroupBy(StrEnum):
    team = "team"
    dri = "dri"
    model = "model"


def register(app: typer.Typer) -> None:
    app.command("tune")(tune)
    app.command("cost")(cost)
    capacity_app = typer.Typer(
        help="Capacity advice: packing of pods on a node pool.", rich_markup_mode=None
    )
    capacity_app.command("pack")(pack)
    app.add_typer(capacity_app, name="capacity")


class Expander(StrEnum):
    largest = "largest"
    first = "first"


def pack(
    pods: Annotated[Path, typer.Option("--pods", help="openb pod list (CSV).")],
    nodes: Annotated[Path, typer.Option("--nodes", help="openb node list (CSV).")],
    placements: Annotated[
        Path | None, typer.Option("--placements", help="Write every placement to this CSV.")
    ] = None,
    expander: Annotated[
        Expander, typer.Option(help="Type of an added node: largest that fits, or list order.")
    ] = Expander.largest,
    as_json: JsonOpt = False,
) -> None:
    """Replay pod creations and deletions under LeastAllocated, MostAllocated and modelyard."""
    import csv

    from modelyard.capacity.packing import POLICIES
    from modelyard.capacity.packing import pack as run_pack
    from modelyard.capacity.pods import read_nodes, read_pods
    from modelyard.capacity.traces import SkippedRow

    skipped: list[SkippedRow] = []
    pod_list = read_pods(pods, skipped)
    types = read_nodes(nodes, skipped)
    results = [run_pack(pod_list, types, p, expander.value) for p in POLICIES]
    report = {
        "pods": len(pod_list),
        "node_types": {
            t.name: {
                "cpu_milli": t.cpu_milli,
                "memory_mib": t.memory_mib,
                "gpus": t.gpus,
                "gpu_model": t.gpu_model,
                "count": t.count,
            }
            for t in types
        },
        "expander": expander.value,
        "policies": {r.policy: r.summary() for r in results},
        "skipped": [str(s) for s in skipped],
    }
    if placements is not None:
        with placements.open("w", newline="") as handle:
            fields = [
                "policy",
                "time",
                "event",
                "pod",
                "node",
                "node_type",
                "cpu_milli",
                "memory_mib",
                "gpus",
            ]
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for r in results:
                writer.writerows(r.placements)
    emit(as_json, report, lambda: capacity_views.pack_table(report))


def _usage_source(ws: Workspace) -> UsageSource:
    # usage history comes through the Backend seam: the local state store, or the cluster's
    from modelyard.backends import backend_for

    return _BackendUsage(backend_for(ws))


class _BackendUsage:
    """A backend's usage history, one subject (``server:<id>``, ``train:<id>``) at a time."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def usage(self, subject: str, *, since: float | None = None) -> list[UsageSample]:
        model_id = subject.partition(":")[2]
        samples = self._backend.usage(model_id, since=since)
        return [s for s in samples if s.subject == subject]


def tune(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Model id (every model when omitted), or trace files with --replay."),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Edit deploy.yaml; print the diff.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="With --write: lower requests even on a short history."),
    ] = False,
    replay: Annotated[
        bool, typer.Option("--replay", help="Replay trace FILES through every policy, hourly.")
    ] = False,
    trace_format: Annotated[
        TraceFormat, typer.Option("--format", help="Trace format of the --replay files.")
    ] = TraceFormat.bitbrains,
    memory_capacity_gib: Annotated[
        float, typer.Option(help="GenTD26: the containers' nominal memory limit, GiB.")
    ] = 16.0,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Recommend CPU and memory requests from usage history (modelyard's policy)."""
    if replay:
        _replay([Path(t) for t in targets or []], trace_format, memory_capacity_gib, as_json)
        return
    from modelyard.backends import backend_for
    from modelyard.backends.tuning import tune_models
    from modelyard.config import load_workspace

    ws = load_workspace(workspace)
    advice = tune_models(ws, backend_for(ws), targets or (), write=write, force=force)
    rows = [a.row for a in advice]
    diffs = [a.diff for a in advice]
    if as_json:
        print_json({"models": rows, "written": [d for d in diffs if d]})
        return
    capacity_views.tune_table(rows)
    for diff in diffs:
        if diff:
            console.print(diff, highlight=False, markup=False)


def _replay(paths: list[Path], fmt: TraceFormat, memory_capacity_gib: float, as_json: bool) -> None:
    from modelyard.capacity import (
        ModelyardPolicy,
        StaticPolicy,
        VpaPolicy,
        read_bitbrains,
        read_gentd26,
        replay_trace,
    )
    from modelyard.errors import ConfigError

    if not paths:
        raise ConfigError("tune --replay needs at least one trace file")
    if fmt is TraceFormat.bitbrains:
        trace = read_bitbrains(paths)
    else:
        trace = read_gentd26(paths, memory_capacity_gib * 2**30)
    report = replay_trace(trace, [ModelyardPolicy(), VpaPolicy(), StaticPolicy()])
    emit(as_json, report, lambda: capacity_views.replay_table(report))


def cost(
    by: Annotated[
        GroupBy, typer.Option("--by", help="Group by team, dri or model.")
    ] = GroupBy.team,
    days: Annotated[
        int, typer.Option("--days", min=1, max=90, help="Days back, today included.")
    ] = 7,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Daily cost per team, DRI or model from usage history and the workspace's prices."""
    from modelyard.capacity import cost_report
    from modelyard.capacity.advice import cost_lines
    from modelyard.config import load_workspace

    ws = load_workspace(workspace)
    source = _usage_source(ws)
    now = time.time()
    since = now - days * 86400
    lines = cost_lines(ws.models.values(), lambda subject: source.usage(subject, since=since))
    report = cost_report(lines, ws.settings.prices, by=by.value, days=days, now=now)
    emit(as_json, report, lambda: capacity_views.cost_table(report))
