"""``modelyard pools``: the local pool servers and what each holds (loaded models, their
measured memory, last use, evictions), from each pool's admin API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from modelyard.cli.output import console, emit, literal
from modelyard.cli.workspace_cmds import JsonOpt, WorkspaceOpt


def register(app: typer.Typer) -> None:
    app.command("pools")(pools)


def pools(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Show each pool: running or not, its budget and measured use, and every model's state."""
    from rich.table import Table

    from modelyard.backends.local import pools as local_pools
    from modelyard.config import load_workspace

    found = local_pools.views(load_workspace(workspace))

    def human() -> None:
        if not found:
            console.print("no pools: add pools: {NAME: {memory: 2Gi}} to modelyard.yaml")
        for view in found:
            if not view["running"]:
                console.print(f"pool {view['pool']}: not running (modelyard up starts it)")
                continue
            title = (
                f"pool {view['pool']} at {view['url']}: {view['loaded']} loaded, "
                f"{view['memory_used_bytes'] / 2**20:.0f} of "
                f"{view['memory_budget_bytes'] / 2**20:.0f} MiB measured, "
                f"{view['evictions']} evictions"
            )
            table = Table(title=title)
            for column in ("model", "loaded", "pinned", "version", "MiB", "last use", "evictions"):
                table.add_column(column)
            for m in view["models"]:
                used = m["last_used"]
                table.add_row(
                    literal(m["model"]),
                    "yes" if m["loaded"] else "no",
                    "yes" if m["pinned"] else "",
                    literal(m["version"] or "-"),
                    f"{m['memory_bytes'] / 2**20:.1f}" if m["loads"] else "-",
                    dt.datetime.fromtimestamp(used).strftime("%H:%M:%S") if used else "-",
                    str(m["evictions"]),
                )
            console.print(table)

    emit(as_json, found, human)
