"""``modelyard ui``: the web console on loopback (see :mod:`modelyard.console`).

Starlette, uvicorn, the registry and the backend are imported in the command body only, so
``modelyard --help`` never loads them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelyard.cli.output import console
from modelyard.cli.workspace_cmds import BackendOpt, WorkspaceOpt

if TYPE_CHECKING:
    from modelyard.config import Workspace


def ui(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8300,
    host: Annotated[str, typer.Option(help="Address to listen on (keep it loopback).")] = (
        "127.0.0.1"
    ),
    mlflow_url: Annotated[
        str | None, typer.Option(help="MLflow UI to link runs to, e.g. http://127.0.0.1:5000.")
    ] = None,
    grafana_url: Annotated[
        str | None, typer.Option(help="Grafana to link the dashboards to (modelyard dashboards).")
    ] = None,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
) -> None:
    """Serve the web console: models, deployments, history, usage and cost (Ctrl-C stops).

    Pages are read-only; promote, abort and rollback need the admin token
    (.modelyard/admin-token, or $MODELYARD_ADMIN_TOKEN).
    """
    from modelyard.backends import backend_for
    from modelyard.config import load_workspace
    from modelyard.console import ConsoleData, Links, serve
    from modelyard.registry import Registry
    from modelyard.workflows.serve import admin_token

    ws = load_workspace(workspace)
    registry = Registry.for_workspace(ws)
    data = ConsoleData(
        ws,
        backend_for(ws, backend),
        registry,
        Links(mlflow=mlflow_url, grafana=grafana_url),
        experiment_of=registry.tracking.experiment_id,
        pools=_pool_views(ws) if ws.settings.pools else lambda: [],
    )
    console.print(f"modelyard console on http://{host}:{port} (Ctrl-C stops)")
    serve(data, admin_token(ws), host, port)


def _pool_views(ws: Workspace) -> Callable[[], list[dict[str, Any]]]:
    from modelyard.backends.local import pools

    return lambda: pools.views(ws)


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
