"""The rollout chapters of ``modelyard demo``: a good version shipped, a broken one caught.

Steady traffic runs from a client thread the whole time; a live view shows the phase, the
weight, the analysis figures and what the clients saw. Every step calls the functions the CLI
commands call (``deploy``, the rollout view, ``history``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from modelyard.backends.local.operations import deploy, history, rollout_view
from modelyard.cli.views import checks_table
from modelyard.config import Workspace
from modelyard.faults.models import register_variant
from modelyard.rollout import RolloutPlan, RolloutState, Thresholds

DEMO_PLAN = RolloutPlan(
    steps=(10.0, 50.0, 100.0),
    interval=2.0,
    shadow=3.0,
    # A retrained model answers differently by design: divergence is shown, not judged here.
    thresholds=Thresholds(
        max_error_rate=0.01, max_latency_p90_ratio=3.0, max_divergence=1.0, min_requests=20
    ),
    load_timeout=60.0,
)
"""deploy.yaml's rollout with demo-sized intervals (seconds instead of minutes)."""


class Traffic:
    """A client sending one request every few milliseconds, counting answers by version."""

    def __init__(self, url: str, model: str, rows: list[list[float]]) -> None:
        self.url, self.model, self.rows = url, model, rows
        self.versions: Counter[str] = Counter()
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            index = 0
            while not self._stop.is_set():
                row = self.rows[index % len(self.rows)]
                index += 1
                try:
                    reply = client.post(
                        f"/v1/models/{self.model}:predict", json={"instances": [row]}
                    )
                except httpx.HTTPError:
                    self.failed += 1
                    time.sleep(0.05)
                    continue
                if reply.status_code == 200:
                    self.versions[reply.headers.get("x-model-version", "?")] += 1
                else:
                    self.failed += 1
                time.sleep(0.004)


def _view(state: RolloutState | None, traffic: Traffic) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    answered = ", ".join(f"v{v}: {n}" for v, n in sorted(traffic.versions.items()))
    head.add_row("clients", f"{answered}; failed: {traffic.failed}")
    if state is None:
        return Group(head)
    steps = " ".join(
        f"[reverse]{w:g}%[/]" if i == state.step else f"{w:g}%"
        for i, w in enumerate(state.plan.steps)
    )
    head.add_row("rollout", f"v{state.current} -> v{state.version}: [cyan]{state.status}[/]")
    head.add_row("steps", f"shadow {state.plan.shadow or 0:g}s, {steps}")
    left = state.time_left(time.time())
    if left is not None:
        head.add_row("time left", f"{left:.1f}s in this phase")
    if state.outcome is not None:
        head.add_row("outcome", state.outcome.reason)
    return Group(head, checks_table(state.last_checks)) if state.last_checks else Group(head)


def watch(
    console: Console, workspace: Workspace, model: str, revision: int | None, traffic: Traffic
) -> RolloutState:
    """Show the rollout of ``revision`` live until it ends."""
    state: RolloutState | None = None
    deadline = time.monotonic() + 120
    with Live(_view(state, traffic), console=console, refresh_per_second=8) as live:
        while time.monotonic() < deadline:
            view = rollout_view(workspace, model)
            state = view.state if view.revision == revision else None
            live.update(_view(state, traffic))
            if state is not None and state.terminal:
                break
            time.sleep(0.2)
    if state is None or not state.terminal:
        raise TimeoutError(f"the rollout of revision {revision} did not end in 120 s")
    return state


def ship(
    console: Console,
    workspace: Workspace,
    model: str,
    version: int,
    url: str,
    rows: list[list[float]],
    plan: RolloutPlan = DEMO_PLAN,
) -> RolloutState:
    """Roll ``version`` out under steady traffic and show it live."""
    with Traffic(url, model, rows) as traffic:
        time.sleep(0.5)
        result = deploy(workspace, model, version, by="demo", plan=plan)
        state = watch(console, workspace, model, result.revision, traffic)
        time.sleep(0.5)
    colour = "green" if state.phase.value == "promoted" else "red"
    console.print()
    console.print(
        f"  [{colour}]{state.phase.value}[/]: {state.outcome.reason if state.outcome else ''}"
    )
    console.print(
        "  clients saw: "
        + ", ".join(f"v{v}: {n}" for v, n in sorted(traffic.versions.items()))
        + f"; failed requests: {traffic.failed}"
    )
    return state


def broken_version(workspace: Workspace, model: str, base: int) -> int:
    """Register a copy of ``base`` that fails 30 % of its calls."""
    return register_variant(workspace, model, base, "errors", share=0.3)


def no_shadow(plan: RolloutPlan) -> RolloutPlan:
    return replace(plan, shadow=None)


def show_history(console: Console, workspace: Workspace, model: str) -> None:
    table = Table(title=f"modelyard history {model}", title_justify="left")
    for column in ("revision", "version", "by", "outcome", "reason"):
        table.add_column(column)
    for rev in history(workspace, model):
        table.add_row(str(rev.revision), rev.version, rev.created_by, rev.outcome, rev.reason[:70])
    console.print(table)
