"""``modelyard demo``: the whole lifecycle on the local backend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli.output import console


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Workspace folder to create (a temporary one by default)."),
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the temporary workspace.")] = False,
) -> None:
    """Run the whole story: init, train, register, serve, send requests, read metrics, stop."""
    from modelyard.cli.demo import run_demo

    code = run_demo(console.real(), directory, keep)
    raise typer.Exit(code)
