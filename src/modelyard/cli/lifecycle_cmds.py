"""Lifecycle commands: ``train``, ``versions``, ``serve``."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli.output import console, emit
from modelyard.cli.workspace_cmds import JsonOpt, ModelArg, WorkspaceOpt, model_id_param

if TYPE_CHECKING:
    from modelyard.backends import Backend
    from modelyard.backends.gated import GateRefused
    from modelyard.config import Workspace
    from modelyard.registry import ModelVersion
    from modelyard.workflows import TrainResult
    from modelyard.workflows.runs import RunView


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("versions")(versions)
    app.command("runs")(runs)
    app.command("serve")(serve)


def _train_summary(result: TrainResult) -> dict[str, object]:
    version = result.version
    return {
        "model": result.model_id,
        "run_id": result.run_id,
        "experiment_id": result.experiment_id,
        "version": version.version if version else None,
        "sha256": version.sha256 if version else None,
        "params": dict(result.params),
        "metrics": dict(result.metrics),
        "duration_s": round(result.job.duration_s, 2),
        "peak_rss_mib": round(result.job.peak_rss_bytes / 2**20, 1),
        "log": str(result.log_path),
    }


def print_train_result(result: TrainResult) -> None:
    """A table of the run and the version it registered."""
    from rich.table import Table

    table = Table(title=f"Trained {result.model_id}", show_header=False, title_justify="left")
    summary = _train_summary(result)
    table.add_row("MLflow run", str(summary["run_id"]))
    table.add_row("registered version", str(summary["version"]))
    table.add_row("sha256", str(summary["sha256"])[:16] + "…")
    for name, value in sorted(result.metrics.items()):
        if not name.startswith("usage."):
            table.add_row(f"metric {name}", f"{value:.4g}")
    table.add_row("params", ", ".join(f"{k}={v}" for k, v in result.params.items()))
    table.add_row("duration", f"{result.job.duration_s:.1f} s")
    table.add_row("peak memory", f"{summary['peak_rss_mib']} MiB")
    table.add_row("log", str(result.log_path))
    console.print(table)


def train(
    model_id: ModelArg,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Override a training param: -p C=0.5 (repeatable)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the log.")] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            help="local (a process here) or kubernetes (a Job); modelyard.yaml's if unset."
        ),
    ] = None,
    in_cluster: Annotated[
        bool,
        typer.Option("--in-cluster", hidden=True, help="Set by the rendered Job: run here."),
    ] = False,
    deploy: Annotated[
        bool,
        typer.Option("--deploy", help="Roll the new version out if it passes the gate."),
    ] = False,
    sweep: Annotated[
        bool,
        typer.Option("--sweep", help="Run model.yaml's training.sweep: many trials, ranked."),
    ] = False,
    trials: Annotated[
        int | None, typer.Option(help="With --sweep: how many trials (the sweep's if unset).")
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(help="With --sweep: trials at once, at most what the machine holds."),
    ] = None,
    register_best: Annotated[
        str,
        typer.Option("--register", help="With --sweep: best (register the winner only) or none."),
    ] = "none",
    sweep_parent: Annotated[
        str | None,
        typer.Option(
            "--sweep-parent",
            hidden=True,
            help="Set by a sweep's trial Job: train as a child of this run, register nothing.",
        ),
    ] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Train a model: run its script in an MLflow run, then register the model it logged.

    With --sweep, run the trials of model.yaml's training.sweep as parallel jobs (each a
    child run of one MLflow parent run), show them ranked by the sweep's metric, and with
    --register best register only the winner (the evaluation gate records its verdict).

    The script's log streams here and to .modelyard/logs/; CPU and memory are sampled every
    second. Exits with the script's own exit code when it fails (137 when stopped for memory).
    With --deploy, the held-out evaluation gate compares the new version with the one in
    production on the evaluation dataset; one that passes is deployed (rolled out when the
    model is served already), one it refuses is not, and the command exits with 4.
    """
    from modelyard.backends import backend_for
    from modelyard.config import load_workspace

    def show(line: str) -> None:
        from rich.text import Text

        console.print(Text("│ ", style="dim") + Text(line), highlight=False)

    ws = load_workspace(workspace, backend=None if in_cluster else backend)
    if sweep or trials is not None or parallel is not None or register_best != "none":
        if (backend or ws.settings.backend) == "kubernetes" and not in_cluster:
            from modelyard.errors import ConfigError

            raise ConfigError(
                "--sweep runs its trials on this machine (--backend local); submitting them "
                "as Kubernetes Jobs (modelyard.k8s.sweep renders one per trial) is not wired "
                "into the CLI yet"
            )
        _sweep(ws, model_id, sweep, trials, parallel, param or [], register_best, as_json)
        return
    if sweep_parent is not None:
        _trial(ws, model_id, param or [], sweep_parent, as_json)
        return
    chosen = backend_for(ws, "local" if in_cluster else backend)
    if chosen.name == "kubernetes":
        chosen.train(model_id, param or [], on_line=show)
        return
    streaming = not (quiet or as_json)
    with console.status(f"training {model_id}…", spinner="dots") if streaming else nullcontext():
        run = chosen.train(model_id, param or [], on_line=show if streaming else None)
    result = run.result
    assert result is not None  # the local backend returns the workflow's result
    summary = _train_summary(result)
    if not deploy:
        emit(as_json, summary, lambda: print_train_result(result))
        return
    refused = _deploy_trained(ws, chosen, result, summary)
    emit(as_json, summary, lambda: _print_trained(result, summary))
    if refused is not None:
        raise refused  # exit code 4 (a Conflict): the gate's refusal, with both figures


def _trial(ws: Workspace, model_id: str, params: list[str], parent: str, as_json: bool) -> None:
    """One trial of a sweep run elsewhere (a trial Job's pod): a child run, no version."""
    from modelyard.workflows import train as train_model

    result = train_model(ws, model_id, params, parent_run_id=parent, register=False)
    summary = _train_summary(result)
    emit(as_json, summary, lambda: print_train_result(result))


def _sweep(
    ws: Workspace,
    model_id: str,
    sweep: bool,
    trials: int | None,
    parallel: int | None,
    params: list[str],
    register_best: str,
    as_json: bool,
) -> None:
    from modelyard.cli.sweep_views import run_sweep
    from modelyard.errors import ConfigError

    if not sweep:
        raise ConfigError("--trials, --parallel and --register go with --sweep")
    if register_best not in ("best", "none"):
        raise ConfigError(f"--register {register_best!r}: write best or none")
    result = run_sweep(
        ws,
        model_id,
        trials=trials,
        parallel=parallel,
        params=params,
        register="best" if register_best == "best" else "none",
        as_json=as_json,
    )
    if result.best is None:
        raise typer.Exit(1)


def _deploy_trained(
    ws: Workspace, backend: Backend, result: TrainResult, summary: dict[str, object]
) -> GateRefused | None:
    """``train --deploy``: the held-out gate, then the backend's deploy if it passed.

    Fills ``summary["gate"]`` and ``summary["deploy"]``; returns the refusal to raise once
    the summary is shown.
    """
    from modelyard.backends.gated import GateRefused, deploy_if_gated

    assert result.version is not None  # the workflow raises when it registers nothing
    try:
        done = deploy_if_gated(backend, ws, result.model_id, result.version.version, by="train")
    except GateRefused as refused:
        summary["gate"] = refused.verdict.to_dict()
        summary["deploy"] = {"deployed": False, "reason": refused.verdict.reason}
        return refused
    deployed = done.deployed
    summary["gate"] = done.verdict.to_dict()
    summary["deploy"] = {
        "deployed": True,
        "action": deployed.action,
        "revision": deployed.revision,
        "url": deployed.url,
    }
    return None


def _print_trained(result: TrainResult, summary: dict[str, object]) -> None:
    from rich.text import Text

    print_train_result(result)
    gate, deployed = summary.get("gate"), summary.get("deploy")
    if isinstance(gate, dict):
        mark = Text("passed", style="green") if gate["passed"] else Text("refused", style="red")
        console.print(Text("evaluation gate: ") + mark + Text(f" ({gate['reason']})"))
    if isinstance(deployed, dict):
        if not deployed["deployed"]:
            console.print(Text("not deployed: ", style="yellow") + Text(str(deployed["reason"])))
        elif deployed["action"] == "rollout":
            console.print(
                f"rolling out version {result.version.version if result.version else '?'} "
                f"(revision {deployed['revision']}): "
                f"modelyard rollout status {result.model_id} --watch"
            )
        else:
            console.print(f"serving at {deployed['url']}")


def _version_row(mv: ModelVersion) -> dict[str, object]:
    from modelyard.evaluation.evaluate import evaluation_tags

    return {
        "version": mv.version,
        "created": dt.datetime.fromtimestamp(mv.created, dt.UTC).isoformat(timespec="seconds"),
        "run_id": mv.run_id,
        "aliases": list(mv.aliases),
        "gate": mv.tags.get("modelyard.gate"),
        "evaluation": evaluation_tags(mv.tags),
        "sha256": mv.sha256,
        "git_commit": mv.git_commit,
    }


def versions(
    model_id: ModelArg,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """List the registered versions of a model."""
    from modelyard.config import load_workspace
    from modelyard.registry import Registry

    ws = load_workspace(workspace)
    ws.model(model_id)
    rows = [_version_row(mv) for mv in Registry.for_workspace(ws).versions(model_id)]

    def human() -> None:
        from rich.table import Table

        table = Table(title=f"Versions of {model_id}", title_justify="left")
        for column in ("version", "created", "run", "aliases", "gate", "eval auc/loss", "sha256"):
            table.add_column(column)
        for row in rows:
            figures = row["evaluation"] if isinstance(row["evaluation"], dict) else {}
            table.add_row(
                str(row["version"]),
                str(row["created"]),
                str(row["run_id"]),
                ", ".join(row["aliases"]) if isinstance(row["aliases"], list) else "",
                str(row["gate"] or "-"),
                f"{figures.get('auc', '-')} / {figures.get('loss', '-')}",
                str(row["sha256"])[:12],
            )
        console.print(table if rows else f"{model_id} has no registered version yet")

    emit(as_json, rows, human)


def serve(
    model_id: Annotated[
        str | None, typer.Argument(help="Model id (or --pool).", callback=_optional_model_id)
    ] = None,
    version: Annotated[int | None, typer.Option("--version", "-v", help="Version number.")] = None,
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Version alias.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    grpc_port: Annotated[
        int | None,
        typer.Option(help="Also serve OIP v2 over gRPC on this port.", min=1, max=65535),
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option("--pool", help="Serve every model of this pool (modelyard.yaml pools)."),
    ] = None,
    workspace: WorkspaceOpt = Path(),
) -> None:
    """Serve a registered version over HTTP (OIP v2 and v1 predict), and over gRPC (OIP v2)
    with --grpc-port, until interrupted.

    The newest version is served when neither --version nor --alias is given. The artifacts'
    checksum is verified before the model is loaded. With --pool NAME, one process serves every
    model whose deploy.yaml names the pool (production alias, else newest), loading each on
    first use within the pool's memory budget.
    """
    from modelyard.config import load_workspace
    from modelyard.errors import ConfigError
    from modelyard.workflows.serve import serve as run_serve

    if version is not None and alias is not None:
        raise ConfigError("give --version or --alias, not both")
    if (model_id is None) == (pool is None):
        raise ConfigError("give a model id or --pool NAME (one of the two)")
    ws = load_workspace(workspace)
    if pool is not None:
        from modelyard.workflows.pools import serve_pool

        if version is not None or alias is not None or workers != 1 or grpc_port is not None:
            raise ConfigError(
                "--version, --alias, --workers and --grpc-port are per model; not with --pool"
            )
        console.print(f"serving pool {pool} on http://{host}:{port} (Ctrl-C stops)")
        serve_pool(ws, pool, host, port)
        return
    assert model_id is not None
    if grpc_port is not None and grpc_port == port:
        raise ConfigError(f"--grpc-port {grpc_port} is also --port; give gRPC a port of its own")
    grpc = f" and grpc://{host}:{grpc_port}" if grpc_port is not None else ""
    console.print(f"serving {model_id} on http://{host}:{port}{grpc} (Ctrl-C stops)")
    run_serve(ws, model_id, version, alias, host, port, workers, grpc_port)


def _optional_model_id(value: str | None) -> str | None:
    return None if value is None else model_id_param(value)


def _run_row(view: RunView) -> dict[str, object]:
    run = view.run
    started = run.start_time
    return {
        "run_id": run.run_id,
        "status": run.status,
        "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds")
        if started
        else None,
        "duration_s": round(run.end_time - started, 1) if run.end_time and started else None,
        "version": view.version,
        "note": view.note,
        "logged_model": view.logged_model,
        "params": dict(run.params),
        "metrics": {k: v for k, v in run.metrics.items() if not k.startswith("usage.")},
        "peak_rss_mib": run.metrics.get("usage.peak_rss_mib"),
    }


def runs(
    model_id: ModelArg,
    limit: Annotated[int, typer.Option(help="How many of the newest runs.", min=1)] = 20,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """List a model's training runs, newest first: status, duration, metrics, version made.

    A run whose `modelyard train` died is marked FAILED here, with the reason in its note;
    a run that logged a model but registered no version says so.
    """
    from modelyard.config import load_workspace
    from modelyard.registry import Registry
    from modelyard.workflows.runs import run_views

    ws = load_workspace(workspace)
    ws.model(model_id)
    rows = [_run_row(v) for v in run_views(Registry.for_workspace(ws), model_id, limit)]

    def human() -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"Training runs of {model_id}", title_justify="left")
        for column in ("run", "status", "started", "took", "version", "metrics", "note"):
            table.add_column(column)
        for row in rows:
            metrics = row["metrics"]
            assert isinstance(metrics, dict)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))
            table.add_row(
                str(row["run_id"])[:12],
                str(row["status"]),
                str(row["started"]),
                f"{row['duration_s']}s" if row["duration_s"] is not None else "-",
                str(row["version"] or "-"),
                shown,
                Text(str(row["note"] or "")),
            )
        console.print(table if rows else f"{model_id} has no training runs yet")

    emit(as_json, rows, human)
