"""How a running local server's prediction log is doing, read from its ``/metrics``.

``rollout status`` shows it, so that a Kafka sink whose brokers stopped answering (records
being spilled to Parquet) or a full buffer (records dropped) is seen without a dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from modelyard.observe import names

SCRAPE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class PredictionLogHealth:
    """The prediction-log counters of one server, since it started."""

    written: float
    """Records written to Parquet (spilled ones included)."""
    delivered: float
    """Records the Kafka brokers acknowledged."""
    spilled: float
    """Records spilled to Parquet because the brokers did not take them."""
    dropped: float
    """Records dropped because the buffer was full."""
    broker_up: bool | None
    """Whether the last record reached the brokers; None without a Kafka sink."""

    def to_dict(self) -> dict[str, float | bool | None]:
        return {
            "written": self.written,
            "delivered": self.delivered,
            "spilled": self.spilled,
            "dropped": self.dropped,
            "broker_up": self.broker_up,
        }


def _family(name: str) -> str:
    return name.removesuffix("_total")


def read_health(port: int, model_id: str) -> PredictionLogHealth | None:
    """The counters of the server on ``127.0.0.1:port``; None if it does not answer."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    if reply.status_code != 200:
        return None
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.labels.get("model") == model_id and not sample.name.endswith("_created"):
                found[sample.name] = sample.value
    up = found.get(names.PREDICTION_LOG_BROKER_UP)
    return PredictionLogHealth(
        written=found.get(names.PREDICTION_LOG_WRITTEN, 0.0),
        delivered=found.get(names.PREDICTION_LOG_DELIVERED, 0.0),
        spilled=found.get(names.PREDICTION_LOG_SPILLED, 0.0),
        dropped=found.get(names.PREDICTION_LOG_DROPPED, 0.0),
        broker_up=None if up is None else up >= 1,
    )
