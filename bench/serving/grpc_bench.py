"""gRPC rows of the serving benchmark: modelyard and MLServer over OIP v2 gRPC and REST, one run.

Each server runs pinned to one core (``taskset``), the load generator on the other: ``wrk`` for
REST (as ``run.py``), ``h2load`` (apt ``nghttp2-client``) for gRPC, sending one framed
``ModelInferRequest`` (one row of the example model, typed ``fp64_contents``) over ``c``
HTTP/2 connections of one stream each, as wrk uses ``c`` connections. Every server's gRPC answer
is checked against raw ``predict_proba`` (1e-6) before timing, and h2load's per-request log
gives P50/P99. Ratios are of the same run: to modelyard's REST at that concurrency, and to the
best MLServer row. MLServer runs from ``bench/.venvs/mlserver`` (made with uv on first use).
Usage: ``.venv/bin/python bench/serving/grpc_bench.py [--duration 8]``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import grpc
import numpy as np
import peers
import run
from peers import ROOT, ROW, Server

from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.oip.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub

MODELYARD_GRPC = peers.MODELYARD.replace(
    "port=int(sys.argv[2]))", "port=int(sys.argv[2]), grpc_port=int(sys.argv[2]) + 1)"
)
"""The benchmark's modelyard server (batching on, protection on), with gRPC on port + 1."""
RPC = "/inference.GRPCInferenceService/ModelInfer"


def modelyard_server() -> Server:
    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        return [str(python), "-c", MODELYARD_GRPC, str(model), str(port), "on",
                str(work / "predlog-grpc")]  # fmt: skip

    return Server("modelyard, batching", features=peers.PROTECTED, command=command)


def request_bytes() -> bytes:
    message = pb.ModelInferRequest(model_name="ctr")
    tensor = message.inputs.add(name="input-0", datatype="FP64", shape=[1, len(ROW)])
    tensor.contents.fp64_contents.extend(ROW)
    message.outputs.add(name="predict_proba")  # MLServer's sklearn runtime answers predict else
    return message.SerializeToString()


def check_grpc(port: int, expected: np.ndarray) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = GRPCInferenceServiceStub(channel).ModelInfer(
            pb.ModelInferRequest.FromString(request_bytes()), timeout=30
        )
    index = next(i for i, out in enumerate(reply.outputs) if out.name == "predict_proba")
    if reply.raw_output_contents:
        got = np.frombuffer(reply.raw_output_contents[index], "<f8")
    else:
        got = np.asarray(reply.outputs[index].contents.fp64_contents)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=1e-6):
        raise RuntimeError(f"wrong gRPC answer {got.tolist()} (expected {expected.tolist()})")


def h2load(port: int, data: Path, conns: int, duration: int, cpu: str, work: Path) -> run.Cell:
    log = work / f"h2load-{port}-{conns}.tsv"
    log.unlink(missing_ok=True)
    cmd = [
        "h2load", "-c", str(conns), "-m", "1", "-t", "1", "-D", str(duration),
        "-d", str(data), "-H", "content-type: application/grpc", "-H", "te: trailers",
        "--log-file", str(log), f"http://127.0.0.1:{port}{RPC}",
    ]  # fmt: skip
    before = run.load()
    out = subprocess.run(run.pinned(cmd, cpu), capture_output=True, text=True, check=True).stdout
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    took = re.search(r"finished in ([\d.]+)(ms|s),", out)
    if not (done and took):
        raise RuntimeError(f"cannot read h2load output: {out[-400:]}")
    seconds = float(took.group(1)) / (1000.0 if took.group(2) == "ms" else 1.0)
    # columns: start (us since epoch), HTTP status, microseconds to the end of the response
    lines = [row.split("\t") for row in log.read_text().splitlines() if row]
    latency_ms = np.array([int(row[2]) for row in lines]) / 1000.0
    return {
        "rps": int(done.group(2)) / seconds,
        "p50_ms": float(np.percentile(latency_ms, 50)),
        "p99_ms": float(np.percentile(latency_ms, 99)),
        "failed": float(int(done.group(1)) - int(done.group(2))),
        "load_before": before,
        "load_after": run.load(),
    }


def measure(
    server: Server, python: Path, args: argparse.Namespace, work: Path, model_dir: Path,
    expected: np.ndarray, levels: list[int],
) -> dict[str, dict[int, run.Cell]]:  # fmt: skip
    proc, port = run.start(server, python, work, model_dir, args.server_cpu)
    try:
        url = f"http://127.0.0.1:{port}{server.path}"
        run.check_answer(server, url, expected)
        check_grpc(port + 1, expected)
        lua = work / f"{port}.lua"
        lua.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(server.body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        data = work / "request.grpc"
        message = request_bytes()
        data.write_bytes(b"\x00" + struct.pack(">I", len(message)) + message)
        run.wrk(url, lua, 4, 2, args.wrk_cpu)  # warm both paths
        h2load(port + 1, data, 4, 2, args.wrk_cpu, work)
        rest = {c: run.wrk(url, lua, c, args.duration, args.wrk_cpu) for c in levels}
        grpc_cells = {c: h2load(port + 1, data, c, args.duration, args.wrk_cpu, work)
                      for c in levels}  # fmt: skip
        return {"REST": rest, "gRPC": grpc_cells}
    finally:
        run.stop(proc)


def table(results: dict[str, dict[str, dict[int, run.Cell]]], levels: list[int]) -> str:
    lines = [
        "| server | protocol | conc | req/s | p50 ms | p99 ms | vs modelyard REST "
        "| vs best MLServer |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    mine = results.get("modelyard, batching", {}).get("REST", {})
    for c in levels:
        peer = [cells[c]["rps"] for label, protos in results.items() if label.startswith("MLS")
                for cells in protos.values()]  # fmt: skip
        best = max(peer) if peer else None
        for label, protos in results.items():
            for protocol, cells in protos.items():
                cell = cells[c]
                vs_rest = f"{cell['rps'] / mine[c]['rps']:.2f}" if c in mine else "–"
                vs_peer = f"{cell['rps'] / best:.2f}" if best else "–"
                lines.append(
                    f"| {label} | {protocol} | {c} | {cell['rps']:,.0f} | {cell['p50_ms']:.2f} "
                    f"| {cell['p99_ms']:.2f} | {vs_rest} | {vs_peer} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--wrk-cpu", default="1")
    parser.add_argument("--concurrency", default="1,64")
    args = parser.parse_args()
    for tool in ("wrk", "h2load"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed: apt-get install -y wrk nghttp2-client")
    import sklearn

    levels = [int(c) for c in args.concurrency.split(",")]
    started = time.time()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="modelyard-grpc-bench-") as tmp:
        work = Path(tmp)
        model, model_dir = run.fit_model(work)
        expected = model.predict_proba(np.array([ROW]))[0]
        for server in (modelyard_server(), peers.mlserver_server()):
            python = Path(sys.executable)
            if server.packages:
                python = peers.ensure_venv("mlserver", server.packages, sklearn.__version__)
            print(f"{server.label} ...", file=sys.stderr, flush=True)
            try:
                results[server.label] = measure(
                    server, python, args, work, model_dir, expected, levels
                )
            except Exception as exc:
                print(f"  not measured: {type(exc).__name__}: {exc}", file=sys.stderr)
    text = table(results, levels)
    print(f"\n{text}\n")
    print(f"load average after: {run.os.getloadavg()}; {time.time() - started:.0f} s in all")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving-grpc.json").write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "duration_s": args.duration,
                "servers": results,
                "table": text,
            },
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
