"""Observability commands: ``modelyard dashboards`` writes the workspace's Grafana dashboards.

The dashboard library is imported in the command body only, so ``modelyard --help`` and the
other commands never load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli.output import console, emit
from modelyard.cli.workspace_cmds import JsonOpt, WorkspaceOpt


def dashboards(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write one <uid>.json per dashboard here (else list them)."),
    ] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = Path(),
) -> None:
    """Grafana dashboards of the workspace: an overview, one per team, one per model."""
    from modelyard.config import load_workspace
    from modelyard.observe.dashboards import dashboards as build_all
    from modelyard.observe.dashboards import write_dashboards

    ws = load_workspace(workspace)
    if out is not None:
        written = write_dashboards(ws, out)
        emit(
            as_json,
            [str(path) for path in written],
            lambda: console.print(f"[green]wrote[/] {len(written)} dashboard(s) in {out}"),
        )
        return
    boards = build_all(ws)
    rows = [
        {
            "file": name,
            "uid": data["uid"],
            "title": data["title"],
            "panels": sum(1 for p in data["panels"] if p["type"] != "row"),
        }
        for name, data in boards.items()
    ]
    emit(as_json, rows, lambda: _table(rows))


def _table(rows: list[dict[str, object]]) -> None:
    from rich.table import Table

    table = Table("uid", "title", "panels")
    for row in rows:
        table.add_row(str(row["uid"]), str(row["title"]), str(row["panels"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("dashboards")(dashboards)
