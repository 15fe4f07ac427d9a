"""The ``rollout status`` view: its JSON form and its rich form, for either backend.

The local backend's full view (routing, phase, step, checks, time left, recent events, a dead
supervisor or one that gave up), else a short table of the seam's record. User data (reasons,
event details) goes in as literal text, never as markup.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from modelyard.cli.output import literal

if TYPE_CHECKING:
    from modelyard.backends import RolloutStatus
    from modelyard.backends.local.operations import RolloutView
    from modelyard.backends.local.sink_health import PredictionLogHealth


def when(at: float) -> str:
    """``at`` (Unix time) as an ISO time in UTC, to the second."""
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def view_dict(view: RolloutView) -> dict[str, Any]:
    """The JSON form of ``rollout status``."""
    state, dep = view.state, view.deployment
    return {
        "deployment": None
        if dep is None
        else {
            "status": dep.status,
            "port": dep.port,
            "pid": dep.pid,
            "primary": dep.primary_version,
            "canary": dep.canary_version,
            "canary_weight": dep.canary_weight,
            "shadow": dep.shadow_version,
        },
        "supervisor": {
            "running": view.supervisor_running,
            "dead": _supervisor_dead(view),
            "gave_up": None if dep is None or dep.status != "failed" else _gave_up(view),
        },
        "prediction_log": None if view.prediction_log is None else view.prediction_log.to_dict(),
        "revision": view.revision,
        "active_revision": None
        if view.active is None
        else {"revision": view.active.revision, "version": view.active.version},
        "rollout": None
        if state is None
        else {
            "version": state.version,
            "current": state.current,
            "phase": state.phase.value,
            "status": state.status,
            "step": state.step + 1 if state.step >= 0 else None,
            "steps": list(state.plan.steps),
            "weight": state.weight,
            "paused": state.paused,
            "time_left_s": None if _supervisor_dead(view) else state.time_left(view.now),
            "total_time_left_s": None
            if _supervisor_dead(view)
            else state.total_time_left(view.now),
            "stalled": _supervisor_dead(view) and not state.terminal,
            "checks": [c.to_dict() for c in state.last_checks],
            "outcome": state.outcome.to_dict() if state.outcome else None,
        },
        "events": [
            {"at": e.at, "revision": e.revision, "kind": e.kind, "detail": e.detail}
            for e in view.events
        ],
    }


def render_view(model_id: str, view: RolloutView) -> Group:
    """The rich view of a rollout: routing, phase, step, checks, recent events."""
    from modelyard.cli.views import checks_table

    state, dep = view.state, view.deployment
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    if dep is not None:
        routing = f"primary {dep.primary_version}"
        if dep.canary_version:
            routing += f", canary {dep.canary_version} at {dep.canary_weight:g}%"
        if dep.shadow_version:
            routing += f", shadow {dep.shadow_version} (mirrored)"
        if dep.status == "failed":
            head.add_row(
                "server",
                Text.assemble(
                    ("failed", "bold red"), f": the supervisor gave up: {_gave_up(view)}"
                ),
            )
        elif _supervisor_dead(view):
            head.add_row(
                "server",
                f"[bold red]no supervisor[/]: it died; last recorded {dep.status} on port "
                f"{dep.port} (pid {dep.pid}); nothing restarts the server or drives the rollout "
                "until `modelyard up`",
            )
        else:
            head.add_row("server", f"{dep.status} on port {dep.port} (pid {dep.pid})")
        head.add_row("routing", routing)
    if view.prediction_log is not None:
        head.add_row("prediction log", log_health_text(view.prediction_log))
    if view.active is not None:
        head.add_row("serving", f"revision {view.active.revision} (version {view.active.version})")
    parts: list[Any] = [head]
    if state is None:
        head.add_row("rollout", "none yet")
        if view.events:
            parts.append(_events_table(view))
        return Group(*parts)
    head.add_row("rollout", f"revision {view.revision}: {state.current} -> {state.version}")
    colour = {"promoted": "green", "rolled_back": "red", "aborted": "yellow"}
    head.add_row("phase", f"[{colour.get(state.phase.value, 'cyan')}]{state.status}[/]")
    steps = " ".join(
        f"[reverse]{w:g}%[/]" if i == state.step else f"{w:g}%"
        for i, w in enumerate(state.plan.steps)
    )
    shadow = f"shadow {state.plan.shadow:g}s, " if state.plan.shadow else ""
    head.add_row("plan", f"{shadow}steps {steps}, {state.plan.interval:g}s each")
    left = state.time_left(view.now)
    if _supervisor_dead(view) and not state.terminal:
        head.add_row("time left", "[bold red]stalled[/]: no supervisor drives this rollout")
    elif left is not None:
        total = state.total_time_left(view.now)
        more = f" ({total:.1f}s to promotion if all pass)" if total is not None else ""
        head.add_row("time left", f"{left:.1f}s in this phase{more}")
    if state.outcome is not None:
        outcome = state.outcome
        by = outcome.by or "-"
        reason = outcome.reason if by in outcome.reason else f"{outcome.reason} (by {by})"
        head.add_row("outcome", literal(reason))
    if state.last_checks:
        parts.append(checks_table(state.last_checks))
    parts.append(_events_table(view))
    return Group(*parts)


def log_health_text(health: PredictionLogHealth) -> str:
    dropped = f", [bold red]{health.dropped:g} dropped[/] (buffer full)" if health.dropped else ""
    if health.broker_up is None:
        return f"Parquet: {health.written:g} written{dropped}"
    brokers = "brokers up" if health.broker_up else "[bold red]brokers not answering[/]"
    spilled = f"[yellow]{health.spilled:g} spilled to Parquet[/]" if health.spilled else "0 spilled"
    return f"Kafka ({brokers}): {health.delivered:g} delivered, {spilled}{dropped}"


def _events_table(view: RolloutView) -> Table:
    events = Table(title="recent events", title_justify="left")
    for column in ("at", "rev", "event", "detail"):
        events.add_column(column)
    for event in view.events[-8:]:
        events.add_row(
            when(event.at)[11:], str(event.revision), event.kind, literal(_brief(event.detail))
        )
    return events


def _gave_up(view: RolloutView) -> str:
    """Why the supervisor gave up (its last ``gave_up`` event), for the server row."""
    found = [e for e in view.events if e.kind == "gave_up"]
    if not found:
        return "see `modelyard history`"
    detail = found[-1].detail
    return f"{detail.get('start_failures')} failed start(s): {detail.get('reason', '')}"[:300]


def _supervisor_dead(view: RolloutView) -> bool:
    """A deployment that should be running (not stopped) whose supervisor is gone."""
    dep = view.deployment
    return (
        dep is not None and dep.status not in ("stopped", "failed") and not view.supervisor_running
    )


def _brief(detail: dict[str, Any]) -> str:
    if "checks" in detail:
        return f"{detail.get('phase')}: {detail.get('verdict')}"
    if detail.get("failed_check"):
        check = detail["failed_check"]
        return f"{check['name']}={check['value']} > {check['threshold']} ({detail.get('reason')})"
    keep = {k: v for k, v in detail.items() if k not in ("plan", "until")}
    return ", ".join(f"{k}={v}" for k, v in keep.items())[:90]


def status_dict(status: RolloutStatus) -> dict[str, Any]:
    """The JSON form of ``rollout status``: the local view as before, else the seam's record."""
    from modelyard.backends.local.operations import RolloutView

    if isinstance(status.detail, RolloutView):
        return view_dict(status.detail)
    return {
        "backend": status.backend,
        "serving": status.serving,
        "canary": status.canary,
        "canary_share": status.canary_share,
        "rollout": {
            "version": status.rollout_version,
            "phase": status.phase,
            "step": status.step,
            "paused": status.paused,
            "finished": status.finished,
        },
    }


def render_status(model_id: str, status: RolloutStatus) -> Any:
    """The rich view: the local backend's full one, else a short table of the seam's record."""
    from modelyard.backends.local.operations import RolloutView

    if isinstance(status.detail, RolloutView):
        return render_view(model_id, status.detail)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("backend", status.backend)
    head.add_row("serving", str(status.serving or "nothing yet"))
    if status.canary:
        head.add_row("canary", f"{status.canary} at {status.canary_share:.0%}")
    if status.rollout_version is not None:
        step = f", step {status.step}" if status.step else ""
        paused = ", paused" if status.paused else ""
        done = "finished" if status.finished else "in progress"
        head.add_row(
            "rollout", f"version {status.rollout_version}: {status.phase}{step}{paused} ({done})"
        )
    return head
