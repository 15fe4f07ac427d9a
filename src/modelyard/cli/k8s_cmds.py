"""Kubernetes commands: ``render``, ``diff`` and ``apply``.

``render`` needs no cluster; ``diff`` and ``apply`` reach the cluster of the kubeconfig
(``kubernetes.context`` in modelyard.yaml, else the current context).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli.output import console, emit, err_console
from modelyard.cli.workspace_cmds import JsonOpt, ModelsArg, WorkspaceOpt, model_ids_param

if TYPE_CHECKING:
    from modelyard.config import Workspace
    from modelyard.k8s import Cluster, ModelManifests, Plan

IdsArg = ModelsArg
PinOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--version",
        help="Pin the registry version a model's pods serve: --version ctr=3 (repeatable). "
        "Unpinned served models get the registry's production version, or are refused. "
        "A new pin changes the pod template, which starts a rollout.",
    ),
]


def _pins(pairs: list[str] | None) -> dict[str, int]:
    from modelyard.errors import ConfigError

    pins: dict[str, int] = {}
    for pair in pairs or []:
        model, _, number = pair.partition("=")
        if not model or not number.isdigit() or int(number) < 1:
            raise ConfigError(f"--version {pair!r}: write it as MODEL=N, e.g. --version ctr=3")
        pins[model] = int(number)
    return pins


def _with_production(
    ws: Workspace, model_ids: list[str] | None, pins: dict[str, int]
) -> dict[str, int]:
    """``pins``, plus the registry's production version of each served model not pinned,
    where the registry answers; a model left out is reported by rendering, which refuses it.
    """
    from modelyard.errors import ModelyardError
    from modelyard.k8s.render import serves

    wanted = [
        entry.id
        for entry in ([ws.model(i) for i in model_ids] if model_ids else ws.models.values())
        if serves(entry) and entry.id not in pins
    ]
    uri = ws.tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        wanted = []  # no registry yet, so nothing in production (and rendering creates none)
    if not wanted:
        return pins
    # Rendering needs no server: ask once, quickly, instead of MLflow's minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    found = dict(pins)
    try:
        from modelyard.registry import Registry

        registry = Registry.for_workspace(ws)
        for model_id in wanted:
            production = registry.production(model_id)
            if production is not None:
                found[model_id] = production.version
    except (ModelyardError, OSError) as exc:
        err_console.print(
            f"[yellow]note:[/] the registry at {ws.tracking_uri} did not answer ({exc}); "
            "pin versions with --version MODEL=N",
            highlight=False,
        )
    return found


def register(app: typer.Typer) -> None:
    app.command("render")(render)
    app.command("diff")(diff)
    app.command("apply")(apply)


def render(
    model_ids: IdsArg = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write one kustomize folder per model here (else stdout)."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Validate every object against its schema.")
    ] = False,
    version: PinOpt = None,
    scheduler_profile: Annotated[
        str | None,
        typer.Option(help="Also emit a KubeSchedulerConfiguration: modelyard, MostAllocated..."),
    ] = None,
    notebook: Annotated[
        list[str] | None,
        typer.Option(
            help="Emit a notebook StatefulSet for this model (repeatable); alone, only those.",
            callback=model_ids_param,
        ),
    ] = None,
    workspace: WorkspaceOpt = Path(),
) -> None:
    """Render Kubernetes manifests of the models (YAML, deterministic)."""
    from modelyard.config import load_workspace
    from modelyard.k8s import (
        RenderContext,
        Validator,
        all_objects,
        render_workspace,
        to_documents,
        write_tree,
    )
    from modelyard.k8s.notebook import render_notebooks
    from modelyard.k8s.render import shared_objects

    ws = load_workspace(workspace, backend="kubernetes")
    notebooks = render_notebooks(ws, notebook or ())
    if notebooks and not model_ids:  # `render --notebook ID` alone: just the notebooks
        _emit(notebooks, out, check, ws.settings.kubernetes.namespace)
        return
    rendered = render_workspace(
        ws, model_ids or (), _with_production(ws, model_ids, _pins(version))
    )
    # Model ids are DNS labels; folders of what models share (pools) start with "_".
    models = sum(not m.model_id.startswith("_") for m in rendered)
    rendered.append(shared_objects(RenderContext.of(ws)))
    dashboards = None
    if not model_ids:  # the workspace's Grafana dashboards, beside the models' folders
        from modelyard.k8s.dashboards import dashboard_manifests

        dashboards = dashboard_manifests(ws)
        rendered.append(dashboards)
    rendered += notebooks
    if check:
        Validator().check([*all_objects(rendered), *(m.job for m in rendered if m.job is not None)])
    if scheduler_profile is not None:  # the profile capacity pack advises
        from modelyard.k8s.scheduler import scheduler_configuration

        typer.echo(to_documents([scheduler_configuration(scheduler_profile)]), nl=False)
    if out is None:
        typer.echo(to_documents(all_objects(rendered)), nl=False)
        return
    written = write_tree(rendered, out, ws.settings.kubernetes.namespace)
    console.print(
        f"[green]rendered[/] {models} model(s)"
        + (" and the dashboards" if dashboards is not None else "")
        + (f" and {len(notebooks)} notebook(s)" if notebooks else "")
        + f", {len(written)} file(s) in {out}"
        + (" (validated)" if check else "")
    )


def _emit(rendered: list[ModelManifests], out: Path | None, check: bool, namespace: str) -> None:
    from modelyard.k8s import Validator, all_objects, to_documents, write_tree

    if check:
        Validator().check(all_objects(rendered))
    if out is None:
        typer.echo(to_documents(all_objects(rendered)), nl=False)
        return
    written = write_tree(rendered, out, namespace)
    validated = " (validated)" if check else ""
    console.print(
        f"[green]rendered[/] {len(rendered)} notebook(s), {len(written)} file(s){validated}"
    )


def _plan(
    ws_path: Path, model_ids: list[str] | None, prune: bool, pins: list[str] | None
) -> tuple[Plan, Cluster]:
    from modelyard.config import load_workspace
    from modelyard.k8s import workspace_plan
    from modelyard.k8s.kube import KubeCluster

    ws = load_workspace(ws_path, backend="kubernetes")
    versions = _with_production(ws, model_ids, _pins(pins))
    cluster = KubeCluster(ws.settings.kubernetes.context)
    return workspace_plan(cluster, ws, model_ids or (), prune=prune, versions=versions), cluster


def _plan_json(the_plan: Plan) -> dict[str, object]:
    return {
        "summary": the_plan.summary(),
        "changes": [
            {"action": c.action, "object": str(c.key), "fields": list(c.fields)}
            for c in the_plan.changes
        ],
    }


def _show(the_plan: Plan, as_json: bool, verbose: bool = False) -> None:
    from modelyard.k8s import describe

    def human() -> None:
        for line in describe(the_plan, verbose=verbose):
            console.print(line, highlight=False)

    emit(as_json, _plan_json(the_plan), human)


def diff(
    model_ids: IdsArg = None,
    prune: Annotated[
        bool, typer.Option("--prune/--no-prune", help="Show objects that would be pruned.")
    ] = True,
    version: PinOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Show what 'apply' would change in the cluster: create, update, prune."""
    the_plan, _ = _plan(workspace, model_ids, prune, version)
    _show(the_plan, as_json)


def apply(
    model_ids: IdsArg = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Server-side dry run: nothing is changed.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune/--no-prune", help="Delete owned objects no longer rendered."),
    ] = True,
    version: PinOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Server-side apply the rendered objects (field manager 'modelyard') and prune."""
    from modelyard.k8s.apply import execute

    the_plan, cluster = _plan(workspace, model_ids, prune, version)
    execute(cluster, the_plan, dry_run=dry_run)
    _show(the_plan, as_json)
    if dry_run and not as_json:
        console.print("[yellow]dry run:[/] nothing was changed")
