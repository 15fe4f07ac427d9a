"""Deployment commands on either backend: ``deploy``, ``up``, ``down``, ``rollout ...``,
``rollback``, ``history``.

Each command picks a :class:`~modelyard.backends.Backend` (``--backend``, else
``modelyard.yaml``'s ``backend``) and calls one method of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelyard.cli.output import console, emit, literal, print_json, say
from modelyard.cli.workspace_cmds import BackendOpt, JsonOpt, ModelArg, ModelsArg, WorkspaceOpt

if TYPE_CHECKING:
    from modelyard.backends import Backend, Command, DeployResult

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


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _backend(workspace: Path, name: str | None) -> Backend:
    from modelyard.backends import backend_for
    from modelyard.config import load_workspace

    return backend_for(load_workspace(workspace, backend=name), name)


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
    """Start every model whose model.yaml state is production or staging.

    Locally also a Prometheus scraping them (observability.prometheus: true), the due
    scheduled pipelines, and a scheduler process for later fire times.
    """
    from modelyard.cli.companions import start_companions
    from modelyard.config import load_workspace

    chosen = _backend(workspace, backend)
    results = chosen.up()
    rows = [_deploy_row(r) for r in results]
    extra = start_companions(load_workspace(workspace), results) if chosen.name == "local" else []

    def human() -> None:
        for result in results:
            _print_deploy(result)
        if not results:
            console.print("no model is in state production or staging")
        for line in extra:
            console.print(line, highlight=False)

    emit(as_json, rows, human)


def down(
    model_ids: ModelsArg = None,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Stop serving: local servers drain first; on Kubernetes the model's objects are deleted.

    Without model ids, locally also what `up` started beside them (Prometheus, scheduler).
    """
    from modelyard.cli.companions import stop_companions
    from modelyard.config import load_workspace

    chosen = _backend(workspace, backend)
    stopped = chosen.down(model_ids or None)
    everything = chosen.name == "local" and not model_ids
    also = stop_companions(load_workspace(workspace)) if everything else []
    every = [*stopped, *also]
    emit(
        as_json,
        {"stopped": stopped, "also_stopped": also},
        lambda: console.print(f"stopped: {', '.join(every) or 'nothing was running'}"),
    )


# ---------------------------------------------------------------------- rollout status


def status(
    model_id: ModelArg,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until it ends.")] = False,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Show the rollout: routing, phase, step and weight, analysis figures, time left."""
    from rich.live import Live

    from modelyard.cli.rollout_views import render_status, status_dict

    chosen = _backend(workspace, backend)
    found = chosen.status(model_id)
    if as_json or not watch:
        emit(as_json, status_dict(found), lambda: console.print(render_status(model_id, found)))
        return
    with Live(render_status(model_id, found), console=console.real(), refresh_per_second=4) as live:
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
        from modelyard.cli.rollout_views import status_dict

        cmd: Command = command  # type: ignore[assignment]
        found = _backend(workspace, backend).rollout(model_id, cmd, by=_user())
        done = found.phase if found.phase else "done"
        emit(
            as_json,
            status_dict(found),
            lambda: say(f"{model_id}: {command} done; rollout is {done}"),
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
        lambda: say(
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
    from modelyard.cli.rollout_views import when

    revisions = _backend(workspace, backend).history(model_id)
    rows = [
        {
            "revision": r.revision,
            "version": r.version,
            "by": r.created_by,
            "at": when(r.created_at),
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
                *(literal(row[c]) for c in ("revision", "version", "by", "at", "outcome", "reason"))
            )
        console.print(table if rows else f"{model_id} was never deployed")

    emit(as_json, rows, human)
