"""Logs and events of a local deployment, read from the workspace's files alone.

The server's log is ``.modelyard/logs/<model>-server.log`` (every server of the model appends
to it; the supervisor adds a line when one exits and why). Events are the state store's
history: deploys, rollout steps and analyses, rollbacks, and the supervisor's
``server_started``/``server_exited`` records. Nothing here needs a process to be running.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from modelyard.backends.backend import DeploymentEvent, LogText
from modelyard.config import Workspace

TAIL_READ_BYTES = 4 * 2**20
"""At most this much of the end of a log file is read for a tail."""


def server_log_path(workspace: Workspace, model_id: str) -> Path:
    return workspace.state_dir / "logs" / f"{model_id}-server.log"


def tail(path: Path, lines: int | None) -> tuple[str, int]:
    """The last ``lines`` lines of ``path`` (all when None; "" when it is not there), and the
    offset the read ended at (what ``--follow`` reads on from, so no line falls between)."""
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            handle.seek(max(0, size - TAIL_READ_BYTES))
            raw = handle.read()
            end = handle.tell()
    except FileNotFoundError:
        return "", 0
    data = raw.decode("utf-8", errors="replace")
    if lines is None:
        return data, end
    kept = data.splitlines(keepends=True)[-lines:] if lines > 0 else []
    return "".join(kept), end


def server_logs(workspace: Workspace, model_id: str, tail_lines: int | None) -> list[LogText]:
    path = server_log_path(workspace, model_id)
    text, end = tail(path, tail_lines)
    return [LogText(f"server of {model_id}", text, str(path), end)]


def exit_reason(returncode: int | None) -> str:
    """How a process ended, in words: ``killed by signal 9 (SIGKILL)``, ``exited with code 1``."""
    if returncode is None:
        return "exit status unknown"
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            return f"killed by signal {number}"
        return f"killed by signal {number} ({name})"
    return f"exited with code {returncode}"


def describe(kind: str, detail: dict[str, Any]) -> str:
    """One line for a state-store event."""
    if kind == "server_started":
        return (
            f"server started: version {detail.get('version')}, pid {detail.get('pid')}, "
            f"port {detail.get('port')}"
        )
    if kind == "server_exited":
        memory = " (put down to memory: its RSS was near the limit)" if detail.get("memory") else ""
        return f"server pid {detail.get('pid')} {detail.get('reason')}{memory}; restarting"
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(detail.items()))
    return f"{kind.replace('_', ' ')}" + (f": {shown}" if shown else "")


def deployment_events(
    store: Any, model_id: str, since: float | None = None
) -> list[DeploymentEvent]:
    """The state store's events of ``model_id`` as backend records, oldest first."""
    found = []
    for event in store.events(model_id):
        if since is not None and event.at < since:
            continue
        detail = {**event.detail, "revision": event.revision}
        found.append(
            DeploymentEvent(event.at, event.kind, describe(event.kind, event.detail), detail)
        )
    return found
