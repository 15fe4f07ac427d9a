"""Fuzz the model server with schemathesis against its own /openapi.json.

Starts the example model (StandardScaler + LogisticRegression, 8 features) on a loopback port
and runs ``st run`` with the ``not_a_server_error`` check: no payload may produce a 5xx.
Usage: ``.venv/bin/python bench/serving/fuzz.py [--max-examples N]``.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def example_model(root: Path) -> Path:
    import mlflow.sklearn
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=400, n_features=8, random_state=0)
    model = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(X, y)
    path = root / "ctr"
    mlflow.sklearn.save_model(model, str(path), input_example=X[:2])
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(path: Path, port: int, extra: str = "") -> subprocess.Popen[bytes]:
    code = (
        "import sys; from pathlib import Path\n"
        "from modelyard.serving import *\n"
        f"opts = ServerOptions({extra})\n"
        f"run_server(ModelSource('ctr', '1', Path({str(path)!r}), method='predict_proba'), "
        f"opts, port={port})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("server did not become ready")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_server(example_model(Path(tmp)), port)
        try:
            st = Path(sys.executable).with_name("st")
            return subprocess.run(
                [
                    str(st),
                    "run",
                    f"http://127.0.0.1:{port}/openapi.json",
                    "--checks",
                    "not_a_server_error",
                    "--max-examples",
                    str(args.max_examples),
                ],
                check=False,
            ).returncode
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
