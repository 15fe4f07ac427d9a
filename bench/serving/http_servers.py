"""HTTP servers compared: the app ``modelyard serve`` runs, on uvicorn and on granian.

One run makes a workspace (``modelyard init``, ``modelyard train ctr``, the example
deploy.yaml with its rate limit lifted as ``run.py`` lifts it), writes the launch spec of
version 1, and then, in interleaved rounds (the order alternates), starts the same app on
uvicorn (today's ``run_server``) and on granian's embedded ASGI server
(``http_server_app.py``), pinned to core 0, with ``wrk -t1`` on core 1 at concurrency 1 and
64. Medians of the rounds, ratios granian / uvicorn, and each server's RSS after its cells.
Usage: ``.venv/bin/python bench/serving/http_servers.py [--rounds 3] [--duration 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import run
from peers import ROOT, Server

HERE = Path(__file__).parent


def spec_for(ws: Path, work: Path) -> Path:
    from modelyard.config import load_workspace
    from modelyard.serving.process.launch import write_spec
    from modelyard.workflows.serve import launch_spec

    workspace = load_workspace(ws)
    return write_spec(launch_spec(workspace, workspace.model("ctr"), 1), work / "spec.json")


GRANIAN_SITE = ROOT / "bench" / ".venvs" / "granian-site"
"""granian is a peer of this benchmark only, so it is installed here (``uv pip install
--target``), never in the project's dependencies; the app's process finds it on PYTHONPATH."""


def granian_site() -> Path:
    if not (GRANIAN_SITE / "granian").is_dir():
        import subprocess

        uv = Path(sys.executable).parent / "uv"
        subprocess.run(
            [str(uv), "pip", "install", "-q", "--python", sys.executable,
             "--target", str(GRANIAN_SITE), "granian>=2.5"],
            check=True,
        )  # fmt: skip
    return GRANIAN_SITE


def contender(kind: str, spec: Path) -> Server:
    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        return [str(python), str(HERE / "http_server_app.py"), str(spec), str(port), kind]

    env = {"PYTHONPATH": str(granian_site())} if kind == "granian" else {}
    return Server(f"modelyard serve app on {kind}", command=command, env=env)


def rss_mib(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def cpu_s(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def cell(pid: int, url: str, lua: Path, conns: int, args: argparse.Namespace) -> dict[str, Any]:
    """wrk's figures, and the server's CPU time per request: on a machine shared with other
    work, throughput moves with the load, CPU time per request much less."""
    before = cpu_s(pid)
    figures: dict[str, Any] = run.wrk(url, lua, conns, args.duration, args.wrk_cpu)
    figures["cpu_ms_per_request"] = 1000 * (cpu_s(pid) - before) / (figures["rps"] * args.duration)
    return figures


def one_round(server: Server, args: argparse.Namespace, work: Path, expected: Any) -> dict:
    proc, port = run.start(server, Path(sys.executable), work, work, args.server_cpu)
    try:
        url = f"http://127.0.0.1:{port}{server.path}"
        run.check_answer(server, url, expected)
        lua = work / f"{port}.lua"
        lua.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(server.body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        run.wrk(url, lua, 4, 2, args.wrk_cpu)
        cells = {c: cell(proc.pid, url, lua, c, args) for c in (1, 64)}
        return {"cells": cells, "rss_mib": rss_mib(proc.pid)}
    finally:
        run.stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--wrk-cpu", default="1")
    args = parser.parse_args()
    started = time.time()
    loads = [run.load()]
    with tempfile.TemporaryDirectory(prefix="modelyard-http-") as tmp:
        work = Path(tmp)
        ws, expected = run.cli_workspace(work)
        spec = spec_for(ws, work)
        kinds = ["uvicorn", "granian"]
        results: dict[str, list[dict]] = {k: [] for k in kinds}
        for round_ in range(args.rounds):
            for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
                results[kind].append(one_round(contender(kind, spec), args, work, expected))
                print(kind, json.dumps(results[kind][-1], default=str)[:300], file=sys.stderr)
            loads.append(run.load())
    lines = [
        f"One run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.rounds} "
        f"interleaved rounds of {args.duration} s cells; 1-minute load average over the run: "
        f"{', '.join(f'{x:.1f}' for x in loads)}.",
        "",
        "| server | conc | req/s | p50 ms | p99 ms | vs uvicorn | CPU ms/request | vs uvicorn "
        "| RSS after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    med = statistics.median
    base = {c: med(r["cells"][c]["rps"] for r in results["uvicorn"]) for c in (1, 64)}
    base_cpu = {
        c: med(r["cells"][c]["cpu_ms_per_request"] for r in results["uvicorn"]) for c in (1, 64)
    }
    for kind, rounds in results.items():
        for c in (1, 64):
            rps = med(r["cells"][c]["rps"] for r in rounds)
            p50 = med(r["cells"][c]["p50_ms"] for r in rounds)
            p99 = med(r["cells"][c]["p99_ms"] for r in rounds)
            cpu = med(r["cells"][c]["cpu_ms_per_request"] for r in rounds)
            rss = med(r["rss_mib"] for r in rounds)
            lines.append(f"| {kind} | {c} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | "
                         f"{rps / base[c]:.2f} | {cpu:.3f} | {cpu / base_cpu[c]:.2f} | "
                         f"{rss:.0f} MiB |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    print(f"{time.time() - started:.0f} s in all; load now {os.getloadavg()}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "http-servers.json").write_text(json.dumps(
        {"results": results, "loads": loads, "table": text}, indent=1, default=str))  # fmt: skip


if __name__ == "__main__":
    main()
