"""What each dashboard shows, as plain data: rows of panels, each with its PromQL.

Three kinds of dashboard come from a workspace: one per model (traffic, latency, protection,
rollout, quality, resources), one per team (cost and waste, right-sizing signal, models by
state) and one overview. :mod:`modelyard.observe.dashboards` turns these specs into Grafana
dashboards; the tests run every query here against a real Prometheus.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from modelyard.config import ModelEntry, Workspace
from modelyard.config.schema import Prices
from modelyard.observe import cost, names, queries
from modelyard.observe.queries import RATE

PanelKind = Literal["timeseries", "stat", "text"]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    title: str
    unit: str = "short"
    queries: tuple[Query, ...] = ()
    kind: PanelKind = "timeseries"
    description: str = ""
    text: str = ""
    """Markdown of a text panel."""


@dataclass(frozen=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[RowSpec, ...]
    tags: tuple[str, ...] = field(default=("modelyard",))

    def panels(self) -> Iterable[PanelSpec]:
        for row in self.rows:
            yield from row.panels


def _ts(title: str, unit: str, *pairs: tuple[str, str], description: str = "") -> PanelSpec:
    return PanelSpec(title, unit, tuple(Query(e, lg) for e, lg in pairs), description=description)


def _latency(sel: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (queries.quantile(q, names.REQUEST_LATENCY, sel), f"P{round(q * 100)} {{{{version}}}}")
        for q in (0.5, 0.9, 0.99)
    )


def model_dashboard(entry: ModelEntry, namespace: str) -> DashboardSpec:
    """Everything about one model's serving, by version and role."""
    m = entry.id
    sel = queries.model_selector(m)
    pods = queries.pod_selector(namespace, m)
    traffic = RowSpec("Traffic", (
        _ts("Requests by version and role", "reqps",
            (queries.request_rate(sel), "{{version}} {{role}} {{code}}")),
        _ts("Error rate (5xx) by version", "percentunit", (queries.error_rate(sel), "{{version}}")),
        _ts("Latency P50 / P90 / P99", "s", *_latency(sel)),
        _ts("Batch size", "short",
            (queries.quantile(0.5, names.BATCH_SIZE, sel), "P50 {{version}}"),
            (queries.quantile(0.99, names.BATCH_SIZE, sel), "P99 {{version}}"),
            (queries.mean(names.BATCH_SIZE, sel), "mean {{version}}")),
    ))  # fmt: skip
    protection = RowSpec("Protection", (
        _ts("Rate-limited and shed requests", "reqps",
            (f"sum(rate({names.RATE_LIMITED}{{{sel}}}[{RATE}]))", "rate limited (429)"),
            (f"sum by (reason) (rate({names.SHED}{{{sel}}}[{RATE}]))", "shed: {{reason}}")),
        _ts("Circuit breaker (0 closed, 1 open, 2 half-open)", "short",
            (f"max({names.BREAKER_STATE}{{{sel}}})", "state")),
        _ts("Requests in flight", "short", (f"sum({names.IN_FLIGHT}{{{sel}}})", "in flight")),
    ))  # fmt: skip
    rollout = RowSpec("Rollout", (
        _ts("Shadow divergence", "percentunit",
            (queries.ratio(names.SHADOW_DIVERGED, names.SHADOW_COMPARED, sel), "{{version}}")),
        _ts("Ready versions", "short",
            (f"sum by (version, role) ({names.MODEL_READY}{{{sel}}})", "{{version}} {{role}}")),
    ))  # fmt: skip
    quality = RowSpec("Model quality (joined outcomes)", (
        _ts("Click rate by version", "percentunit", (queries.click_rate(sel), "{{version}}"),
            description="Positive outcomes over all outcomes posted to /feedback."),
        _ts("Calibration by version", "short", (queries.calibration(sel), "{{version}}"),
            description="Predicted over observed positives: 1 is calibrated."),
    ))  # fmt: skip
    reps = queries.replicas(namespace, m)
    resources = RowSpec("Resources", (
        _ts("CPU per pod against requests and limits", "short",
            (queries.cpu_used(pods), "used {{pod}}"),
            (queries.resource("requests", pods, "cpu"), "request {{pod}}"),
            (queries.resource("limits", pods, "cpu"), "limit {{pod}}")),
        _ts("Memory per pod against requests and limits", "bytes",
            (queries.memory_used(pods), "working set {{pod}}"),
            (queries.resource("requests", pods, "memory"), "request {{pod}}"),
            (queries.resource("limits", pods, "memory"), "limit {{pod}}")),
        _ts("Replicas", "short", *((expr, key) for key, expr in reps.items())),
    ))  # fmt: skip
    return DashboardSpec(
        uid=f"modelyard-model-{m}"[:40],
        title=f"modelyard / model / {m}",
        description=f"Serving of {m} (team {entry.spec.owner.team}, DRI {entry.spec.owner.dri}).",
        rows=(traffic, protection, rollout, quality, resources),
        tags=("modelyard", "model", m),
    )


def _states_markdown(entries: Iterable[ModelEntry]) -> str:
    by_state: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        by_state[entry.spec.state].append(entry.id)
    lines = ["| state | models |", "|---|---|"]
    lines += [f"| {state} | {', '.join(sorted(ids))} |" for state, ids in sorted(by_state.items())]
    return "\n".join(lines) + "\n\n(as of the last `modelyard dashboards` / `render`)"


def team_dashboard(team: str, entries: list[ModelEntry], prices: Prices) -> DashboardSpec:
    """Cost, waste and right-sizing of one team's models."""
    label = cost.TEAM

    def per_model(kind: cost.Kind) -> str:
        return cost.cost_per_hour(kind, prices, by=cost.MODEL, team=team)

    req = cost.cost_per_hour("requested", prices, by=label, team=team)
    cpu = f'{cost.TEAM}="{team}"'
    owners = f"max by (namespace, pod) (kube_pod_labels{{{cpu}}})"
    usage_p90 = (
        f"quantile_over_time(0.9, (sum by (pod) (rate(container_cpu_usage_seconds_total"
        f'{{container="{queries.SERVER_CONTAINER}"}}[5m]) * on (namespace, pod) group_left '
        f"{owners}))[7d:5m])"
    )
    requests_cpu = (
        f'sum by (pod) (kube_pod_container_resource_requests{{resource="cpu", '
        f'container="{queries.SERVER_CONTAINER}"}} * on (namespace, pod) group_left {owners})'
    )
    costs = RowSpec("Cost", (
        _ts("Cost per hour by model (requested)", "currencyUSD",
            (per_model("requested"), "{{" + cost.MODEL + "}}")),
        _ts("Waste per hour by model (requested − used)", "currencyUSD",
            (per_model("waste"), "{{" + cost.MODEL + "}}")),
        _ts("Cost of the last 24 h, and day over day", "short",
            (cost.over(req), "cost, last 24 h"), (cost.trend(req), "ratio to the day before")),
    ))  # fmt: skip
    sizing = RowSpec("Right-sizing", (
        _ts("CPU: P90 of 7 days' use (what a right-sizer targets) against requests", "short",
            (usage_p90, "P90 use {{pod}}"), (requests_cpu, "request {{pod}}"),
            description="`modelyard tune` recommends from the same history."),
        PanelSpec("Models by state", kind="text", text=_states_markdown(entries)),
    ))  # fmt: skip
    return DashboardSpec(
        uid=f"modelyard-team-{team}"[:40],
        title=f"modelyard / team / {team}",
        description=f"Cost, waste and sizing of team {team}'s models.",
        rows=(costs, sizing),
        tags=("modelyard", "team", team),
    )


def overview_dashboard(ws: Workspace) -> DashboardSpec:
    """Every model at a glance, and cost per team."""
    all_models = 'model!=""'
    firing = 'ALERTS{alertstate="firing", alertname=~"Modelyard.*"}'
    rows = (
        RowSpec("Models", (
            _ts("Requests by model", "reqps",
                (queries.request_rate(all_models, by="model"), "{{model}}")),
            _ts("Error rate by model", "percentunit",
                (queries.error_rate(all_models, by="model"), "{{model}}")),
            _ts("P90 latency by model", "s",
                (queries.quantile(0.9, names.REQUEST_LATENCY, all_models, by="model"),
                 "{{model}}")),
            _ts("Ready versions by model", "short",
                (f"sum by (model) ({names.MODEL_READY}{{{all_models}}})", "{{model}}")),
            _ts("Open breakers and firing alerts", "short",
                (f"count({names.BREAKER_STATE}{{{all_models}}} > 0) or on() vector(0)",
                 "breakers not closed"),
                (f"count by (alertname) ({firing})", "{{alertname}}")),
        )),
        RowSpec("Cost", (
            _ts("Cost per hour by team (requested)", "currencyUSD",
                (cost.cost_per_hour("requested", ws.settings.prices), "{{" + cost.TEAM + "}}")),
            _ts("Waste per hour by team", "currencyUSD",
                (cost.cost_per_hour("waste", ws.settings.prices), "{{" + cost.TEAM + "}}")),
        )),
    )  # fmt: skip
    return DashboardSpec(
        uid="modelyard-overview",
        title="modelyard / overview",
        description=f"Every model of workspace {ws.name}.",
        rows=rows,
        tags=("modelyard", "overview"),
    )


def workspace_dashboards(ws: Workspace) -> list[DashboardSpec]:
    """The overview, one dashboard per team, one per served model, in a fixed order."""
    namespace = ws.settings.kubernetes.namespace
    teams: dict[str, list[ModelEntry]] = defaultdict(list)
    for entry in ws.models.values():
        teams[entry.spec.owner.team].append(entry)
    out = [overview_dashboard(ws)]
    out += [team_dashboard(t, es, ws.settings.prices) for t, es in sorted(teams.items())]
    out += [model_dashboard(e, namespace) for e in sorted(ws.models.values(), key=lambda e: e.id)]
    return out
