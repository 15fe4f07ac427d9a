"""The Kafka prediction sink: every record on the topic, and spilled to Parquet, counted
exactly, when the broker is gone."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
from prometheus_client import generate_latest

from modelyard.serving.dataplane.kafka_sink import KafkaPredictionLog
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import PredictionRecord
from modelyard.serving.options import PredictionLogOptions
from modelyard.streams import PREDICTION_SCHEMA, SCHEMA_VERSION, read_topic
from modelyard.streams.tansu import TansuBroker


def _records(n: int, start: int = 0) -> list[PredictionRecord]:
    rng = np.random.default_rng(start)
    return [
        PredictionRecord(
            request_id=f"req-{i}",
            version="3",
            role="primary",
            timestamp=1_780_000_000.0 + i,
            latency_ms=1.5,
            inputs=rng.normal(size=(1, 4)),
            outputs=rng.random(size=(1, 2)),
        )
        for i in range(start, start + n)
    ]


def _sink(broker: TansuBroker, spill: Path, metrics: ServingMetrics) -> KafkaPredictionLog:
    options = PredictionLogOptions(
        directory=spill, sink="kafka", topic="preds", kafka=broker.endpoint,
        delivery_timeout_s=1.0, buffer=1000,
    )  # fmt: skip
    sink = KafkaPredictionLog("ctr", options, metrics)
    sink.start()
    return sink


def _metric(metrics: ServingMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name, {"model": "ctr"})
    return 0.0 if value is None else value


def _spilled_ids(spill: Path) -> list[str]:
    files = sorted(spill.glob("model=ctr/date=*/hour=*/*.parquet"))
    return [rid for f in files for rid in pq.read_table(f).column("request_id").to_pylist()]


def test_every_record_reaches_the_topic_in_the_documented_schema(
    broker: TansuBroker, tmp_path: Path
) -> None:
    import jsonschema

    broker.create_topic("preds", partitions=2)
    metrics = ServingMetrics()
    sink = _sink(broker, tmp_path / "spill", metrics)
    records = _records(50)
    for rec in records:
        sink.record(rec)
    sink.close()
    assert _metric(metrics, "modelyard_prediction_log_delivered_total") == 50
    assert _metric(metrics, "modelyard_prediction_log_spilled_total") == 0
    messages = list(read_topic(broker.endpoint, "preds", {}, timeout_s=30))
    assert len(messages) == 50
    by_id = {}
    for message in messages:
        body = orjson.loads(message.value)
        jsonschema.validate(body, PREDICTION_SCHEMA)
        assert message.key == body["request_id"].encode()
        by_id[body["request_id"]] = body
    for rec in records:
        body = by_id[rec.request_id]
        assert body["schema_version"] == SCHEMA_VERSION
        assert body["inputs"] == rec.inputs.tolist()
        assert body["outputs"] == rec.outputs.tolist()
        assert body["timestamp_us"] == int(rec.timestamp * 1e6)
    assert _spilled_ids(tmp_path / "spill") == []
    assert b"modelyard_prediction_log_broker_up" in generate_latest(metrics.registry)


def test_with_the_broker_killed_records_are_spilled_and_counted_until_it_is_back(
    broker: TansuBroker, tmp_path: Path
) -> None:
    broker.create_topic("preds")
    metrics = ServingMetrics()
    spill = tmp_path / "spill"
    sink = _sink(broker, spill, metrics)
    for rec in _records(20):
        sink.record(rec)
    deadline = time.monotonic() + 30
    while _metric(metrics, "modelyard_prediction_log_delivered_total") < 20:
        assert time.monotonic() < deadline, "the first 20 records were never acknowledged"
        time.sleep(0.02)
    broker.stop()
    late = _records(30, start=20)
    for rec in late:
        sink.record(rec)
    deadline = time.monotonic() + 30
    while _metric(metrics, "modelyard_prediction_log_spilled_total") < 30:
        assert time.monotonic() < deadline, "records for a dead broker were not spilled"
        time.sleep(0.02)
    assert _metric(metrics, "modelyard_prediction_log_broker_up") == 0
    # a broker back on the same address: the sink reconnects and delivers again (records
    # sent before it has reconnected may still spill: each one is either on the topic or
    # in a spill file, and counted as such)
    sent = [r.request_id for r in late]
    with TansuBroker(tmp_path / "tansu-again.log", port=broker.port).running() as again:
        again.create_topic("preds")
        deadline = time.monotonic() + 60
        more = iter(_records(10_000, start=50))
        while _metric(metrics, "modelyard_prediction_log_delivered_total") == 20:
            assert time.monotonic() < deadline, "the sink did not deliver to the new broker"
            rec = next(more)
            sent.append(rec.request_id)
            sink.record(rec)
            time.sleep(0.05)
        sink.close()
        assert _metric(metrics, "modelyard_prediction_log_broker_up") == 1
        on_topic = [
            orjson.loads(m.value)["request_id"] for m in read_topic(again.endpoint, "preds", {})
        ]
    spilled = _spilled_ids(spill)
    assert len(spilled) == _metric(metrics, "modelyard_prediction_log_spilled_total") >= 30
    assert len(on_topic) == _metric(metrics, "modelyard_prediction_log_delivered_total") - 20
    assert sorted(spilled + on_topic) == sorted(sent)
