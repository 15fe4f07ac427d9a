"""Cold-start benchmark: start-to-ready and RSS of modelyard's server against its peers, plus
``modelyard train`` against the bare script and ``modelyard --help``.

One run makes a fresh workspace (``modelyard init``), trains the example model ``ctr``, fetches
version 1 into the verified cache, converts it to ONNX for a second cache, and makes the
peers' venvs (``bench/.venvs/``, uv, bytecode compiled as ``make install`` compiles the
project's). Then, in interleaved rounds (the order rotates each round), each server is started
pinned to core 0 and timed from ``Popen`` to the first 200 from its readiness URL; the RSS of
its process tree is read at that moment. Figures are medians; ratios are to the same run's
KServe and bare FastAPI floor. Then ``modelyard train ctr`` and the bare ``train.py`` with the
same MLflow tracking URI alternate, and ``--help`` is timed. Prints Markdown, writes
``bench/coldstart/LATEST.md`` and ``bench/results/coldstart.json``.
Usage: ``.venv/bin/python bench/coldstart/run.py [--rounds 5] [--train-rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

import servers
from servers import ColdServer, peers

ROOT = Path(__file__).resolve().parents[2]
PY = Path(sys.executable)
BIN = PY.parent


def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def pinned(cmd: list[str], cpu: str) -> list[str]:
    return ["taskset", "-c", cpu, *cmd] if shutil.which("taskset") else cmd


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- set-up


def workspace(work: Path) -> tuple[Path, float]:
    """A fresh workspace with ``ctr`` trained once; returns it and the training's wall time."""
    ws = work / "ws"
    run([str(BIN / "modelyard"), "init", str(ws)])
    start = time.monotonic()
    run([str(BIN / "modelyard"), "train", "ctr", "-w", str(ws)])
    return ws, time.monotonic() - start


def lean_specs(ws: Path, work: Path) -> tuple[Path, Path, Any]:
    """Launch specs of the lean server, native and ONNX; and the fitted model (for peers)."""
    from modelyard.config import load_workspace
    from modelyard.registry import Registry, cache, tree_sha256
    from modelyard.serving import ServerOptions
    from modelyard.serving.process.launch import LaunchSpec, write_spec
    from modelyard.serving.runtimes.skops_files import load_skops

    workspace_ = load_workspace(ws)
    entry = workspace_.model("ctr")
    registry = Registry.for_workspace(workspace_)
    fetched = registry.fetch("ctr", 1)
    options = ServerOptions.from_deploy(
        entry.deploy, admin_token="bench", prediction_log_dir=work / "predictions"
    )
    method = entry.spec.serving.method
    native = LaunchSpec(registry.cache_dir, "ctr", 1, options, method)
    model = load_skops(fetched.path / "model.skops")
    onnx_cache = work / "onnx-cache"
    onnx_dir = onnx_model(model, work / "onnx-saved", fetched.path / "input_example.json")
    sha = tree_sha256(onnx_dir)
    target = onnx_cache / "ctr" / f"1-{sha[:16]}"
    shutil.copytree(onnx_dir, target)
    cache.record(onnx_cache, "ctr", 1, sha, target)
    onnx = LaunchSpec(onnx_cache, "ctr", 1, options, method)
    return (
        write_spec(native, work / "native.json"),
        write_spec(onnx, work / "onnx.json"),
        model,
    )


def onnx_model(model: Any, path: Path, example_file: Path) -> Path:
    """The model as ``serving.format: onnx`` registers it (skl2onnx, no ZipMap, signature
    and input example of the native model)."""
    import mlflow.onnx
    import numpy as np
    from mlflow.models import infer_signature
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    final = model.steps[-1][1]
    converted = convert_sklearn(
        model,
        initial_types=[("input", DoubleTensorType([None, 8]))],
        options={id(final): {"zipmap": False}},
    )
    data = json.loads(example_file.read_text())
    example = np.asarray(data.get("inputs", data) if isinstance(data, dict) else data, float)
    signature = infer_signature(example, model.predict_proba(example))
    mlflow.onnx.save_model(converted, str(path), signature=signature, input_example=example)
    return path


def peer_python(server: ColdServer, sklearn_version: str) -> Path:
    if not server.packages:
        return PY
    python = peers.ensure_venv(server.venv, server.packages, sklearn_version)
    # uv installs without bytecode; compile it once, as `make install` does for modelyard.
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    subprocess.run([str(python), "-m", "compileall", "-q", "-j0", purelib.stdout.strip()],
                   capture_output=True, check=False)  # fmt: skip
    return python


# --------------------------------------------------------------------------- measuring


def tree_rss_mib(pid: int) -> float:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


def cold_start(server: ColdServer, python: Path, work: Path, cpu: str) -> dict[str, float]:
    import httpx

    port = free_port()
    cmd = pinned(server.command(python, work, port), cpu)
    log = (work / f"{server.venv or 'modelyard'}-{port}.log").open("wb")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work,
                            start_new_session=True)  # fmt: skip
    try:
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() - start < 120:
                if proc.poll() is not None:
                    raise RuntimeError(f"{server.label} exited {proc.returncode}; see {log.name}")
                try:
                    if client.get(f"http://127.0.0.1:{port}{server.ready}").status_code == 200:
                        ready = time.monotonic() - start
                        rss = tree_rss_mib(proc.pid)
                        served = served_rss(client, server, port, proc.pid)
                        return {"ready_s": ready, "rss_mib": rss, "served_rss_mib": served}
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
        raise RuntimeError(f"{server.label} not ready after 120 s")
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


SERVED_REQUESTS = 200


def served_rss(client: Any, server: ColdServer, port: int, pid: int) -> float:
    """RSS after ``SERVED_REQUESTS`` one-row requests and a pause for the prediction log's
    first write: what a replica holds once it has traffic."""
    url = f"http://127.0.0.1:{port}{server.path}"
    headers = {"content-type": "application/json"}
    for _ in range(SERVED_REQUESTS):
        reply = client.post(url, content=server.body, headers=headers)
        if reply.status_code != 200:
            raise RuntimeError(f"{server.label}: {reply.status_code} {reply.text[:200]}")
    time.sleep(1.5)  # the prediction log flushes every second
    return tree_rss_mib(pid)


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    start = time.monotonic()
    subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=cwd)
    return time.monotonic() - start


def training(ws: Path, rounds: int) -> dict[str, list[float]]:
    """``modelyard train ctr`` against ``python train.py`` with the same tracking URI."""
    from modelyard.config import load_workspace

    workspace_ = load_workspace(ws)
    params = workspace_.model("ctr").spec.training.params
    script = ws / "models" / "ctr" / "train.py"
    args = [f"--{k}={v}" for k, v in params.items()]
    env = {**os.environ, "MLFLOW_TRACKING_URI": workspace_.tracking_uri,
           "MLFLOW_EXPERIMENT_NAME": "bare-script"}  # fmt: skip
    out: dict[str, list[float]] = {"modelyard": [], "bare": []}
    for _ in range(rounds):
        out["modelyard"].append(timed([str(BIN / "modelyard"), "train", "ctr", "-w", str(ws)]))
        out["bare"].append(timed([str(PY), str(script), *args], env=env, cwd=script.parent))
    return out


def row(label: str, values: list[float], unit: str = " s", digits: int = 2) -> str:
    """One row of the command table: the label, the median and every run."""
    runs = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"| {label} | {med(values):.{2 if unit == ' s' else 0}f}{unit} | {runs} |"


def train_rows(train: dict[str, list[float]]) -> list[str]:
    return [
        row("`modelyard train ctr`", train["modelyard"], digits=1),
        row("bare `python train.py` (same tracking URI)", train["bare"], digits=1),
        f"| ratio train / bare | {med(train['modelyard']) / med(train['bare']):.2f} | |",
    ]


def train_only(rounds: int) -> None:
    """``--only-train``: a fresh workspace, then the interleaved training rounds."""
    work = Path(tempfile.mkdtemp(prefix="modelyard-coldstart-train-"))
    loads = [load_avg()]
    ws, first_train = workspace(work)
    train = training(ws, rounds)
    loads.append(load_avg())
    print(f"one run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {rounds} "
          f"interleaved rounds; load {', '.join(x.split()[0] for x in loads)}")  # fmt: skip
    print("\n".join(["| command | median | runs |", "|---|---:|---|", *train_rows(train)]))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "coldstart-train.json").write_text(
        json.dumps({"train": train, "first_train_s": first_train, "loads": loads}, indent=1)
    )
    shutil.rmtree(work, ignore_errors=True)


def help_times(rounds: int) -> dict[str, list[float]]:
    cmds = {
        "modelyard --help": [str(BIN / "modelyard"), "--help"],
        "modelyard rollback --help": [str(BIN / "modelyard"), "rollback", "--help"],
        "modelyard serve --help": [str(BIN / "modelyard"), "serve", "--help"],
        "python -c pass (interpreter floor)": [str(PY), "-c", "pass"],
    }
    return {label: [timed(cmd) for _ in range(rounds)] for label, cmd in cmds.items()}


def _ready(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def live_deployment(ws: Path, rounds: int) -> dict[str, Any]:
    """On a live local deployment of ``ctr``: the supervisor's restart of a killed server
    (SIGKILL to the first 200 from readiness on the same port; the server is forked from the
    supervisor's pre-imported template; each killed server had run past ``STABLE_AFTER``, so
    the restart waits the first backoff step, 0.5 s, plus up to one 0.5 s loop turn), and
    ``modelyard rollback ctr`` (process start to exit) ``rounds`` times, alternating between
    two versions."""
    import signal

    from modelyard.backends.local import operations
    from modelyard.backends.local.supervisor import STABLE_AFTER
    from modelyard.config import load_workspace

    workspace_ = load_workspace(ws)
    store = operations.store_for(workspace_)
    operations.deploy(workspace_, "ctr", 1, by="bench")
    restart: list[float] = []
    rss: list[float] = []
    for _ in range(rounds):
        found = store.get_deployment("ctr")
        assert found is not None
        assert found.pid is not None
        assert found.port is not None
        old = found.pid
        start = time.monotonic()
        os.killpg(old, signal.SIGKILL)
        while time.monotonic() - start < 120:
            now = store.get_deployment("ctr")
            if now is not None and now.pid not in (None, old) and _ready(found.port):
                restart.append(time.monotonic() - start)
                rss.append(tree_rss_mib(now.pid))
                break
            time.sleep(0.01)
        else:
            raise RuntimeError("the supervisor did not restart the server in 120 s")
        # a server that dies within STABLE_AFTER of its start is a crash loop, and the
        # supervisor doubles its restart backoff; measure restarts of servers that had run
        time.sleep(STABLE_AFTER + 1.0)
    log = (workspace_.state_dir / "logs" / "ctr-supervisor.log").read_text()
    spawned = [float(x.split("ready ")[1].split(" s")[0]) for x in log.splitlines()
               if "s after its start" in x]  # fmt: skip
    # each rollback follows a completed rollout of version 2 (rolled out, promoted), so that
    # it goes back to version 1 on a deployment that is not mid-rollout
    rollback = []
    for _ in range(rounds):
        _promoted(workspace_, ws, 2)
        rollback.append(timed([str(BIN / "modelyard"), "rollback", "ctr", "-w", str(ws)]))
    operations.down(workspace_, ["ctr"])
    return {"restart_s": restart, "restart_rss_mib": rss, "spawn_to_ready_s": spawned,
            "rollback_s": rollback}  # fmt: skip


def _promoted(workspace_: Any, ws: Path, version: int) -> None:
    """Roll ``version`` out on the live deployment and promote it at once."""
    from modelyard.backends.local import operations

    operations.deploy(workspace_, "ctr", version, by="bench")
    deadline = time.monotonic() + 120
    while True:
        state = operations.rollout_view(workspace_, "ctr").state
        if state is not None and state.phase.value in ("shadow", "canary"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the rollout of version {version} did not reach shadow")
        time.sleep(0.1)
    subprocess.run([str(BIN / "modelyard"), "rollout", "promote", "ctr", "-w", str(ws)],
                   check=True, capture_output=True)  # fmt: skip
    while True:
        found = operations.store_for(workspace_).get_deployment("ctr")
        if found is not None and found.primary_version == str(version) and _ready(found.port or 0):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"version {version} was not promoted")
        time.sleep(0.1)


# --------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(cold: dict[str, list[dict[str, float]]], floor: str, kserve: str) -> str:
    ready = {label: med([r["ready_s"] for r in rows]) for label, rows in cold.items()}
    rss = {label: med([r["rss_mib"] for r in rows]) for label, rows in cold.items()}
    served = {label: med([r["served_rss_mib"] for r in rows]) for label, rows in cold.items()}
    lines = [
        "| server | start to ready | vs KServe | vs floor | RSS at ready | vs KServe "
        f"| RSS after {SERVED_REQUESTS} requests | vs KServe |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in cold:
        lines.append(
            f"| {label} | {ready[label]:.2f} s | {ready[label] / ready[kserve]:.2f} | "
            f"{ready[label] / ready[floor]:.2f} | {rss[label]:.0f} MiB | "
            f"{rss[label] / rss[kserve]:.2f} | {served[label]:.0f} MiB | "
            f"{served[label] / served[kserve]:.2f} |"
        )
    return "\n".join(lines)


def live_rows(live: dict[str, Any], helps: dict[str, list[float]]) -> list[str]:
    """The command table's rows for ``--help`` and the live deployment."""
    spawned = live["spawn_to_ready_s"]
    return [
        *(row(f"`{label}`", v) for label, v in helps.items()),
        row("`modelyard rollback ctr` (live local deployment)", live["rollback_s"]),
        row(
            "supervisor restart to ready (server SIGKILLed, forked from the template)",
            live["restart_s"],
        ),
        # the first spawn is the deployment's first start; the median is of the restarts
        f"| of which fork to ready (the supervisor's log; the first is the first start) | "
        f"{med(spawned[1:] or [float('nan')]):.2f} s | "
        + ", ".join(f"{x:.2f}" for x in spawned)
        + " |",
        row("RSS of a restarted server", live["restart_rss_mib"], " MiB", 0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--train-rounds", type=int, default=3)
    parser.add_argument("--help-rounds", type=int, default=5)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument(
        "--only-train",
        action="store_true",
        help="only the training rows (train vs bare script), printed; LATEST.md is left as is",
    )
    parser.add_argument(
        "--only-live",
        action="store_true",
        help="only the live-deployment rows (restart, rollback) and --help, printed",
    )
    parser.add_argument(
        "--only-cold",
        default="",
        help="comma-separated label prefixes: only these servers' cold starts (KServe always "
        "runs, as the ratios' base), printed; LATEST.md is left as is",
    )
    args = parser.parse_args()
    if args.only_train:
        train_only(args.train_rounds)
        return
    if args.only_live:
        work = Path(tempfile.mkdtemp(prefix="modelyard-coldstart-live-"))
        ws, _ = workspace(work)
        run([str(BIN / "modelyard"), "train", "ctr", "-w", str(ws)])  # version 2
        print("\n".join(live_rows(live_deployment(ws, args.rounds), help_times(args.help_rounds))))
        shutil.rmtree(work, ignore_errors=True)
        return
    import sklearn

    work = Path(tempfile.mkdtemp(prefix="modelyard-coldstart-"))
    print(f"work dir {work}; load {load_avg()}", flush=True)
    ws, first_train = workspace(work)
    native, onnx, model = lean_specs(ws, work)
    import joblib

    joblib.dump(model, work / "model.joblib")
    floor, kserve = servers.fastapi_floor(), servers.kserve_server()
    contenders = [
        floor,
        kserve,
        servers.mlserver_server(),
        servers.modelyard_lean(
            "modelyard lean server (`python -m modelyard.serving`), native", native
        ),
        servers.modelyard_lean("modelyard lean server, `serving.format: onnx`", onnx),
        servers.modelyard_cli(ws),
    ]
    if args.only_cold:
        wanted = [w.strip().lower() for w in args.only_cold.split(",") if w.strip()]
        contenders = [s for s in contenders if s is kserve or any(
            s.label.lower().lstrip("`").startswith(w) for w in wanted)]  # fmt: skip
        floor = next((s for s in contenders if s is floor), kserve)
    pythons = {s.label: peer_python(s, sklearn.__version__) for s in contenders}
    cold: dict[str, list[dict[str, float]]] = {s.label: [] for s in contenders}
    loads = [load_avg()]
    # The first native start finds no fast-load copy in the cache: it loads the skops file
    # (importing skops) and writes the copy that every later start of the version reads.
    lean = servers.modelyard_lean("first start", native)
    first = cold_start(lean, PY, work, args.server_cpu)
    print(f"first native start (skops, writes the fast-load copy): {first}", flush=True)
    for round_ in range(args.rounds):
        order = contenders[round_ % len(contenders) :] + contenders[: round_ % len(contenders)]
        for server in order:
            cold[server.label].append(
                cold_start(server, pythons[server.label], work, args.server_cpu)
            )
        loads.append(load_avg())
        print(f"round {round_ + 1}/{args.rounds} done; load {loads[-1]}", flush=True)
    if args.only_cold:
        loads.append(load_avg())
        print(f"load over the run: {', '.join(x.split()[0] for x in loads)}")
        print(table(cold, floor.label, kserve.label))
        shutil.rmtree(work, ignore_errors=True)
        return
    train = training(ws, args.train_rounds)
    live = live_deployment(ws, args.rounds)
    helps = help_times(args.help_rounds)
    loads.append(load_avg())
    report = [
        f"One run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.rounds} interleaved "
        f"rounds, each server pinned to core {args.server_cpu}; 1-minute load average over the "
        f"run: {', '.join(x.split()[0] for x in loads)}.",
        "",
        table(cold, floor.label, kserve.label),
        "",
        "The native rows load the cache's fast-load copy. The first start of a version, before "
        f"that copy exists, loaded the skops file: {first['ready_s']:.2f} s to ready, "
        f"{first['rss_mib']:.0f} MiB. The RSS after requests includes the prediction log's "
        "first write (Parquet, written without PyArrow).",
        "",
        "| command | median | runs |",
        "|---|---:|---|",
        *train_rows(train),
        *live_rows(live, helps),
    ]
    text = "\n".join(report)
    print(text)
    (ROOT / "bench" / "coldstart" / "LATEST.md").write_text(text + "\n")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "coldstart.json").write_text(json.dumps(
        {"cold": cold, "first_native": first, "train": train, "first_train_s": first_train,
         "help": helps, "live": live, "loads": loads}, indent=1))  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
