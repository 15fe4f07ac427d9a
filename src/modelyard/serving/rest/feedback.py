"""Outcomes joined to predictions: ``POST /v2/models/{name}/feedback``.

The server remembers the last ``capacity`` answered requests (request id -> version and the
predicted probability of each row). A client that learns what happened later (a click, a
conversion) posts the outcome with the request id; the server joins it to the prediction and
counts, per version, the outcomes and the probability the model had predicted, so that a
dashboard shows click rate (positive / all) and calibration (predicted / positive) per
version, as Prometheus counters (names in :mod:`modelyard.observe.names`).

The join is in memory and per process: with several workers an outcome must reach the
worker that answered, so join offline from the prediction log for those.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response

from modelyard.observe import names
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import PredictionRecord, PredictionSink
from modelyard.serving.protocol.errors import BadRequest, ModelNotFound
from modelyard.serving.protocol.http import json_response

if TYPE_CHECKING:
    from modelyard.serving.dataplane.sinks import OutcomeForwarder

DEFAULT_CAPACITY = 20_000
"""Answered requests remembered for a join (a few MB); older ones are forgotten first."""
MAX_OUTCOMES = 10_000
"""Outcomes one feedback request may carry."""


def positive_probability(outputs: np.ndarray) -> tuple[float, ...]:
    """Per row: the last column of ``predict_proba`` output, else the value itself."""
    arr = np.asarray(outputs, dtype=float)
    if arr.ndim == 2 and arr.shape[1] >= 1:
        arr = arr[:, -1]
    return tuple(float(x) for x in arr.reshape(-1))


class FeedbackJoin:
    """Remembers predictions by request id and counts the outcomes joined to them."""

    def __init__(
        self, model: str, metrics: ServingMetrics, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self.model = model
        self.capacity = capacity
        # request id -> (version, the outputs as answered); read into probabilities only on a
        # join, so that remembering costs a request about a microsecond.
        self._seen: OrderedDict[str, tuple[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        reg = metrics.registry
        self._outcomes = Counter(
            names.FEEDBACK_OUTCOMES, "Joined outcomes.", ("model", "version", "outcome"),
            registry=reg,
        )  # fmt: skip
        self._predicted = Counter(
            names.FEEDBACK_PREDICTED, "Predicted probability of joined outcomes.",
            ("model", "version"), registry=reg,
        )  # fmt: skip
        self._unmatched = Counter(
            names.FEEDBACK_UNMATCHED, "Outcomes with no remembered prediction.", ("model",),
            registry=reg,
        )  # fmt: skip
        self._unmatched.labels(model)

    def record(self, rec: PredictionRecord) -> None:
        """Remember one answered request (called for every answer; the oldest is dropped)."""
        if rec.role == "shadow":
            return
        with self._lock:
            self._seen[rec.request_id] = (rec.version, rec.outputs)
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)

    def join(self, request_id: str, outcomes: tuple[float, ...]) -> bool:
        """Count ``outcomes`` (one per row, 1 = positive) against the request's prediction.

        A request is joined once: a second outcome for the same id is unmatched.
        """
        with self._lock:
            remembered = self._seen.pop(request_id, None)
        predicted = positive_probability(remembered[1]) if remembered is not None else ()
        if remembered is None or len(outcomes) != len(predicted):
            self._unmatched.labels(self.model).inc()
            return False
        positives = sum(1 for outcome in outcomes if outcome >= 0.5)
        version = remembered[0]
        self._outcomes.labels(self.model, version, "positive").inc(positives)
        self._outcomes.labels(self.model, version, "negative").inc(len(outcomes) - positives)
        self._predicted.labels(self.model, version).inc(sum(predicted))
        return True

    def close(self) -> None:
        """Nothing to flush: the counters live in the app's registry."""


class Tee:
    """One prediction sink that hands every record to several (the log and the join)."""

    def __init__(self, *sinks: PredictionSink | None) -> None:
        self.sinks = tuple(sink for sink in sinks if sink is not None)

    def record(self, rec: PredictionRecord) -> None:
        for sink in self.sinks:
            sink.record(rec)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def _outcomes(item: Any) -> tuple[str, tuple[float, ...]]:
    if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
        raise BadRequest("each outcome needs a 'request_id' string")
    value = item.get("outcome")
    raw: list[Any] = value if isinstance(value, list) else [value]
    values = tuple(float(v) for v in raw if isinstance(v, int | float) and not isinstance(v, bool))
    if not values or len(values) != len(raw) or not all(0 <= v <= 1 for v in values):
        raise BadRequest(
            f"request {item['request_id']!r}: 'outcome' must be a number from 0 to 1 "
            "(1 = clicked), or a list of them, one per row"
        )
    return item["request_id"], values


class FeedbackApi:
    """The route handler: ``{"outcomes": [{"request_id": "...", "outcome": 1}, ...]}``."""

    def __init__(self, join: FeedbackJoin, forward: OutcomeForwarder | None = None) -> None:
        self.join = join
        self.forward = forward

    async def feedback(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name != self.join.model:
            raise ModelNotFound(f"model {name!r} is not served here (this is {self.join.model!r})")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"feedback body is not JSON: {exc}") from exc
        items = body.get("outcomes") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise BadRequest("feedback body must be {'outcomes': [{'request_id', 'outcome'}]}")
        if len(items) > MAX_OUTCOMES:
            raise BadRequest(f"at most {MAX_OUTCOMES} outcomes per request, got {len(items)}")
        parsed = [_outcomes(item) for item in items]
        if self.forward is not None:
            for request_id, values in parsed:
                self.forward.send(request_id, values)
        matched = sum(self.join.join(request_id, values) for request_id, values in parsed)
        return json_response({"matched": matched, "unmatched": len(parsed) - matched})
