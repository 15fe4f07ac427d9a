"""Every query modelyard ships, run against a real Prometheus scraping live servers.

The rendered AnalysisTemplate's queries, the PrometheusRule's alert expressions, every
dashboard panel's query and the cost PromQL each return the series they should: the
canary that fails on some inputs shows a high error rate, the diverging shadow a high
divergence, the healthy pods no unavailability.
"""

from __future__ import annotations

from typing import Any

import pytest
from observe_bed import CANARY_HASH, RATE_WINDOW, STABLE_HASH, Stack, post_feedback

from modelyard.config import ModelEntry, Workspace
from modelyard.observe import cost
from modelyard.observe.panels import workspace_dashboards
from modelyard.observe.queries import substitute

VARIABLES = {"__rate_interval": RATE_WINDOW}
MAY_BE_EMPTY = {
    ("Cost of the last 24 h, and day over day", "ratio to the day before"):
        "compares with the day before, which a test's Prometheus never saw",
    ("Cost of the last 24 h, and day over day", "cost, last 24 h"):
        "a [1d:5m] subquery has no point until the first 5-minute boundary after start",
    ("CPU: P90 of 7 days' use (what a right-sizer targets) against requests", "P90 use {{pod}}"):
        "a [7d:5m] subquery has no point until the first 5-minute boundary after start",
    ("Open breakers and firing alerts", "{{alertname}}"):
        "every alert waits 5 minutes or more ('for') before it fires",
    ("CPU per pod against requests and limits", "limit {{pod}}"):
        "the example deploy.yaml sets no CPU limit",
}  # fmt: skip


def _value(sample: dict[str, Any]) -> float:
    return float(sample["value"][1])


@pytest.fixture(scope="module")
def feedback_joined(stack: Stack) -> None:
    """Outcomes posted in two batches, a scrape apart, so that rate() sees the second."""
    row = [0.15, 0.15, 0.15, 0.15]  # the stable version predicts 0.6 for it
    with stack.stable.client() as client:
        for i in range(6):
            reply = client.post(
                "/v1/models/ctr:predict",
                json={"instances": [row]},
                headers={"x-request-id": f"fb-{i}"},
            )
            assert reply.status_code == 200
    first = [{"request_id": "fb-0", "outcome": 1}, {"request_id": "fb-1", "outcome": 0}]
    assert post_feedback(stack.stable, first).json() == {"matched": 2, "unmatched": 0}
    stack.wait_for('modelyard_feedback_outcomes_total{model="ctr", outcome="negative"}')
    second = [{"request_id": f"fb-{i}", "outcome": int(i != 5)} for i in range(2, 6)]
    second.append({"request_id": "never-answered", "outcome": 1})
    assert post_feedback(stack.stable, second).json() == {"matched": 4, "unmatched": 1}


def test_click_rate_and_calibration_per_version(
    stack: Stack, observe_ws: Workspace, feedback_joined: None
) -> None:
    (dashboard,) = [d for d in workspace_dashboards(observe_ws) if d.uid == "modelyard-model-ctr"]
    panels = {p.title: p for p in dashboard.panels()}
    click = substitute(panels["Click rate by version"].queries[0].expr, VARIABLES)
    calibration = substitute(panels["Calibration by version"].queries[0].expr, VARIABLES)
    # The second batch: 3 clicks of 4, each predicted at 0.6 -> click rate 0.75, 2.4 / 3.
    result = stack.wait_for(click, lambda r: bool(r) and abs(_value(r[0]) - 0.75) < 1e-6)
    assert result[0]["metric"]["version"] == "1"
    (cal,) = stack.wait_for(calibration, lambda r: bool(r) and abs(_value(r[0]) - 0.8) < 1e-6)
    assert cal["metric"]["version"] == "1"
    unmatched = stack.query('modelyard_feedback_unmatched_total{model="ctr"}')
    assert sum(_value(s) for s in unmatched) == 1


def test_every_dashboard_query_returns_series(
    stack: Stack, observe_ws: Workspace, feedback_joined: None
) -> None:
    stack.wait_for(f'modelyard_requests_total{{rollouts_pod_template_hash="{CANARY_HASH}"}}')
    stack.wait_for('kube_pod_labels{label_modelyard_dev_team="ads-ranking"}')
    checked, empty = 0, []
    for dashboard in workspace_dashboards(observe_ws):
        for panel in dashboard.panels():
            for query in panel.queries:
                expr = substitute(query.expr, VARIABLES)
                if (panel.title, query.legend) in MAY_BE_EMPTY:
                    stack.query(expr)  # still valid PromQL: Prometheus parses and runs it
                    continue
                try:
                    stack.wait_for(expr)
                except AssertionError:
                    empty.append(f"{dashboard.uid}: {panel.title}: {query.legend}")
                checked += 1
    assert not empty, "queries that returned nothing:\n" + "\n".join(empty)
    assert checked >= 25


def test_analysis_template_fails_the_faulty_canary(
    stack: Stack, rendered: dict[str, dict[str, Any]], ctr: ModelEntry
) -> None:
    args = {"{{args.canary-hash}}": CANARY_HASH, "{{args.stable-hash}}": STABLE_HASH}
    metrics = {m["name"]: m for m in rendered["AnalysisTemplate"]["spec"]["metrics"]}
    queries = {}
    for name, metric in metrics.items():
        query = metric["provider"]["prometheus"]["query"]
        for key, value in args.items():
            query = query.replace(key, value)
        queries[name] = query
    analysis = ctr.deploy.rollout.analysis
    # Empty until min_requests were served to the canary, then over the limit: rollback.
    (errors,) = stack.wait_for(queries["error-rate"])
    assert _value(errors) > analysis.max_error_rate
    (ratio,) = stack.wait_for(queries["latency-p90-ratio"])
    assert _value(ratio) > 0
    (volume,) = stack.wait_for(queries["canary-volume"])
    assert _value(volume) >= analysis.min_requests
    # The shadow runs in the stable pod (an experiment, not this rollout): its divergence is
    # no evidence about the canary, and the canary's own comparisons are what is watched.
    model_wide = queries["shadow-divergence"].replace(
        f', rollouts_pod_template_hash="{CANARY_HASH}"', ""
    )
    (divergence,) = stack.wait_for(model_wide)
    assert _value(divergence) > analysis.max_divergence  # the shadow adds 0.5 to every answer
    assert stack.query(queries["shadow-divergence"]) == []


def test_healthy_stable_pods_pass_the_error_rate_check(
    stack: Stack, rendered: dict[str, dict[str, Any]]
) -> None:
    (metric,) = [
        m for m in rendered["AnalysisTemplate"]["spec"]["metrics"] if m["name"] == "error-rate"
    ]
    query = metric["provider"]["prometheus"]["query"].replace("{{args.canary-hash}}", STABLE_HASH)
    enough = query.rsplit(" and on() ", 1)[1]
    stack.wait_for(enough)  # the stable pods served min_requests ...
    result = stack.query(query)
    # ... and none failed: no 5xx series at all, so the ratio is empty (Argo: no failure).
    assert result == [] or _value(result[0]) == 0.0


def _lhs(expr: str) -> str:
    """The measured side of ``<measure> > <threshold>`` / ``< <threshold>``."""
    for op in (" > ", " < "):
        if op in expr:
            return expr.rsplit(op, 1)[0]
    raise AssertionError(f"no comparison in {expr!r}")


def test_alert_expressions_against_live_series(
    stack: Stack, rendered: dict[str, dict[str, Any]]
) -> None:
    rules = {
        r["alert"]: r["expr"] for r in rendered["PrometheusRule"]["spec"]["groups"][0]["rules"]
    }
    stack.wait_for(f'modelyard_requests_total{{rollouts_pod_template_hash="{CANARY_HASH}"}}')
    for expr in rules.values():
        stack.wait_for(_lhs(expr))  # each measures something that exists
    assert stack.wait_for(rules["ModelyardHighErrorRate"])  # the faulty canary's 5xx
    assert stack.query(rules["ModelyardUnavailable"]) == []  # both pods are ready
    assert stack.query(rules["ModelyardHighLatency"]) == []  # far below the queue timeout
    hot = stack.wait_for(_lhs(rules["ModelyardPodCpuHot"]), lambda r: len(r) == 2)
    assert {s["metric"]["pod"] for s in hot} == {
        f"ctr-{STABLE_HASH}-abcde",
        f"ctr-{CANARY_HASH}-fghij",
    }
    # Prometheus itself evaluates the loaded rules: the error-rate alert goes pending.
    stack.wait_for('ALERTS{alertname="ModelyardHighErrorRate", alertstate="pending"}')


def test_cost_per_team_from_requests_and_usage(stack: Stack, observe_ws: Workspace) -> None:
    prices = observe_ws.settings.prices
    requested = substitute(cost.cost_per_hour("requested", prices), VARIABLES)
    (team,) = stack.wait_for(requested)
    assert team["metric"][cost.TEAM] == "ads-ranking"
    # Two pods of 500m CPU and 512Mi each, at the workspace's prices, per hour.
    expected = 2 * (0.5 * prices.cpu_hour + 0.5 * prices.memory_gib_hour)
    assert _value(team) == pytest.approx(expected)
    used = substitute(cost.cost_per_hour("used", prices, by=cost.MODEL), VARIABLES)
    (model,) = stack.wait_for(used, lambda r: bool(r) and _value(r[0]) > 0)
    assert model["metric"][cost.MODEL] == "ctr"
    waste = substitute(cost.cost_per_hour("waste", prices, team="ads-ranking"), VARIABLES)
    (wasted,) = stack.wait_for(waste)
    assert 0 <= _value(wasted) <= expected
    day = substitute(cost.over(cost.cost_per_hour("requested", prices), "1m", "1s"), VARIABLES)
    (so_far,) = stack.wait_for(day)
    assert 0 < _value(so_far) <= expected / 60 + 1e-9  # at most one minute's worth
    assert (
        stack.query(substitute(cost.cost_per_hour("requested", prices, team="nobody"), VARIABLES))
        == []
    )
