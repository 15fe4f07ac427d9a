"""What ``modelyard up`` starts beside the local model servers, and ``modelyard down`` stops.

- **Prometheus** (``observability.prometheus: true`` in ``modelyard.yaml``): one per
  workspace, detached, scraping every local server (``observe.prometheus.local_targets`` with
  the ports the servers took); a second ``up`` reloads it with the new targets. Its pid and URL
  are kept in ``.modelyard/prometheus/server.json``.
- **Scheduled pipelines** (models with ``training.schedule``): the due ones run now
  (``pipelines.run_due_pipelines``), and a detached scheduler process
  (:mod:`modelyard.pipelines.daemon`) ticks for later fire times.

They live in the CLI layer: it is the one layer that may import the backends, the pipelines
and observe's launcher together.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from modelyard.backends import DeployResult
from modelyard.config import Workspace
from modelyard.errors import Unavailable

RECORD = "server.json"


def prometheus_dir(workspace: Workspace) -> Path:
    return workspace.state_dir / "prometheus"


def server_ports(results: Sequence[DeployResult]) -> dict[str, int]:
    """Model id -> the port its local server listens on, from ``up``'s results. The models of
    one pool share its server: only the first is kept, so that it is scraped once."""
    ports: dict[str, int] = {}
    for result in results:
        port = urlparse(result.url).port if result.url else None
        if port is not None and port not in ports.values():
            ports[result.model_id] = port
    return ports


def _record(workspace: Workspace) -> dict[str, object] | None:
    path = prometheus_dir(workspace) / RECORD
    try:
        found: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found


def _ready(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/-/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def start_prometheus(workspace: Workspace, ports: Mapping[str, int]) -> str:
    """Start (or reload) the workspace's Prometheus over ``ports``; returns its URL."""
    import httpx
    import yaml

    from modelyard.observe import prometheus

    directory = prometheus_dir(workspace)
    config = prometheus.scrape_config(
        prometheus.local_targets(ports), workspace.settings.observability.scrape_interval
    )
    found = _record(workspace)
    if found is not None and _ready(str(found["url"])):
        url = str(found["url"])
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        try:
            httpx.post(f"{url}/-/reload", timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            raise prometheus.PrometheusUnavailable(f"reload of {url}: {exc}") from exc
        return url
    server = prometheus.start(config, directory, detach=True)
    record = {"pid": server.process.pid, "url": server.url}
    (directory / RECORD).write_text(json.dumps(record), encoding="utf-8")
    return server.url


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # our own child (a test's `up`): reap it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def stop_prometheus(workspace: Workspace, timeout_s: float = 30.0) -> bool:
    """Stop the Prometheus ``up`` started; True when one was running."""
    path = prometheus_dir(workspace) / RECORD
    found = _record(workspace)
    if found is None:
        return False
    pid = int(str(found["pid"]))
    running = _ready(str(found["url"])) and not _gone(pid)
    if running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while not _gone(pid):
            if time.monotonic() > deadline:
                raise Unavailable(f"prometheus (pid {pid}) did not stop in {timeout_s:g}s", 5.0)
            time.sleep(0.05)
    path.unlink(missing_ok=True)
    return running


def start_pipelines(workspace: Workspace) -> list[str]:
    """Run the due pipelines and start the scheduler process; one line per thing done."""
    from modelyard.pipelines import run_due_pipelines
    from modelyard.pipelines.daemon import start_daemon

    scheduled = sorted(m for m, e in workspace.models.items() if e.spec.training.schedule)
    if not scheduled:
        return []
    lines = [
        f"pipeline of {r.record.model} for its due run: {r.record.status}"
        for r in run_due_pipelines(workspace)
    ]
    started = start_daemon(workspace)
    state = "started" if started else "already running"
    lines.append(f"pipeline scheduler {state} for {', '.join(scheduled)}")
    return lines


def start_companions(workspace: Workspace, results: Sequence[DeployResult]) -> list[str]:
    """What ``up`` starts after the servers; one line per thing, for the user."""
    lines = []
    if workspace.settings.observability.prometheus:
        url = start_prometheus(workspace, server_ports(results))
        lines.append(f"prometheus at {url} scraping {len(server_ports(results))} server(s)")
    return lines + start_pipelines(workspace)


def stop_companions(workspace: Workspace) -> list[str]:
    """What ``down`` stops after the servers: the names of those that were running."""
    from modelyard.pipelines.daemon import stop_daemon

    stopped = []
    if stop_daemon(workspace):
        stopped.append("pipeline scheduler")
    if stop_prometheus(workspace):
        stopped.append("prometheus")
    return stopped
