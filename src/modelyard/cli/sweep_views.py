"""``modelyard train ID --sweep``: a progress bar while the trials run, and a table ranked by
the sweep's metric that grows as each trial ends (rich ``Live``), or one JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from modelyard.cli.output import console, emit

if TYPE_CHECKING:
    from rich.console import RenderableType

    from modelyard.config import Workspace
    from modelyard.workflows.sweeps import SweepResult, Trial


def _value(trial: Trial) -> str:
    return f"{trial.value:.4g}" if trial.value is not None else "—"


def ranked_table(
    ranked: list[Trial] | tuple[Trial, ...], metric: str, title: str
) -> RenderableType:
    """The ended trials, best first; a failed trial's row says why."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("trial", justify="right")
    table.add_column(metric, justify="right")
    table.add_column("params")
    table.add_column("status")
    table.add_column("run")
    for place, trial in enumerate(ranked, start=1):
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        status = trial.status if trial.error is None else f"{trial.status}: {trial.error}"
        style = "red" if trial.status == "failed" else ("bold green" if place == 1 else "")
        table.add_row(
            str(place) if trial.value is not None else "-",
            str(trial.number),
            _value(trial),
            params,
            status[:80],
            (trial.run_id or "")[:12],
            style=style,
        )
    return table


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_sweep(
    workspace: Workspace,
    model_id: str,
    *,
    trials: int | None,
    parallel: int | None,
    params: list[str],
    register: Literal["best", "none"],
    as_json: bool,
) -> SweepResult:
    """Run the sweep with a live view (none with ``--json``), then print its result."""
    from rich.console import Group
    from rich.live import Live
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from modelyard.workflows.sweeps import SweepEvents, sweep

    settings = workspace.model(model_id).spec.training.sweep
    total = trials or (settings.trials if settings else 0)
    metric = settings.metric if settings else ""
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console.real(),
    )
    task = progress.add_task(f"sweeping {model_id}", total=total)
    table: list[RenderableType] = [ranked_table([], metric, "ranked so far")]

    def view() -> Group:
        return Group(progress, table[0])

    live = Live(view(), console=console.real(), refresh_per_second=4, transient=True)

    def done(trial: Trial, ranked: list[Trial]) -> None:
        progress.advance(task)
        table[0] = ranked_table(ranked, metric, "ranked so far")
        live.update(view())

    events = SweepEvents(on_done=done)
    if as_json:
        result = sweep(
            workspace, model_id, trials=trials, parallel=parallel, params=params, register=register
        )
    else:
        with live:
            result = sweep(
                workspace,
                model_id,
                trials=trials,
                parallel=parallel,
                params=params,
                register=register,
                events=events,
            )
    emit(as_json, result.to_dict(), lambda: print_sweep(result))
    return result


def print_sweep(result: SweepResult) -> None:
    """The final ranked table and what became of the winner."""
    slots = result.slots
    title = (
        f"Sweep of {result.model_id}: {len(result.trials)} trials, {slots.count} at a time, "
        f"ranked by {result.metric} ({result.direction})"
    )
    console.print(ranked_table(result.trials, result.metric, title))
    if slots.bound_by:
        console.print(
            f"[yellow]ran {slots.count} at a time, not {slots.requested}: the machine's "
            f"{slots.bound_by} holds no more of this model's training resources[/]"
        )
    console.print(f"parent run: {result.parent_run_id}")
    best = result.best
    if best is None:
        console.print("[red]no trial finished with the metric: nothing to register[/]")
    elif result.version is None:
        console.print(
            f"best: trial {best.number} (run {best.run_id}); register it with "
            f"`--register best` next time"
        )
    else:
        console.print(
            f"registered version {result.version.version} from trial {best.number} "
            f"(run {best.run_id})"
        )
        if result.gate is not None:
            verdict = "passed" if result.gate.passed else "refused it"
            console.print(f"evaluation gate {verdict}: {result.gate.reason}")
