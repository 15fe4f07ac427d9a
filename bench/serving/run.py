"""Serving benchmark: modelyard (batching on and off) against a bare Starlette baseline.

For each server (pinned with ``taskset`` to one core, wrk on another) it runs ``wrk`` with a Lua
script that POSTs one v1 row of the example model (StandardScaler + LogisticRegression, 8
features, predict_proba) at concurrency 1, 16 and 64, and prints requests/s, P50 and P99 with
ratios to the baseline. "raw" is the model called in a loop in process, the ceiling.
Usage: ``.venv/bin/python bench/serving/run.py [--duration 5] [--server-cpu 0 --wrk-cpu 1]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import httpx
from fuzz import example_model, free_port

BARE = """
import sys, orjson, numpy as np, mlflow.sklearn, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
model = mlflow.sklearn.load_model(sys.argv[1])
async def predict(request):
    rows = np.asarray(orjson.loads(await request.body())["instances"], dtype=np.float64)
    out = model.predict_proba(rows)
    return Response(orjson.dumps({"predictions": out}, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")
async def ready(request):
    return Response("{}")
app = Starlette(routes=[Route("/v1/models/ctr:predict", predict, methods=["POST"]),
                        Route("/v2/health/ready", ready)])
uvicorn.run(app, port=int(sys.argv[2]), log_level="warning", access_log=False)
"""

MODELYARD = """
import sys
from pathlib import Path
from modelyard.serving import BatchingOptions, ModelSource, ServerOptions, run_server
opts = ServerOptions(batching=BatchingOptions(enabled=sys.argv[3] == "on"))
run_server(ModelSource("ctr", "1", Path(sys.argv[1]), method="predict_proba"), opts,
           port=int(sys.argv[2]))
"""

LUA = """
wrk.method = "POST"
wrk.body = '{"instances": [[0.1, -0.2, 0.3, 0.5, -1.0, 0.7, 0.0, 1.2]]}'
wrk.headers["Content-Type"] = "application/json"
"""


def start(code: str, args: list[str], cpu: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", code, *args]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", cpu, *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{args[1]}/v2/health/ready").status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server {cmd} did not become ready")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, conns: int, duration: int, lua: Path, cpu: str) -> tuple[float, float, float]:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(lua), url]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", cpu, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"  warning: {non2xx.group(1)} non-2xx responses", file=sys.stderr)
    return rps, _ms(*p50.groups()), _ms(*p99.groups())


def raw_figures(path: Path, seconds: float = 3.0) -> tuple[float, float, float]:
    import mlflow.sklearn
    import numpy as np

    model = mlflow.sklearn.load_model(str(path))
    row = np.array([[0.1, -0.2, 0.3, 0.5, -1.0, 0.7, 0.0, 1.2]])
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        model.predict_proba(row)
        times.append(time.perf_counter() - t)
    arr = np.array(times) * 1000
    return len(times) / sum(times), float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--wrk-cpu", default="1")
    parser.add_argument("--concurrency", default="1,16,64")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        path = example_model(Path(tmp))
        lua = Path(tmp) / "post.lua"
        lua.write_text(LUA)
        results: dict[str, dict[int, tuple[float, float, float]]] = {}
        raw = raw_figures(path)
        servers = {
            "bare starlette": (BARE, []),
            "modelyard, no batching": (MODELYARD, ["off"]),
            "modelyard, batching": (MODELYARD, ["on"]),
        }
        for label, (code, extra) in servers.items():
            port = free_port()
            proc = start(code, [str(path), str(port), *extra], args.server_cpu)
            try:
                url = f"http://127.0.0.1:{port}/v1/models/ctr:predict"
                wrk(url, 4, 1, lua, args.wrk_cpu)  # warm the connection path
                results[label] = {c: wrk(url, c, args.duration, lua, args.wrk_cpu) for c in levels}
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    print(f"\nraw in-process predict_proba (1 row): {raw[0]:,.0f} calls/s, "
          f"p50 {raw[1]:.3f} ms, p99 {raw[2]:.3f} ms\n")  # fmt: skip
    base = results["bare starlette"]
    print("| server | conc | req/s | p50 ms | p99 ms | req/s vs bare | req/s vs raw |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, rows in results.items():
        for c, (rps, p50, p99) in rows.items():
            print(
                f"| {label} | {c} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | "
                f"{rps / base[c][0]:.2f} | {rps / raw[0]:.2f} |"
            )


if __name__ == "__main__":
    main()
