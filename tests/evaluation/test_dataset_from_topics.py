"""Datasets from Kafka topics: the same join as from files, the broker frozen under load, and
builds that read only what is new."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from modelyard.backends.local.process import ServerProcess
from modelyard.backends.local.sink_health import read_health
from modelyard.cli.rollout_views import log_health_text
from modelyard.config import load_workspace
from modelyard.evaluation.trainset import build_training_set
from modelyard.serving.dataplane.kafka_sink import KafkaPredictionLog
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import PredictionLog, PredictionRecord
from modelyard.serving.options import PredictionLogOptions
from modelyard.streams.tansu import TansuBroker

STAMP = "2026-12-01T10:00:00"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    with TansuBroker(tmp_path / "tansu.log").running() as running:
        yield running


def _use_kafka(root: Path, broker: TansuBroker, deploy: str) -> None:
    settings = root / "modelyard.yaml"
    servers = broker.endpoint.bootstrap_servers
    settings.write_text(settings.read_text() + f"kafka:\n  bootstrap_servers: '{servers}'\n")
    deploy_file = root / "models" / "ctr" / "deploy.yaml"
    deploy_file.write_text(deploy_file.read_text() + "\n" + deploy)
    shutil.rmtree(root / ".modelyard" / "predictions", ignore_errors=True)


def _outcome_messages(outcomes: dict[str, int]) -> list[tuple[bytes, bytes]]:
    return [
        (rid.encode(), orjson.dumps({"request_id": rid, "outcome": v, "timestamp": STAMP}))
        for rid, v in outcomes.items()
    ]


def _build(root: Path, out: Path, *args: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "dataset", "build", "ctr", "--out", str(out),
         "--json", "-w", str(root), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, int] = json.loads(done.stdout)
    return report


def _metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{") and 'model="ctr"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _wait_metric(client: httpx.Client, names: tuple[str, ...], total: float, what: str) -> None:
    deadline = time.monotonic() + 60
    while sum(_metric(client, n) for n in names) < total:
        assert time.monotonic() < deadline, f"{what}: {total} never reached"
        time.sleep(0.05)


def _wait_forwarded(client: httpx.Client, total: int) -> None:
    wanted = 'modelyard_feedback_forwarded_total{model="ctr",result="delivered"}'
    deadline = time.monotonic() + 60
    while True:
        lines = client.get("/metrics").text.splitlines()
        count = sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(wanted))
        if count >= total:
            return
        assert time.monotonic() < deadline, f"only {count} of {total} outcomes forwarded"
        time.sleep(0.05)


DELIVERED = "modelyard_prediction_log_delivered_total"
SPILLED = "modelyard_prediction_log_spilled_total"


def test_a_frozen_broker_fails_no_request_and_its_records_reach_the_dataset(
    eval_dir: Path, broker: TansuBroker, tmp_path: Path
) -> None:
    broker.create_topic("preds", partitions=2)
    broker.create_topic("outs")
    _use_kafka(
        eval_dir,
        broker,
        "prediction_log:\n  sink: kafka\n  topic: preds\n  outcomes_topic: outs\n"
        "  delivery_timeout: 1s\n",
    )
    rows = np.random.default_rng(4).normal(size=(60, 8))
    codes = []
    with (
        ServerProcess(eval_dir, "ctr", version=1).running() as proc,
        httpx.Client(base_url=proc.url, timeout=30) as client,
    ):

        def send(i: int) -> None:
            reply = client.post(
                "/v1/models/ctr:predict",
                json={"instances": [rows[i].tolist()]},
                headers={"x-request-id": f"req-{i}"},
            )
            codes.append(reply.status_code)

        for i in range(30):
            send(i)
        _wait_metric(client, (DELIVERED,), 30, "acknowledged records")
        broker.freeze()  # mid-load: the broker stops answering, its connections hang
        for i in range(30, 60):
            send(i)
        _wait_metric(client, (DELIVERED, SPILLED), 60, "delivered + spilled")
        assert _metric(client, SPILLED) == 30
        assert _metric(client, DELIVERED) == 30
        assert _metric(client, "modelyard_prediction_log_broker_up") == 0
        # what `rollout status` shows of a local server's prediction log
        health = read_health(proc.port, "ctr")
        assert health is not None
        assert (health.delivered, health.spilled, health.dropped) == (30, 30, 0)
        assert health.broker_up is False
        shown = log_health_text(health)
        assert "brokers not answering" in shown
        assert "30 delivered" in shown
        assert "30 spilled to Parquet" in shown
        broker.thaw()
        # outcomes posted to the feedback endpoint are forwarded to the outcomes topic
        outcomes = {f"req-{i}": i % 2 for i in range(20, 45)} | {"ghost-1": 1, "ghost-2": 0}
        posted = [{"request_id": rid, "outcome": v} for rid, v in outcomes.items()]
        reply = client.post("/v2/models/ctr/feedback", json={"outcomes": posted})
        assert reply.json() == {"matched": 25, "unmatched": 2}
        _wait_forwarded(client, 27)
    assert codes == [200] * 60
    spill_files = sorted((eval_dir / ".modelyard" / "predictions").rglob("*.parquet"))
    spilled = [r for f in spill_files for r in pq.read_table(f).column("request_id").to_pylist()]
    assert sorted(spilled) == sorted(f"req-{i}" for i in range(30, 60))

    out = tmp_path / "train.parquet"
    report = _build(eval_dir, out, "--predictions", "kafka://preds", "--outcomes", "kafka://outs")
    assert report["matched_requests"] == 25
    assert report["rows"] == 25
    assert report["predictions_without_outcome"] == 35
    assert report["outcomes_without_prediction"] == 2
    table = pq.read_table(out).to_pylist()
    assert sorted(r["request_id"] for r in table) == sorted(f"req-{i}" for i in range(20, 45))
    for record in table:
        i = int(record["request_id"].split("-")[1])
        assert [record[f"f{k}"] for k in range(8)] == rows[i].tolist()
        assert record["clicked"] == i % 2


def _traffic(n: int, start: int = 0) -> list[PredictionRecord]:
    rng = np.random.default_rng(start)
    records = []
    for i in range(start, start + n):
        p = float(rng.random())
        records.append(
            PredictionRecord(
                request_id=f"req-{i}", version=str(1 + i % 2),
                role="shadow" if i % 7 == 6 else "primary",
                timestamp=1_780_000_000.0 + i * 0.37, latency_ms=float(rng.random()),
                inputs=rng.normal(size=(1 + i % 3, 8)),
                outputs=np.tile([[1 - p, p]], (1 + i % 3, 1)),
            )
        )  # fmt: skip
    return records


def _log_both_ways(root: Path, broker: TansuBroker, records: list[PredictionRecord]) -> None:
    """The same records through the Parquet log (the workspace's) and the Kafka sink."""
    metrics = ServingMetrics()
    files = PredictionLog(
        "ctr", PredictionLogOptions(directory=root / ".modelyard" / "predictions"), metrics
    )
    kafka = KafkaPredictionLog(
        "ctr",
        PredictionLogOptions(
            directory=root / "spill", sink="kafka", topic="preds", kafka=broker.endpoint
        ),
        metrics,
    )
    files.start()
    kafka.start()
    for rec in records:
        files.record(rec)
        kafka.record(rec)
    files.close()
    kafka.close()
    assert kafka.delivered == len(records)


def test_topics_and_files_give_the_same_dataset_row_for_row(
    eval_dir: Path, broker: TansuBroker, tmp_path: Path
) -> None:
    broker.create_topic("preds", partitions=3)
    broker.create_topic("outs", partitions=2)
    _use_kafka(eval_dir, broker, "")
    _log_both_ways(eval_dir, broker, _traffic(80))
    outcomes = {f"req-{i}": i % 3 % 2 for i in range(0, 80, 2)} | {"ghost": 1}
    outcomes_csv = tmp_path / "outcomes.csv"
    with outcomes_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "outcome", "timestamp"])
        writer.writerows([rid, v, STAMP] for rid, v in outcomes.items())
    broker.produce("outs", _outcome_messages(outcomes))

    ws = load_workspace(eval_dir)
    from_files = build_training_set(ws, ws.model("ctr"), outcomes_csv, tmp_path / "files.pq")
    # the topic build must not see the Parquet log: only what the topics hold
    shutil.move(eval_dir / ".modelyard" / "predictions", tmp_path / "moved")
    from_topics = build_training_set(
        ws,
        ws.model("ctr"),
        "kafka://outs",
        tmp_path / "topics.pq",
        predictions_from="kafka://preds",
    )
    assert from_files.matched_requests == from_topics.matched_requests > 0
    assert from_files.rows == from_topics.rows
    assert from_files.predictions_without_outcome == from_topics.predictions_without_outcome
    assert from_files.outcomes_without_prediction == from_topics.outcomes_without_prediction
    assert from_topics.outcomes_without_prediction == 1 + len(
        [i for i in range(0, 80, 2) if i % 7 == 6]  # outcomes of shadow answers match nothing
    )
    files_table = pq.read_table(tmp_path / "files.pq")
    topics_table = pq.read_table(tmp_path / "topics.pq")
    assert files_table.schema == topics_table.schema
    assert files_table.to_pylist() == topics_table.to_pylist()

    # a second build of the same dataset reads only what arrived since
    broker.produce(
        "preds",
        [(r.request_id.encode(), _encoded(r)) for r in _traffic(5, start=100)],
    )
    broker.produce("outs", _outcome_messages({f"req-{i}": 1 for i in range(100, 105)}))
    again = build_training_set(
        ws,
        ws.model("ctr"),
        "kafka://outs",
        tmp_path / "topics.pq",
        predictions_from="kafka://preds",
    )
    assert again.matched_requests == 5 - len([i for i in range(100, 105) if i % 7 == 6])
    assert again.predictions_without_outcome == 0
    assert sorted(set(pq.read_table(tmp_path / "topics.pq").column("request_id").to_pylist())) == [
        f"req-{i}" for i in range(100, 105) if i % 7 != 6
    ]


def _encoded(rec: PredictionRecord) -> bytes:
    from modelyard.streams import encode_prediction

    return encode_prediction(
        request_id=rec.request_id, model="ctr", version=rec.version, role=rec.role,
        timestamp=rec.timestamp, latency_ms=rec.latency_ms, inputs=rec.inputs,
        outputs=rec.outputs,
    )  # fmt: skip
