"""The servers the serving benchmark compares, each in the way its own docs serve scikit-learn.

A ``Server`` says how to prepare its copy of the model, the command that serves it, where it is
ready, the request body (one row of the example model) and how to read the probabilities back
from its answer. Peers (BentoML, MLServer, MLflow) run from virtualenvs under ``bench/.venvs/``
that ``ensure_venv`` makes with uv, so nothing of theirs enters the project's environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / "bench" / ".venvs"
ROW = [0.1, -0.2, 0.3, 0.5, -1.0, 0.7, 0.0, 1.2]
V1_BODY = json.dumps({"instances": [ROW]})
V2_BODY = json.dumps(
    {
        "inputs": [{"name": "input-0", "shape": [1, 8], "datatype": "FP64", "data": ROW}],
        "outputs": [{"name": "predict_proba"}],
    }
)


@dataclass
class Server:
    """One contender: how to start it and talk to it."""

    label: str
    packages: list[str] = field(default_factory=list)
    """Packages of its own venv (empty: runs on the project's interpreter)."""
    features: str = ""
    """What is switched on, for the table."""
    path: str = "/v1/models/ctr:predict"
    ready: str = "/v2/health/ready"
    body: str = V1_BODY
    probabilities: Callable[[Any], list[float]] = lambda answer: answer["predictions"][0]
    command: Callable[[Path, Path, int, Path], list[str]] | None = None
    """(python, work dir, port, modelyard model dir) -> argv."""
    env: dict[str, str] = field(default_factory=dict)
    expected: Any = None
    """Its own expected probabilities, when it serves another fitting of the model."""


def ensure_venv(name: str, packages: list[str], sklearn_version: str) -> Path:
    """The venv's python, made (once per package list) with ``uv venv`` + ``uv pip install``."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    spec = [*packages, f"scikit-learn=={sklearn_version}"]
    marker = venv / ".bench-packages"
    if python.exists() and marker.exists() and marker.read_text() == " ".join(spec):
        return python
    uv = Path(sys.executable).with_name("uv")
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not python.exists():
        made = subprocess.run(
            [str(uv), "venv", "-q", "-p", py, str(venv)], capture_output=True, text=True
        )
        if made.returncode != 0:
            raise RuntimeError(f"uv venv {venv} failed: {made.stderr[-300:]}")
    done = subprocess.run(
        [str(uv), "pip", "install", "-q", "-p", str(python), *spec],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"uv pip install {' '.join(spec)} failed: {done.stderr[-300:]}")
    marker.write_text(" ".join(spec))
    return python


# --------------------------------------------------------------------------- modelyard


MODELYARD = """
import sys
from pathlib import Path
from modelyard.serving import (BatchingOptions, ModelSource, PredictionLogOptions,
                               RateLimitOptions, ServerOptions, run_server)
batching = sys.argv[3] == "on"
opts = ServerOptions(
    batching=BatchingOptions(enabled=batching),
    rate_limit=RateLimitOptions(rps=1_000_000, burst=1_000_000),
    prediction_log=PredictionLogOptions(directory=Path(sys.argv[4])),
)
run_server(ModelSource("ctr", "1", Path(sys.argv[1]), method="predict_proba"), opts,
           port=int(sys.argv[2]))
"""

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

PROTECTED = "rate limit, breaker, shedder, metrics, prediction log on"


def modelyard(batching: bool) -> Server:
    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        mode = "on" if batching else "off"
        logs = work / f"predlog-{mode}"
        return [str(python), "-c", MODELYARD, str(model), str(port), mode, str(logs)]

    label = "modelyard, batching" if batching else "modelyard, no batching"
    extra = "; batching defaults: up to 32 rows, 2 ms" if batching else ""
    return Server(label, features=PROTECTED + extra, command=command)


def modelyard_cli(workspace: Path) -> Server:
    """``modelyard serve ctr`` as a user starts it: the CLI, in a workspace, with its
    ``deploy.yaml`` (the example's, rate limit lifted so that it does not cap the figures)."""

    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        return [str(python.with_name("modelyard")), "serve", "ctr", "--version", "1",
                "-w", str(workspace), "--port", str(port)]  # fmt: skip

    return Server(
        "modelyard serve (CLI, example deploy.yaml)",
        features="the example deploy.yaml: batching 32 rows / 2 ms, breaker, shedder, metrics, "
        "prediction log; rate limit lifted to 1,000,000 rps",
        command=command,
    )


def bare() -> Server:
    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        return [str(python), "-c", BARE, str(model), str(port)]

    return Server("bare Starlette", features="none: decode, predict, encode", command=command)


# --------------------------------------------------------------------------- peers

BENTO_SERVICE = """
import os
import bentoml
import numpy as np


@bentoml.service(workers=1)
class Ctr:
    def __init__(self) -> None:
        self.model = bentoml.sklearn.load_model(os.environ["CTR_TAG"])

    @bentoml.api
    def predict(self, instances: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(instances)
"""

BENTO_SAVE = """
import sys, joblib, bentoml
model = joblib.load(sys.argv[1])
print(bentoml.sklearn.save_model("ctr", model).tag)
"""


def bentoml_server() -> Server:
    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        home = work / "bentoml-home"
        env = {"BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
        saved = subprocess.run(
            [str(python), "-c", BENTO_SAVE, str(work / "model.joblib")],
            capture_output=True, text=True, check=True, env=_env(env),
        )  # fmt: skip
        server.env = {**env, "CTR_TAG": saved.stdout.strip().splitlines()[-1]}
        (work / "bento_service.py").write_text(BENTO_SERVICE)
        bentoml = python.with_name("bentoml")
        return [str(bentoml), "serve", "bento_service:Ctr", "--host", "127.0.0.1",
                "--port", str(port), "--working-dir", str(work)]  # fmt: skip

    server = Server(
        "BentoML",
        packages=["bentoml"],
        features="defaults (1 worker, no adaptive batching)",
        path="/predict",
        ready="/readyz",
        probabilities=lambda answer: answer[0],
        command=command,
    )
    return server


def mlserver_server(batching: bool = False) -> Server:
    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        folder = work / ("mlserver-batching" if batching else "mlserver")
        folder.mkdir(exist_ok=True)
        (folder / "settings.json").write_text(
            json.dumps(
                {
                    "http_port": port,
                    "grpc_port": port + 1,
                    "metrics_port": port + 2,
                    "host": "127.0.0.1",
                    # MLServer 1.7's inference worker processes fail to start with the current
                    # uvloop ("no current event loop"); on one core they would only add IPC.
                    "parallel_workers": 0,
                }
            )
        )
        (folder / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": "ctr",
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": str(work / "model.joblib"), "version": "1"},
                    **({"max_batch_size": 64, "max_batch_time": 0.001} if batching else {}),
                }
            )
        )
        return [str(python.with_name("mlserver")), "start", str(folder)]

    return Server(
        "MLServer, adaptive batching" if batching else "MLServer",
        packages=["mlserver", "mlserver-sklearn"],
        features="parallel_workers 0 (in-process inference), "
        + ("adaptive batching up to 64, 1 ms" if batching else "no adaptive batching"),
        path="/v2/models/ctr/infer",
        ready="/v2/models/ctr/ready",
        body=V2_BODY,
        probabilities=lambda answer: answer["outputs"][0]["data"],
        command=command,
    )


def mlflow_server() -> Server:
    def command(python: Path, work: Path, port: int, model: Path) -> list[str]:
        mlflow = str(python.with_name("mlflow"))
        model_uri = str(work / "mlflow-proba")
        return [mlflow, "models", "serve", "-m", model_uri, "--env-manager", "local",
                "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip

    return Server(
        "MLflow serving",
        packages=["mlflow"],
        features="defaults (1 uvicorn worker)",
        path="/invocations",
        ready="/ping",
        command=command,
    )


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def prepare_models(work: Path, model: Any, example: Any, modelyard_dir: Path) -> None:
    """The peers' copies of the one fitted model: joblib (BentoML, MLServer) and an MLflow
    directory whose pyfunc answers ``predict_proba`` (MLflow serving)."""
    import joblib
    import mlflow.sklearn

    joblib.dump(model, work / "model.joblib")
    mlflow.sklearn.save_model(
        model, str(work / "mlflow-proba"), input_example=example, pyfunc_predict_fn="predict_proba"
    )
