"""The lifecycle chapters of the demo, in a fresh workspace.

init -> validate -> train -> find the run and the version in MLflow -> deploy (a supervised
server) -> requests over v1 and v2 -> read the server's own metrics -> train version 2 and roll
it out (shadow, canary steps, promote) under steady traffic -> deploy a broken version 3 and
watch the automatic rollback -> history -> down. Every step uses the same functions as the
CLI commands; nothing here is special to the demo but the narration.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard.backends.local.backend import LocalBackend
from modelyard.backends.local.operations import deploy, down
from modelyard.config import Workspace, init_workspace, load_workspace
from modelyard.observe import latency, requests_by_code
from modelyard.registry import Registry
from modelyard.workflows import TrainResult

MODEL = "ctr"
REQUESTS = 300


def train(workspace: Workspace, model_id: str, params: list[str] | None = None) -> TrainResult:
    """Train through the local backend (so the job's usage joins the usage history)."""
    run = LocalBackend(workspace).train(model_id, params or [])
    assert run.result is not None
    return run.result


def _rows(count: int, seed: int = 11) -> list[list[float]]:
    rng = random.Random(seed)
    return [[round(rng.gauss(0, 1.5), 3) for _ in range(8)] for _ in range(count)]


def run_demo(console: Console, directory: Path | None = None, keep: bool = False) -> int:
    """Run the demo; returns the process exit code."""
    root = directory or Path(tempfile.mkdtemp(prefix="modelyard-demo-")) / "workspace"
    started = time.monotonic()
    try:
        _lifecycle(console, root)
    finally:
        if directory is None and not keep:
            shutil.rmtree(root.parent, ignore_errors=True)
        elif directory is None:
            console.print(f"workspace kept in {root}")
    console.rule(f"[green]demo finished in {time.monotonic() - started:.0f}s")
    return 0


def _step(console: Console, number: int, title: str) -> None:
    console.rule(f"[bold]{number}. {title}", align="left")


def _lifecycle(console: Console, root: Path) -> None:
    _step(console, 1, f"Create a workspace in {root}")
    for path in init_workspace(root):
        console.print(f"  {path.relative_to(root)}")

    _step(console, 2, "Validate model.yaml and deploy.yaml")
    workspace = load_workspace(root)
    console.print(
        f"  [green]ok[/]: {len(workspace.models)} model(s): {', '.join(workspace.models)}"
    )

    _step(console, 3, f"Train {MODEL!r} as a local job inside an MLflow run")
    with console.status("training (the script's log streams to .modelyard/logs/)…"):
        result = train(workspace, MODEL)
    _show_training(console, result)

    _step(console, 4, "Find the run and the registered version in MLflow")
    registry = Registry.for_workspace(workspace)
    run = registry.tracking.get_run(result.run_id)
    table = Table(show_header=True, title_justify="left")
    for column in ("version", "run", "status", "auc", "sha256", "gate"):
        table.add_column(column)
    for mv in registry.versions(MODEL):
        table.add_row(
            str(mv.version),
            str(mv.run_id)[:12],
            run.status,
            f"{run.metrics.get('auc', 0):.4f}",
            mv.sha256[:12],
            mv.tags.get("modelyard.gate", "-"),
        )
    console.print(table)
    console.print(f"  tracking URI: {workspace.tracking_uri}  (open it with `mlflow ui`)")

    _step(console, 5, f"Deploy {MODEL} version 1: a supervised server process")
    try:
        started = time.monotonic()
        with console.status("starting the supervisor; loading (checksum verified), warming up…"):
            deployed = deploy(workspace, MODEL, 1, by="demo")
        url = deployed.url or ""
        console.print(f"  ready at {url} after {time.monotonic() - started:.1f}s")
        _traffic(console, url)
        _rollouts(console, workspace, url)
    finally:
        with console.status("modelyard down: draining and stopping the server…"):
            stopped = down(workspace)
        console.print(f"  stopped: {', '.join(stopped) or 'nothing was running'}")


def _rollouts(console: Console, workspace: Workspace, url: str) -> None:
    from modelyard.cli.demo.rollout import (
        DEMO_PLAN,
        broken_version,
        no_shadow,
        ship,
        show_history,
    )

    _step(console, 8, "Train version 2 and roll it out: shadow, canary steps, promote")
    with console.status("training version 2 (C=0.1)…"):
        second = train(workspace, MODEL, ["C=0.1"])
    _show_training(console, second)
    plan = DEMO_PLAN
    console.print(
        f"  plan: shadow {plan.shadow:g}s, steps {[f'{w:g}%' for w in plan.steps]}, "
        f"{plan.interval:g}s each (deploy.yaml says minutes; the demo uses seconds)"
    )
    version = second.version.version if second.version else 2
    ship(console, workspace, MODEL, version, url, _rows(64, seed=5))

    _step(console, 9, "Deploy a broken version 3 (fails 30 % of its calls): automatic rollback")
    bad = broken_version(workspace, MODEL, version)
    console.print("  shadow skipped for this one, to let the canary analysis catch it")
    ship(console, workspace, MODEL, bad, url, _rows(64, seed=6), no_shadow(plan))

    _step(console, 10, "The deployment's history")
    show_history(console, workspace, MODEL)


def _show_training(console: Console, result: TrainResult) -> None:
    version = result.version.version if result.version else "-"
    console.print(
        f"  run {result.run_id} finished in {result.job.duration_s:.1f}s, "
        f"peak memory {result.job.peak_rss_bytes / 2**20:.0f} MiB -> registered version {version}"
    )
    shown = {k: f"{v:.4g}" for k, v in result.metrics.items() if not k.startswith("usage.")}
    console.print("  metrics: " + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())))


def _traffic(console: Console, url: str) -> None:
    _step(console, 6, f"Send {REQUESTS} requests (v1 predict and OIP v2 infer)")
    rows = _rows(REQUESTS)
    answers: list[tuple[list[float], object, object]] = []
    progress = Progress(
        TextColumn("  requests"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with httpx.Client(base_url=url, timeout=10) as client, progress:
        task = progress.add_task("requests", total=REQUESTS)
        for index, row in enumerate(rows):
            if index % 2 == 0:
                reply = client.post(f"/v1/models/{MODEL}:predict", json={"instances": [row]})
                reply.raise_for_status()
                answer: object = reply.json()["predictions"][0]
                protocol: object = "v1"
            else:
                body = {
                    "id": f"demo-{index}",
                    "inputs": [
                        {"name": "input-0", "shape": [1, 8], "datatype": "FP64", "data": row}
                    ],
                }
                reply = client.post(f"/v2/models/{MODEL}/infer", json=body)
                reply.raise_for_status()
                answer = reply.json()["outputs"][0]["data"]
                protocol = "v2"
            answers.append((row, protocol, answer))
            progress.advance(task)
        metrics_text = client.get("/metrics").text
    table = Table(title="Predictions (click probability per class)", title_justify="left")
    for column in ("protocol", "features", "prediction"):
        table.add_column(column)
    for row, protocol, answer in answers[:6]:
        table.add_row(str(protocol), ", ".join(f"{x:.2f}" for x in row[:4]) + ", …", _fmt(answer))
    console.print(table)

    _step(console, 7, "Read the server's own metrics from /metrics")
    codes = requests_by_code(metrics_text, MODEL)
    console.print(
        "  requests by status: " + ", ".join(f"{c}: {int(n)}" for c, n in sorted(codes.items()))
    )
    for (version, role), summary in sorted(latency(metrics_text, MODEL).items()):
        console.print(
            f"  version {version} ({role}): {summary.count} requests, "
            f"latency p50 {summary.quantile(0.5) * 1000:.2f} ms, "
            f"p90 {summary.quantile(0.9) * 1000:.2f} ms, mean {summary.mean_s * 1000:.2f} ms"
        )


def _fmt(answer: object) -> str:
    if isinstance(answer, list):
        return "[" + ", ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in answer) + "]"
    return f"{answer:.3f}" if isinstance(answer, float) else str(answer)
