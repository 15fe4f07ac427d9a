"""Deployment commands of the local backend: ``deploy``, ``up``, ``down``, ``rollout ...``,
``rollback``, ``history``."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from modelyard.cli.output import console, emit, errors_to_exit
from modelyard.cli.workspace_cmds import JsonOpt, WorkspaceOpt

if TYPE_CHECKING:
    from modelyard.platform.local import Command, DeployResult, RolloutView

ModelArg = Annotated[str, typer.Argument(help="Model id.")]

rollout_app = typer.Typer(help="Watch and steer a model's rollout.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.command("up")(up)
    app.command("down")(down)
    app.command("rollback")(rollback)
    app.command("history")(history)
    rollout_app.command("status")(status)
    for name in ("promote", "pause", "resume", "abort"):
        rollout_app.command(name, help=_HELP[name])(_steer(name))
    app.add_typer(rollout_app, name="rollout")


_HELP = {
    "promote": "Skip the remaining steps: the new version takes 100 % now.",
    "pause": "Hold the current weight; timers and analysis stop until resume.",
    "resume": "Continue a paused rollout with the time it had left.",
    "abort": "Stop the rollout: all traffic back to the current version.",
}


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _deploy_row(result: DeployResult) -> dict[str, Any]:
    return {
        "model": result.model_id,
        "version": result.version,
        "revision": result.revision,
        "action": result.action,
        "url": result.url,
    }


def _print_deploy(result: DeployResult) -> None:
    if result.action == "started":
        console.print(f"{result.model_id} version {result.version} serving at {result.url}")
    elif result.action == "rollout":
        console.print(
            f"rolling out {result.model_id} version {result.version} (revision "
            f"{result.revision}); watch it: modelyard rollout status {result.model_id} --watch"
        )
    else:
        console.print(f"{result.model_id} version {result.version} serves at {result.url}")


def deploy(
    model_id: ModelArg,
    version: Annotated[int | None, typer.Option("--version", "-v", help="Version.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Serve a version (the newest by default) under a supervised server process.

    A model not served yet starts serving at once; a served one rolls the version out through
    the steps of deploy.yaml (pre-warm, shadow, canary steps, promote).
    """
    from modelyard.config import load_workspace
    from modelyard.platform.local import deploy as run_deploy

    with errors_to_exit():
        ws = load_workspace(workspace)
        result = run_deploy(ws, model_id, version, by=_user())
    emit(as_json, _deploy_row(result), lambda: _print_deploy(result))


def up(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Start every model whose model.yaml state is production or staging."""
    from modelyard.config import load_workspace
    from modelyard.platform.local import up as run_up

    with errors_to_exit():
        results = run_up(load_workspace(workspace))
    rows = [_deploy_row(r) for r in results]

    def human() -> None:
        for result in results:
            _print_deploy(result)
        if not results:
            console.print("no model is in state production or staging")

    emit(as_json, rows, human)


def down(
    model_ids: Annotated[list[str] | None, typer.Argument(help="Models (default: all).")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Stop the model servers gracefully: each finishes the requests it has (drains)."""
    from modelyard.config import load_workspace
    from modelyard.platform.local import down as run_down

    with errors_to_exit():
        stopped = run_down(load_workspace(workspace), model_ids or None)
    emit(
        as_json,
        {"stopped": stopped},
        lambda: console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}"),
    )


# ---------------------------------------------------------------------- rollout status


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
            "time_left_s": state.time_left(view.now),
            "total_time_left_s": state.total_time_left(view.now),
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
    from modelyard.platform.views import checks_table

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
        head.add_row("server", f"{dep.status} on port {dep.port} (pid {dep.pid})")
        head.add_row("routing", routing)
    if view.active is not None:
        head.add_row("serving", f"revision {view.active.revision} (version {view.active.version})")
    parts: list[Any] = [head]
    if state is None:
        head.add_row("rollout", "none yet")
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
    if left is not None:
        total = state.total_time_left(view.now)
        more = f" ({total:.1f}s to promotion if all pass)" if total is not None else ""
        head.add_row("time left", f"{left:.1f}s in this phase{more}")
    if state.outcome is not None:
        outcome = state.outcome
        by = outcome.by or "-"
        head.add_row(
            "outcome", outcome.reason if by in outcome.reason else f"{outcome.reason} (by {by})"
        )
    if state.last_checks:
        parts.append(checks_table(state.last_checks))
    events = Table(title="recent events", title_justify="left")
    for column in ("at", "rev", "event", "detail"):
        events.add_column(column)
    for event in view.events[-8:]:
        events.add_row(_when(event.at)[11:], str(event.revision), event.kind, _brief(event.detail))
    parts.append(events)
    return Group(*parts)


def _brief(detail: dict[str, Any]) -> str:
    if "checks" in detail:
        return f"{detail.get('phase')}: {detail.get('verdict')}"
    if detail.get("failed_check"):
        check = detail["failed_check"]
        return f"{check['name']}={check['value']} > {check['threshold']} ({detail.get('reason')})"
    keep = {k: v for k, v in detail.items() if k not in ("plan", "until")}
    return ", ".join(f"{k}={v}" for k, v in keep.items())[:90]


def status(
    model_id: ModelArg,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until it ends.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Show the rollout: routing, phase, step and weight, analysis figures, time left."""
    from rich.live import Live

    from modelyard.config import load_workspace
    from modelyard.platform.local import rollout_view

    with errors_to_exit():
        ws = load_workspace(workspace)
        view = rollout_view(ws, model_id)
        if as_json or not watch:
            emit(as_json, view_dict(view), lambda: console.print(render_view(model_id, view)))
            return
        with Live(render_view(model_id, view), console=console, refresh_per_second=4) as live:
            while view.state is not None and not view.state.terminal:
                time.sleep(0.25)
                view = rollout_view(ws, model_id)
                live.update(render_view(model_id, view))


def _steer(command: str) -> Any:
    def run(model_id: ModelArg, workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
        from modelyard.config import load_workspace
        from modelyard.platform.local import rollout_command, rollout_view

        with errors_to_exit():
            ws = load_workspace(workspace)
            cmd: Command = command  # type: ignore[assignment]
            state = rollout_command(ws, model_id, cmd, by=_user())
            view = rollout_view(ws, model_id)
        emit(
            as_json,
            view_dict(view),
            lambda: console.print(f"{model_id}: {command} done; rollout is {state.status}"),
        )

    run.__name__ = command
    run.__doc__ = _HELP[command]
    return run


# ---------------------------------------------------------------------- rollback, history


def rollback(
    model_id: ModelArg, workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False
) -> None:
    """Back to the previous revision at once (during a rollout, or after one finished).

    Returns once the server answers with the previous version.
    """
    from modelyard.config import load_workspace
    from modelyard.platform.local import rollback as run_rollback

    with errors_to_exit():
        result = run_rollback(load_workspace(workspace), model_id, by=_user())
    row = {
        "model": result.model_id,
        "version": result.version,
        "revision": result.revision,
        "rolled_back_revision": result.rolled_back,
        "during_rollout": result.during_rollout,
    }
    emit(
        as_json,
        row,
        lambda: console.print(
            f"{model_id}: revision {result.rolled_back} rolled back; version {result.version} "
            f"serves all traffic"
        ),
    )


def history(model_id: ModelArg, workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Revisions of a deployment: version, who and when, outcome."""
    from modelyard.config import load_workspace
    from modelyard.platform.local import history as run_history

    with errors_to_exit():
        revisions = run_history(load_workspace(workspace), model_id)
    rows = [
        {
            "revision": r.revision,
            "version": r.version,
            "by": r.created_by,
            "at": _when(r.created_at),
            "outcome": r.outcome,
            "reason": r.reason,
        }
        for r in revisions
    ]

    def human() -> None:
        table = Table(title=f"History of {model_id}", title_justify="left")
        for column in ("revision", "version", "by", "at", "outcome", "reason"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                *(str(row[c]) for c in ("revision", "version", "by", "at", "outcome", "reason"))
            )
        console.print(table if rows else f"{model_id} was never deployed")

    emit(as_json, rows, human)
