"""``modelyard notebook ID``: JupyterLab in the model's runtime, logging into its experiment.

The URL with the token is printed to the user's terminal only: when stdout is not a terminal
(a log file, a pod's log) it is printed with the token left out unless ``--print-url`` asks
for it. See :mod:`modelyard.workflows.notebook`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli.output import console
from modelyard.cli.workspace_cmds import ModelArg, WorkspaceOpt

if TYPE_CHECKING:
    from modelyard.workflows.notebook import NotebookLaunch


def register(app: typer.Typer) -> None:
    app.command("notebook")(notebook)


def notebook(
    model_id: ModelArg,
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8888,
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
    print_url: Annotated[
        bool,
        typer.Option(
            "--print-url",
            help="Print the URL with its token even when stdout is not a terminal.",
        ),
    ] = False,
    root_dir: Annotated[
        Path | None,
        typer.Option(help="Folder JupyterLab opens and kernels start in (default: the model's)."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="Use the token in this file (e.g. a mounted Secret) instead of a new one."
        ),
    ] = None,
    workspace: WorkspaceOpt = Path(),
) -> None:
    """Start JupyterLab in the model's runtime environment, its runs tracked in the model's
    MLflow experiment (beside the training runs). Ctrl-C stops it."""
    from modelyard.config import load_workspace
    from modelyard.workflows.notebook import (
        NotebookOptions,
        discard_token,
        prepare_notebook,
        run_notebook,
    )

    ws = load_workspace(workspace)
    options = NotebookOptions(host=host, port=port, open_browser=not no_browser, root_dir=root_dir)
    launch = prepare_notebook(ws, model_id, options, token_file)
    show_token = print_url or sys.stdout.isatty()

    def ready(started: NotebookLaunch) -> None:
        if show_token:
            console.print(f"JupyterLab for {started.model_id}: {started.url}", soft_wrap=True)
        else:
            console.print(
                f"JupyterLab for {started.model_id}: {started.shown_url} (the token is not "
                "printed where stdout is not a terminal; pass --print-url)",
                soft_wrap=True,
            )
        console.print(
            f"runs started in it land in MLflow experiment {started.model_id!r}; Ctrl-C stops",
            soft_wrap=True,
        )

    try:
        code = run_notebook(launch, ready)
    finally:
        discard_token(launch, made_here=token_file is None)
    if code:
        raise typer.Exit(code)
