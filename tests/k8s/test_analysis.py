"""Analysis judged the way Argo Rollouts judges it (``argo_expr``): an empty Prometheus result
or a failing one never promotes a canary; only evidence that the canary is scraped, served
enough traffic and did well does."""

from __future__ import annotations

import math
from typing import Any

import pytest
from argo_expr import judge, rollout_outcome, template_phase
from zoo_versions import pins

from modelyard.config import Workspace
from modelyard.k8s import all_objects, render_workspace
from modelyard.k8s.analysis import CONDITION_FORMS

MODELS = ["ranker", "steady", "a-very-long-model-identifier-of-42-chars-x"]


def _objects(zoo: Workspace, model_id: str) -> list[dict[str, Any]]:
    return all_objects(render_workspace(zoo, [model_id], pins(zoo.models)))


def _templates(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "AnalysisTemplate"}


def _metrics(zoo: Workspace, model_id: str) -> list[dict[str, Any]]:
    return [m for t in _templates(_objects(zoo, model_id)).values() for m in t["spec"]["metrics"]]


def _limit(metric: dict[str, Any]) -> float:
    return float(metric["successCondition"].rsplit(" ", 1)[1])


def _failing(metric: dict[str, Any]) -> list[float]:
    """A result on the wrong side of the metric's limit."""
    limit = _limit(metric)
    if metric["successCondition"].rsplit(" ", 2)[1] == ">=":
        return [limit - 1]  # too few: scraped targets, requests
    return [limit * 2 + 1]


@pytest.mark.parametrize("model_id", MODELS)
def test_every_metric_has_both_conditions_in_the_known_forms(zoo: Workspace, model_id: str) -> None:
    forms = {f.replace("LIMIT", "") for f in CONDITION_FORMS}
    for metric in _metrics(zoo, model_id):
        for key in ("successCondition", "failureCondition"):
            condition = metric[key]
            shape = condition if condition == "false" else condition.rsplit(" ", 1)[0] + " "
            assert shape in forms, (metric["name"], condition)


@pytest.mark.parametrize("model_id", MODELS)
def test_an_empty_result_never_succeeds(zoo: Workspace, model_id: str) -> None:
    for metric in _metrics(zoo, model_id):
        assert judge(metric, []) == "Inconclusive", metric["name"]
        assert judge(metric, [math.nan]) == "Inconclusive", metric["name"]


@pytest.mark.parametrize("model_id", MODELS)
def test_a_failing_result_never_succeeds_and_a_good_one_does(zoo: Workspace, model_id: str) -> None:
    for metric in _metrics(zoo, model_id):
        bad = judge(metric, _failing(metric))
        if metric["name"] == "canary-volume":
            assert bad == "Inconclusive"  # too little traffic is no verdict on the model
        else:
            assert bad == "Failed", metric["name"]
        good = [_limit(metric)]  # on the limit is within it
        assert judge(metric, good) == "Successful", metric["name"]


def test_the_old_failure_only_condition_passed_on_no_data() -> None:
    # What main rendered: Argo counts "failure condition false" as success, even for [].
    old = {"failureCondition": "len(result) > 0 && result[0] > 0.05"}
    assert judge(old, []) == "Successful"


def test_the_gate_needs_every_piece_of_evidence(zoo: Workspace) -> None:
    objects = _objects(zoo, "ranker")
    gate = _templates(objects)["ranker-gate"]
    names = [m["name"] for m in gate["spec"]["metrics"]]
    assert names == ["canary-scraped", "canary-volume", "error-rate", "latency-p90-ratio"]
    assert all(m["count"] == 1 and m["inconclusiveLimit"] == 0 for m in gate["spec"]["metrics"])
    queries = {m["name"]: m["provider"]["prometheus"]["query"] for m in gate["spec"]["metrics"]}
    assert queries["canary-scraped"].startswith('sum(up{namespace="ml", service="ranker-metrics"')
    assert 'rollouts_pod_template_hash="{{args.canary-hash}}"' in queries["canary-scraped"]
    assert queries["canary-volume"].startswith("sum(increase(modelyard_requests_total{")


def test_shadow_divergence_watches_the_canary_only_and_needs_volume(zoo: Workspace) -> None:
    background = _templates(_objects(zoo, "ranker"))["ranker"]
    query = next(
        m["provider"]["prometheus"]["query"]
        for m in background["spec"]["metrics"]
        if m["name"] == "shadow-divergence"
    )
    assert query.count('rollouts_pod_template_hash="{{args.canary-hash}}"') == 3
    assert "modelyard_shadow_compared_total" in query.split("and on()")[1]
    # a model without a shadow phase has no divergence to watch (it would stay empty)
    steady = _templates(_objects(zoo, "steady"))["steady"]
    assert "shadow-divergence" not in [m["name"] for m in steady["spec"]["metrics"]]


def _prometheus(**results: list[float]) -> Any:
    healthy = {
        "canary-scraped": [2.0],
        "canary-volume": [10_000.0],
        "error-rate": [0.0],
        "latency-p90-ratio": [1.0],
        "shadow-divergence": [0.0],
    }
    answers = healthy | {k.replace("_", "-"): v for k, v in results.items()}
    return lambda name, query: answers[name]


@pytest.mark.parametrize("model_id", MODELS)
def test_only_evidence_promotes_the_canary(zoo: Workspace, model_id: str) -> None:
    objects = _objects(zoo, model_id)
    rollout = next(o for o in objects if o["kind"] == "Rollout")
    templates = _templates(objects)
    assert rollout_outcome(rollout, templates, _prometheus()) == "promoted"

    def empty(name: str, query: str) -> list[float]:
        return []

    # the ServiceMonitor not selected, mTLS refusing scrapes, no traffic: no promotion
    assert rollout_outcome(rollout, templates, empty) == "paused"
    assert rollout_outcome(rollout, templates, _prometheus(canary_scraped=[])) == "paused"
    assert rollout_outcome(rollout, templates, _prometheus(canary_volume=[3.0])) == "paused"
    assert rollout_outcome(rollout, templates, _prometheus(error_rate=[0.5])) == "aborted"
    assert rollout_outcome(rollout, templates, _prometheus(latency_p90_ratio=[9.0])) == "aborted"


def test_analysis_is_the_step_before_full_traffic(zoo: Workspace) -> None:
    objects = _objects(zoo, "ranker")
    steps = next(o for o in objects if o["kind"] == "Rollout")["spec"]["strategy"]["canary"][
        "steps"
    ]
    gate_at = next(i for i, s in enumerate(steps) if "analysis" in s)
    assert steps[gate_at + 1] == {"setWeight": 100}
    assert template_phase(_templates(objects)["ranker-gate"], lambda n, q: [], 1) == "Inconclusive"
