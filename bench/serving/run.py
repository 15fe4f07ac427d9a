"""Serving benchmark: modelyard against raw inference, a bare Starlette app and its peers.

One run measures requests/s, P50 and P99 at concurrency 1, 16 and 64 for: raw in-process
``predict_proba`` (the limit), a bare Starlette endpoint, modelyard with and without batching
(protection on), and BentoML, MLServer and MLflow serving, each from its own venv under
``bench/.venvs/`` (made with uv on first use). Every server is pinned to one core with
``taskset`` and ``wrk`` (from apt) runs on the other; all serve the same fitted model (the
example: StandardScaler + LogisticRegression on 8 features), and each one's answer for the
benchmark row is checked against raw ``predict_proba`` (1e-6) before it is timed. A peer that
cannot install or start is reported as such. Prints a Markdown table, writes
``bench/results/serving.json``.
Usage: ``.venv/bin/python bench/serving/run.py [--duration 8] [--only modelyard,BentoML]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import httpx
import numpy as np
import peers
from peers import ROOT, ROW, Server

Cell = dict[str, float]


def fit_model(work: Path) -> tuple[Any, Path]:
    import mlflow.sklearn
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=400, n_features=8, random_state=0)
    model = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(X, y)
    path = work / "ctr"
    mlflow.sklearn.save_model(model, str(path), input_example=X[:2])
    peers.prepare_models(work, model, X[:2], path)
    return model, path


def cli_workspace(work: Path) -> tuple[Path, np.ndarray]:
    """A workspace where ``ctr`` was trained by ``modelyard train`` (its deploy.yaml's rate
    limit lifted), and that version's probabilities for the benchmark row."""
    from modelyard.config import load_workspace
    from modelyard.registry import Registry
    from modelyard.serving.runtimes.skops_files import load_skops

    ws = work / "ws"
    cli = str(Path(sys.executable).with_name("modelyard"))
    subprocess.run([cli, "init", str(ws)], check=True, capture_output=True)
    deploy = ws / "models" / "ctr" / "deploy.yaml"
    text = deploy.read_text()
    lifted = re.sub(r"rate_limit:\n  rps: \d+\n  burst: \d+",
                    "rate_limit:\n  rps: 1000000\n  burst: 1000000", text)  # fmt: skip
    if lifted == text:
        raise RuntimeError(f"cannot lift the rate limit in {deploy}")
    deploy.write_text(lifted)
    subprocess.run([cli, "train", "ctr", "-w", str(ws)], check=True, capture_output=True)
    fetched = Registry.for_workspace(load_workspace(ws)).fetch("ctr", 1)
    model = load_skops(fetched.path / "model.skops")
    return ws, model.predict_proba(np.array([ROW]))[0]


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], cpu: str) -> list[str]:
    return ["taskset", "-c", cpu, *cmd] if shutil.which("taskset") else cmd


def start(server: Server, python: Path, work: Path, model: Path, cpu: str) -> tuple[Any, int]:
    port = free_port()
    while any(_busy(port + i) for i in (1, 2)):  # MLServer takes port+1 and port+2 too
        port = free_port()
    cmd = server.command(python, work, port, model)  # type: ignore[misc]
    logs = ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / f"{server.label.replace(' ', '_').replace(',', '')}.log").open("wb")
    proc = subprocess.Popen(
        pinned(cmd, cpu), stdout=log, stderr=subprocess.STDOUT, cwd=work,
        env={**os.environ, "PATH": f"{python.parent}:{os.environ['PATH']}", **server.env},
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} (log: {log.name})")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{server.ready}", timeout=2).status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise RuntimeError("not ready within 180 s")


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop(proc: Any) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def check_answer(server: Server, url: str, expected: np.ndarray) -> None:
    r = httpx.post(url, content=server.body, headers={"content-type": "application/json"})
    r.raise_for_status()
    got = np.asarray(server.probabilities(r.json()), dtype=float).ravel()
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=1e-6):
        raise RuntimeError(f"wrong answer {got.tolist()} (expected {expected.tolist()})")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, lua: Path, conns: int, duration: int, cpu: str) -> Cell:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(lua), url]
    before = load()
    out = subprocess.run(pinned(cmd, cpu), capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if not (rps and p50 and p99):
        raise RuntimeError(f"cannot read wrk output: {out[-300:]}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(*p50.groups()),
        "p99_ms": _ms(*p99.groups()),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",  # type: ignore[dict-item]
        "load_before": before,
        "load_after": load(),
    }


def raw_figures(model: Any, rows: int, seconds: float) -> Cell:
    """``rows`` rows per ``predict_proba`` call in a loop: rows/s and per-call latency."""
    batch = np.array([ROW] * rows)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        model.predict_proba(batch)
        times.append(time.perf_counter() - t)
    arr = np.array(times) * 1000
    return {
        "rps": rows * len(times) / (arr.sum() / 1000),
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "load_before": load(),
    }


def run_raw(model: Any, levels: list[int], cpu: str) -> dict[int, Cell]:
    """Raw figures measured in a child pinned to the servers' core, like the servers."""
    os.sched_setaffinity(0, {int(cpu)})
    try:
        return {c: raw_figures(model, c, 3.0) for c in levels}
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def measure(
    server: Server, args: argparse.Namespace, work: Path, model_dir: Path, expected: np.ndarray
) -> dict[str, Any]:
    import sklearn

    levels = [int(c) for c in args.concurrency.split(",")]
    try:
        python = Path(sys.executable)
        if server.packages:
            python = peers.ensure_venv(server.label.split()[0].lower(), server.packages,
                                       sklearn.__version__)  # fmt: skip
        proc, port = start(server, python, work, model_dir, args.server_cpu)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    try:
        url = f"http://127.0.0.1:{port}{server.path}"
        check_answer(server, url, expected if server.expected is None else server.expected)
        lua = work / f"{port}.lua"
        lua.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(server.body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        wrk(url, lua, 4, 2, args.wrk_cpu)  # warm the connection path and the server
        cells = {c: wrk(url, lua, c, args.duration, args.wrk_cpu) for c in levels}
        return {"features": server.features, "cells": cells}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        stop(proc)


def table(raw: dict[int, Cell], results: dict[str, dict[str, Any]], peer_labels: list[str]) -> str:
    levels = sorted(raw)
    best: dict[int, tuple[str, float]] = {}
    for c in levels:
        measured = [
            (label, results[label]["cells"][c]["rps"])
            for label in peer_labels
            if "cells" in results.get(label, {})
        ]
        if measured:
            best[c] = max(measured, key=lambda m: m[1])
    # The same run's bare endpoint: every figure is also read as a ratio to it.
    bare_cells = results.get(peers.bare().label, {}).get("cells", {})
    bare = {c: cell["rps"] for c, cell in bare_cells.items()}
    lines = [
        "| server | conc | req/s | p50 ms | p99 ms | vs bare | vs best peer | vs raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in levels:
        r = raw[c]
        lines.append(
            f"| raw predict_proba, {c} row{'s' if c > 1 else ''}/call | {c} | {r['rps']:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | | | 1.00 |"
        )
    for label, result in results.items():
        if "cells" not in result:
            lines.append(f"| {label} | – | not measured: {result['error'][:120]} | | | | | |")
            continue
        for c, cell in result["cells"].items():
            vs_peer = f"{cell['rps'] / best[c][1]:.2f}" if c in best else "–"
            base = bare.get(c)
            vs_bare = f"{cell['rps'] / base:.2f}" if base else "–"
            lines.append(
                f"| {label} | {c} | {cell['rps']:,.0f} | {cell['p50_ms']:.2f} | "
                f"{cell['p99_ms']:.2f} | {vs_bare} | {vs_peer} | "
                f"{cell['rps'] / raw[c]['rps']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--wrk-cpu", default="1")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--only", default="", help="comma-separated labels (prefixes)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    servers = [
        peers.bare(),
        peers.modelyard(batching=False),
        peers.modelyard(batching=True),
        peers.modelyard_cli(Path()),
        peers.bentoml_server(),
        peers.mlserver_server(),
        peers.mlserver_server(batching=True),
        peers.mlflow_server(),
    ]
    peer_labels = [s.label for s in servers if s.packages]
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        servers = [s for s in servers if any(s.label.lower().startswith(w) for w in wanted)]
    levels = [int(c) for c in args.concurrency.split(",")]
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as tmp:
        work = Path(tmp)
        model, model_dir = fit_model(work)
        expected = model.predict_proba(np.array([ROW]))[0]
        raw = run_raw(model, levels, args.server_cpu)
        for server in servers:
            if server.label.startswith("modelyard serve"):
                ws, server.expected = cli_workspace(work)
                server.command = peers.modelyard_cli(ws).command
        results: dict[str, dict[str, Any]] = {}
        for server in servers:
            print(f"{server.label} ...", file=sys.stderr, flush=True)
            results[server.label] = measure(server, args, work, model_dir, expected)
            print(f"  {json.dumps(results[server.label])[:300]}", file=sys.stderr, flush=True)
    text = table(raw, results, peer_labels)
    features = "\n".join(
        f"- {label}: {r['features']}" for label, r in results.items() if "features" in r
    )
    print(f"\n{text}\n\nFeatures on:\n{features}\n")
    print(f"load average before/after: {os.getloadavg()}; {time.time() - started:.0f} s in all")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "duration_s": args.duration,
                "cpus": {"servers": args.server_cpu, "wrk": args.wrk_cpu},
                "raw": raw,
                "servers": results,
                "table": text,
            },
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
