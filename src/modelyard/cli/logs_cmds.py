"""``modelyard logs``: a training run's log, a server's log and its restarts, or the
deployment's events, on either backend (see ``backends/model_logs.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli.output import console, literal, print_json
from modelyard.cli.workspace_cmds import BackendOpt, JsonOpt, ModelArg, WorkspaceOpt

if TYPE_CHECKING:
    from modelyard.backends import DeploymentEvent
    from modelyard.backends.model_logs import ModelLogs

FOLLOW_POLL_S = 0.5


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)


def logs(
    model_id: ModelArg,
    run: Annotated[
        str | None, typer.Option("--run", help="A training run's log (its MLflow run id).")
    ] = None,
    version: Annotated[
        int | None,
        typer.Option("--version", min=1, help="The log of the run that trained version N."),
    ] = None,
    server: Annotated[
        bool, typer.Option("--server", help="The server's log, then its starts and exits.")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing what is added (Ctrl-C ends).")
    ] = False,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="Last lines of each log (0: all).")
    ] = 200,
    backend: BackendOpt = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """A training run's log, a server's log and restarts, or the deployment's events."""
    from modelyard.backends import backend_for
    from modelyard.backends.model_logs import model_logs
    from modelyard.config import load_workspace
    from modelyard.errors import ConfigError

    if follow and as_json:
        raise ConfigError("--follow prints as things happen; it does not go with --json")
    ws = load_workspace(workspace)
    chosen = backend_for(ws, backend)

    def read() -> ModelLogs:
        return model_logs(
            chosen, ws, model_id, run_id=run, version=version, server=server,
            tail_lines=lines or None,
        )  # fmt: skip

    found = read()
    if as_json:
        print_json(asdict(found))
        return
    _print(found)
    if follow:
        # a run's log has no events; a server's log and the story do
        watch = run is None and version is None
        _follow(found, (lambda: read().events) if watch else None)


def _print(found: ModelLogs) -> None:
    for log in found.logs:
        heading = f"==> {log.source}" + (f" ({log.path})" if log.path else "")
        console.print(literal(heading), soft_wrap=True)
        if log.text:
            console.file.write(log.text if log.text.endswith("\n") else log.text + "\n")
        console.file.flush()
    if found.events or not found.logs:
        _print_events(found.events)


def _print_events(events: Sequence[DeploymentEvent], empty: str = "no events yet") -> None:
    if not events and empty:
        console.print(empty)
    for event in events:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
        console.print(literal(f"{at}  {event.message}"), soft_wrap=True)


def _follow(found: ModelLogs, events: Callable[[], Sequence[DeploymentEvent]] | None) -> None:
    """Print what is appended to the local log files, and new events, until Ctrl-C."""
    # from where each log was read, not its size now: a line written meanwhile is printed
    files = {log.path: log.end for log in found.logs if log.path}
    seen = len(found.events)
    try:
        while True:
            for path, offset in list(files.items()):
                if not Path(path).exists():
                    continue
                with Path(path).open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                if chunk:
                    files[path] = offset + len(chunk)
                    console.file.write(chunk.decode("utf-8", errors="replace"))
                    console.file.flush()
            if events is not None:
                current = events()
                _print_events(current[seen:], empty="")
                seen = max(seen, len(current))
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        return
