"""``POST /v2/models/{name}/feedback``: outcomes joined to answered requests by request id,
counted per version as click rate and calibration metrics; bad input is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from observe_bed import post_feedback
from prometheus_client.parser import text_string_to_metric_families
from serving_fakes import OffsetModel, write_model
from serving_harness import Running, serve

from modelyard.observe import names
from modelyard.serving import ModelSource, ServerOptions
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import PredictionRecord
from modelyard.serving.rest.feedback import FeedbackJoin, positive_probability


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    path = write_model(tmp_path_factory.mktemp("fb") / "ctr-1", OffsetModel(0.0))
    with serve(ModelSource("ctr", "1", path), ServerOptions(freeze_gc=False)) as running:
        yield running


def _predict(server: Running, request_id: str, rows: list[list[float]]) -> None:
    with server.client() as client:
        reply = client.post(
            "/v1/models/ctr:predict", json={"instances": rows}, headers={"x-request-id": request_id}
        )
        assert reply.status_code == 200, reply.text


def _samples(server: Running, metric: str) -> dict[tuple[str, ...], float]:
    with server.client() as client:
        text = client.get("/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_outcomes_join_by_request_id_per_version(server: Running) -> None:
    _predict(server, "a-1", [[0.1, 0.1, 0.1, 0.1]])  # predicts 0.4
    _predict(server, "a-2", [[0.2, 0.2, 0.2, 0.2], [0.0, 0.0, 0.0, 0.5]])  # 0.8 and 0.5
    outcomes = [
        {"request_id": "a-1", "outcome": 1},
        {"request_id": "a-2", "outcome": [0, 1]},
        {"request_id": "a-1", "outcome": 1},  # joined already: counted once
        {"request_id": "nobody", "outcome": 0},
    ]
    reply = post_feedback(server, outcomes)
    assert reply.status_code == 200
    assert reply.json() == {"matched": 2, "unmatched": 2}
    counts = _samples(server, f"{names.FEEDBACK_OUTCOMES}")
    key = (("model", "ctr"), ("outcome", "positive"), ("version", "1"))
    assert counts[key] == 2
    assert counts[(("model", "ctr"), ("outcome", "negative"), ("version", "1"))] == 1
    predicted = _samples(server, f"{names.FEEDBACK_PREDICTED}")
    assert predicted[(("model", "ctr"), ("version", "1"))] == pytest.approx(0.4 + 0.8 + 0.5)
    unmatched = _samples(server, f"{names.FEEDBACK_UNMATCHED}")
    assert unmatched[(("model", "ctr"),)] == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'{"outcomes": []}', 400),
        (b'{"outcomes": [{"outcome": 1}]}', 400),
        (b'{"outcomes": [{"request_id": "x", "outcome": 2}]}', 400),
        (b'{"outcomes": [{"request_id": "x", "outcome": true}]}', 400),
        (b'{"outcomes": [{"request_id": "x", "outcome": []}]}', 400),
        (b"[1, 2]", 400),
    ],
)
def test_bad_feedback_is_refused(server: Running, body: bytes, status: int) -> None:
    with server.client() as client:
        reply = client.post("/v2/models/ctr/feedback", content=body)
    assert reply.status_code == status
    assert "error" in reply.json()


def test_feedback_for_another_model_is_not_found(server: Running) -> None:
    with server.client() as client:
        reply = client.post(
            "/v2/models/other/feedback", json={"outcomes": [{"request_id": "x", "outcome": 1}]}
        )
    assert reply.status_code == 404


def test_the_oldest_predictions_are_forgotten_first() -> None:
    join = FeedbackJoin("ctr", ServingMetrics(), capacity=2)
    for i in range(3):
        join.record(
            PredictionRecord(f"r{i}", "1", "primary", 0.0, 1.0, np.zeros((1, 2)), np.array([0.5]))
        )
    assert not join.join("r0", (1.0,))
    assert join.join("r2", (1.0,))
    assert not join.join("r1", (1.0, 0.0))  # one row was predicted, two outcomes sent


def test_positive_probability_reads_predict_proba_and_predict() -> None:
    assert positive_probability(np.array([[0.3, 0.7], [0.9, 0.1]])) == (0.7, 0.1)
    assert positive_probability(np.array([0.25])) == (0.25,)


def test_shadow_answers_are_not_remembered() -> None:
    join = FeedbackJoin("ctr", ServingMetrics())
    join.record(PredictionRecord("s", "2", "shadow", 0.0, 1.0, np.zeros((1, 2)), np.ones(1)))
    assert not join.join("s", (1.0,))
