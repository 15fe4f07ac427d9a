"""Deployment commands on either backend: ``deploy``, ``up``, ``down``, ``rollout ...``,
``rollback``, ``history``.

Each command picks a :class:`~modelyard.backends.Backend` (``--backend``, else
``modelyard.yaml``'s ``backend``) and calls one method of it.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelyard.cli.output import console, emit, print_json
from modelyard.cli.workspace_cmds import BackendOpt, JsonOpt, WorkspaceOpt

if TYPE_CHECKING:
    from rich.console import Group

    from modelyard.backends import Backend, Command, DeployResult, RolloutStatus
    from modelyard.backends.local.operations import RolloutView

ModelArg = Annotated[str, typer.Argument(help="Model id.")]

rollout_app = typer.Typer(
    help="Watch and steer a model's rollout.", no_args_is_help=True, rich_markup_mode=None
)


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


def _backend(workspace: Path, name: str | None) -> Backend:
    from modelyard.backends import backend_for
    from modelyard.config import load_workspace

    return backend_for(load_workspace(workspace), name)


def _deploy_row(result: DeployResult) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": result.model_id,
        "version": result.version,
        "revision": result.revision,
        "action": result.action,
        "url": result.url,
    }
    if result.plan:
        row["plan"] = list(result.plan)
    return row


def _print_deploy(result: DeployResult) -> None:
    if result.action == "planned":
        from modelyard.k8s import to_documents

        # plain echo, not rich: the YAML must come out unwrapped, fit to pipe into kubectl
        if result.objects:
            typer.echo(to_documents(list(result.objects)), nl=False)
        typer.echo(f"# plan for {result.model_id} version {result.version}:")
        for line in result.plan:
            typer.echo(f"#   {line}")
        typer.echo("# dry run: nothing was changed")
    elif result.action == "started" and result.url is None:
        console.print(
            f"{result.model_id} version {result.version} applied (revision {result.revision})"
        )
        for line in result.plan:
            console.print(f"  {line}", highlight=False, markup=False)
    elif result.action == "started":
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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Kubernetes: print the objects and the plan; change nothing."
        ),
    ] = False,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Serve a version (the newest by default): start serving it, or roll it out.

    A model not served yet starts serving at once; a served one rolls the version out through
    the steps of deploy.yaml (pre-warm, shadow, canary steps, promote). Locally under a
    supervised server process; on Kubernetes by server-side apply of the pinned objects.
    """
    result = _backend(workspace, backend).deploy(model_id, version, by=_user(), dry_run=dry_run)
    if as_json and result.objects:
        print_json({**_deploy_row(result), "objects": list(result.objects)})
        return
    emit(as_json, _deploy_row(result), lambda: _print_deploy(result))


def up(
    backend: BackendOpt = None, workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False
) -> None:
    """Start every model whose model.yaml state is production or staging."""
    results = _backend(workspace, backend).up()
    rows = [_deploy_row(r) for r in results]

    def human() -> None:
        for result in results:
            _print_deploy(result)
        if not results:
            console.print("no model is in state production or staging")

    emit(as_json, rows, human)


def down(
    model_ids: Annotated[list[str] | None, typer.Argument(help="Models (default: all).")] = None,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Stop serving: local servers drain first; on Kubernetes the model's objects are deleted."""
    stopped = _backend(workspace, backend).down(model_ids or None)
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
    from rich.console import Group
    from rich.table import Table

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
    from rich.table import Table

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


def status(
    model_id: ModelArg,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until it ends.")] = False,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Show the rollout: routing, phase, step and weight, analysis figures, time left."""
    from rich.live import Live

    chosen = _backend(workspace, backend)
    found = chosen.status(model_id)
    if as_json or not watch:
        emit(as_json, status_dict(found), lambda: console.print(render_status(model_id, found)))
        return
    with Live(render_status(model_id, found), console=console, refresh_per_second=4) as live:
        while not found.finished:
            time.sleep(0.25 if chosen.name == "local" else 2.0)
            found = chosen.status(model_id)
            live.update(render_status(model_id, found))


def _steer(command: str) -> Any:
    def run(
        model_id: ModelArg,
        backend: BackendOpt = None,
        workspace: WorkspaceOpt = Path(),
        as_json: JsonOpt = False,
    ) -> None:
        cmd: Command = command  # type: ignore[assignment]
        found = _backend(workspace, backend).rollout(model_id, cmd, by=_user())
        done = found.phase if found.phase else "done"
        emit(
            as_json,
            status_dict(found),
            lambda: console.print(f"{model_id}: {command} done; rollout is {done}"),
        )

    run.__name__ = command
    run.__doc__ = _HELP[command]
    return run


# ---------------------------------------------------------------------- rollback, history


def rollback(
    model_id: ModelArg,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Back to the previous revision at once (during a rollout, or after one finished).

    Locally it returns once the server answers with the previous version; on Kubernetes once
    the previous version is applied again. The registry's production alias moves back.
    """
    result = _backend(workspace, backend).rollback(model_id, by=_user())
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


def history(
    model_id: ModelArg,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Revisions of a deployment: version, who and when, outcome."""
    revisions = _backend(workspace, backend).history(model_id)
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
        from rich.table import Table

        table = Table(title=f"History of {model_id}", title_justify="left")
        for column in ("revision", "version", "by", "at", "outcome", "reason"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                *(str(row[c]) for c in ("revision", "version", "by", "at", "outcome", "reason"))
            )
        console.print(table if rows else f"{model_id} was never deployed")

    emit(as_json, rows, human)
