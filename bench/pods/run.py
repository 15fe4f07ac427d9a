"""Pod start-up: the rendered server pod's container from start to ready when it fetches the
model from S3 (a new pod: empty cache), beside the same container restarted on the same pod's
volumes (the model already in its emptyDir cache), and beside ``modelyard serve`` on this
machine from the local verified cache (no container).

Everything is real and on loopback: SeaweedFS S3 and an ``mlflow server`` (the tests'
``registry_bed``), the ``sklearn-cpu`` runtime image on the tests' Debian base, and the pod
template from ``modelyard render`` run by the tests' podman harness (``tests/pods/podrun.py``).
The version is trained on this machine into the registry first. Each start is timed from the
``podman run`` (or the process start) to the first 200 from the readiness probe.
Prints Markdown, writes ``bench/pods/LATEST.md`` and ``bench/results/pods.json``.
Usage: ``CONTAINERS_CONF=scripts/containers.conf .venv/bin/python bench/pods/run.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "pods")]
os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))

from podrun import PodRun, by_kind_name, pod_template  # noqa: E402

from registry_bed import POD_HOSTS, remote_registry  # noqa: E402

PREFIX = "bench"


def sh(*cmd: str, cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def ready(url: str, deadline_s: float = 300) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{url} not ready in {deadline_s} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    from modelyard.config import init_workspace

    work = Path(tempfile.mkdtemp(prefix="bench-pods-"))
    template = work / "template.db"
    from modelyard.tracking import Tracking

    Tracking(f"sqlite:///{template}", str(work / "unused")).client.search_experiments()
    (work / "registry").mkdir()
    with remote_registry(work / "registry", template) as registry:
        host = work / "host"
        init_workspace(host)
        settings = host / "modelyard.yaml"
        settings.write_text(settings.read_text() + registry.workspace_settings(PREFIX))
        (host / "runtimes.yaml").write_text(
            'runtimes:\n  sklearn-cpu:\n    python: "3.11"\n    framework: sklearn\n'
            '    packages: ["scikit-learn>=1.5", "mlflow>=3.0"]\n'
            "    base: localhost/modelyard-base:bookworm\n"
        )
        sh(str(ROOT / "scripts" / "make-base-image"))
        sh(py, "-m", "modelyard", "images", "build", "sklearn-cpu", "-w", str(host))
        sh(py, "-m", "modelyard", "train", "ctr", "-p", "n_samples=2000", "-w", str(host))
        from mlflow.tracking import MlflowClient

        versions = MlflowClient(registry.tracking_uri).search_model_versions("name = 'ctr'")
        version = max(int(v.version) for v in versions)
        pod_ws = work / "pod"
        init_workspace(pod_ws)
        (pod_ws / "runtimes.yaml").write_text((host / "runtimes.yaml").read_text())
        text = (pod_ws / "modelyard.yaml").read_text() + registry.pod_settings(PREFIX)
        (pod_ws / "modelyard.yaml").write_text(text)
        out = work / "render"
        sh(py, "-m", "modelyard", "render", "-w", str(pod_ws), "--out", str(out),
           "--version", f"ctr={version}")  # fmt: skip
        import yaml

        docs = [d for f in sorted(out.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
        objects = by_kind_name(iter(d for d in docs if d))
        (rollout,) = [o for (kind, _), o in objects.items() if kind == "Rollout"]
        b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
        objects[("Secret", "modelyard-credentials")] = {
            "kind": "Secret",
            "metadata": {"name": "modelyard-credentials"},
            "data": {
                "aws-credentials": b64(registry.credentials_file.read_text()),
                "mlflow-credentials": b64("[mlflow]\n"),
                "admin-token": b64("bench"),
            },
        }
        spec = pod_template(rollout)
        rows: dict[str, list[float]] = {"s3": [], "restart": [], "host": []}
        for n in range(args.rounds):
            with PodRun(f"bench-{n}", spec, objects, work / f"pod-{n}", POD_HOSTS) as pod:
                url = pod.readiness_url()
                start = time.monotonic()
                pod.start()
                ready(url)
                rows["s3"].append(time.monotonic() - start)
                start = time.monotonic()
                pod.restart()
                ready(url)
                rows["restart"].append(time.monotonic() - start)
            port = free_port()
            start = time.monotonic()
            server = subprocess.Popen(
                [
                    py,
                    "-m",
                    "modelyard",
                    "serve",
                    "ctr",
                    "--version",
                    str(version),
                    "--port",
                    str(port),
                    "-w",
                    str(host),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                ready(f"http://127.0.0.1:{port}/v2/health/ready")
                rows["host"].append(time.monotonic() - start)
            finally:
                server.terminate()
                server.wait(30)
    median = {k: statistics.median(v) for k, v in rows.items()}
    load = os.getloadavg()
    lines = [
        "# bench/pods: the rendered server pod, start to ready",
        "",
        f"load average at the end: {load[0]:.2f}; {args.rounds} rounds, medians",
        "",
        "| start | seconds | ratio to `modelyard serve` from the local cache |",
        "|---|---|---|",
        f"| new pod: container start, model fetched from S3 | {median['s3']:.2f} | "
        f"{median['s3'] / median['host']:.2f} |",
        f"| container restart, model in the pod's emptyDir cache | {median['restart']:.2f} | "
        f"{median['restart'] / median['host']:.2f} |",
        f"| `modelyard serve` on this machine, local verified cache | {median['host']:.2f} | "
        "1.00 |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "bench" / "pods" / "LATEST.md").write_text(text)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "pods.json").write_text(json.dumps({"rounds": rows, "median": median}, indent=1))


if __name__ == "__main__":
    main()
