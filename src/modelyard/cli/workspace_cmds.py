"""Workspace commands: ``init``, ``validate``, ``schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli.output import console, emit, err_console

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (or any folder inside it).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="local (processes here) or kubernetes (the kubeconfig's cluster); "
        "modelyard.yaml's backend when unset.",
    ),
]


def model_id_param(value: str) -> str:
    """The typer callback of every model-id argument: the id checked once, exit 2 if bad."""
    from modelyard.config.ids import InvalidModelId, parse_model_id

    try:
        return parse_model_id(value)
    except InvalidModelId as exc:
        raise typer.BadParameter(str(exc)) from exc


def model_ids_param(values: list[str] | None) -> list[str] | None:
    """:func:`model_id_param` for a list of ids (``down a b``)."""
    return None if values is None else [model_id_param(v) for v in values]


ModelArg = Annotated[str, typer.Argument(help="Model id.", callback=model_id_param)]
"""A model id on the command line; every command that takes one uses this."""
ModelsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Model ids (default: every model).", callback=model_ids_param),
]


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("validate")(validate)
    app.command("schema")(schema)


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")] = Path(),
) -> None:
    """Create a workspace: modelyard.yaml, runtimes.yaml and an example model 'ctr'."""
    from modelyard.config import init_workspace

    written = init_workspace(directory)
    for path in written:
        console.print(f"  created {path}")
    console.print(
        f"[green]Workspace ready in {directory}.[/] Next: "
        f"'modelyard validate -w {directory}' then 'modelyard train ctr -w {directory}'."
    )


def validate(
    workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False, backend: BackendOpt = None
) -> None:
    """Check every file of the workspace; report each problem as file:line: field: message.

    For the kubernetes backend, the tracking URI and artifact store must be reachable from pods.
    """
    from modelyard.config import InvalidConfig, load_workspace
    from modelyard.errors import ConfigError

    if backend not in (None, "local", "kubernetes"):
        raise ConfigError(f"--backend {backend!r}: write local or kubernetes")
    try:
        ws = load_workspace(workspace, backend=backend)
    except InvalidConfig as exc:
        if as_json:
            issues = [
                {"file": str(i.file), "line": i.line, "field": i.field, "message": i.message}
                for i in exc.issues
            ]
            typer.echo(json.dumps({"valid": False, "issues": issues}, indent=2))
        else:
            err_console.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    summary = {"valid": True, "root": str(ws.root), "models": sorted(ws.models)}
    emit(
        as_json,
        summary,
        lambda: console.print(
            f"[green]ok[/] {ws.root}: {len(ws.models)} model(s) valid: "
            f"{', '.join(sorted(ws.models)) or '-'}"
        ),
    )


def schema(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write one <file>.schema.json per file here.")
    ] = None,
) -> None:
    """Export JSON Schema of modelyard.yaml, runtimes.yaml, model.yaml and deploy.yaml."""
    from modelyard.config import json_schemas

    schemas = json_schemas()
    if out is None:
        typer.echo(json.dumps(schemas, indent=2))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, body in schemas.items():
        path = out / f"{name.removesuffix('.yaml')}.schema.json"
        path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        console.print(f"  wrote {path}")
