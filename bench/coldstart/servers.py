"""The servers the cold-start benchmark starts, each the way its own docs serve scikit-learn.

Every server answers the same fitted example model (``ctr``, trained by ``modelyard train`` in
a fresh workspace). A server is a command line and a readiness URL; start-to-ready is the
time from ``Popen`` to the first 200 from that URL. Peers run from their own venvs under
``bench/.venvs/`` (``bench/serving/peers.py`` makes them with uv); modelyard runs from the
project's venv.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
import peers

FASTAPI = """
import sys, joblib, numpy as np, uvicorn
from fastapi import FastAPI
model = joblib.load(sys.argv[1])
app = FastAPI()
@app.post("/v1/models/ctr:predict")
def predict(body: dict):
    return {"predictions": model.predict_proba(np.asarray(body["instances"])).tolist()}
@app.get("/v2/health/ready")
def ready():
    return {}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

KSERVE = """
import sys, joblib, numpy as np, kserve
class Ctr(kserve.Model):
    def __init__(self):
        super().__init__("ctr")
        self.load()
    def load(self):
        self.model = joblib.load(sys.argv[1])
        self.ready = True
        return self.ready
    def predict(self, payload, headers=None):
        return {"predictions": self.model.predict_proba(np.asarray(payload["instances"])).tolist()}
kserve.ModelServer(http_port=int(sys.argv[2]), enable_grpc=False, workers=1).start([Ctr()])
"""


@dataclass
class ColdServer:
    """One contender: its venv's packages (none: the project's venv) and its command."""

    label: str
    command: Callable[[Path, Path, int], list[str]]
    """(python, work dir, port) -> argv."""
    packages: list[str] = field(default_factory=list)
    venv: str = ""
    ready: str = "/v2/health/ready"
    path: str = "/v1/models/ctr:predict"
    """Where the requests after ready go (RSS after traffic), with ``body``."""
    body: str = peers.V1_BODY


def _script(label: str, script: str, packages: list[str], venv: str) -> ColdServer:
    """A server that is one Python script run on the joblib copy of the model."""
    return ColdServer(
        label,
        lambda python, work, port: [
            str(python),
            "-c",
            script,
            str(work / "model.joblib"),
            str(port),
        ],
        packages=packages,
        venv=venv,
    )


def fastapi_floor() -> ColdServer:
    label = "bare FastAPI + uvicorn, joblib.load (the floor)"
    return _script(label, FASTAPI, ["fastapi", "uvicorn"], "fastapi")


def kserve_server() -> ColdServer:
    return _script("KServe 0.21 (kserve.Model subclass)", KSERVE, ["kserve==0.21.0"], "kserve")


def mlserver_server() -> ColdServer:
    peer = peers.mlserver_server(False)

    def command(python: Path, work: Path, port: int) -> list[str]:
        assert peer.command is not None
        return peer.command(python, work, port, work)

    return ColdServer(
        "MLServer 1.7 + mlserver-sklearn, one process",
        command,
        packages=peer.packages,
        venv="mlserver",
        ready=peer.ready,
        path=peer.path,
        body=peer.body,
    )


def modelyard_lean(label: str, spec: Path) -> ColdServer:
    """``python -m modelyard.serving SPEC``: the lean server process, from the verified cache."""
    return ColdServer(
        label, lambda python, work, port: [*_lean(python, spec, port)], ready="/v2/health/ready"
    )


def _lean(python: Path, spec: Path, port: int) -> list[str]:
    body = json.loads(spec.read_text())
    body["port"] = port
    spec.write_text(json.dumps(body))
    return [str(python), "-m", "modelyard.serving", str(spec)]


def modelyard_cli(workspace: Path) -> ColdServer:
    """``modelyard serve ctr --version 1`` as a user starts it: the version is in the verified
    cache, so the CLI serves it without MLflow (``workflows/serve.py``)."""
    return ColdServer(
        "`modelyard serve ctr --version 1` (CLI, version in the cache)",
        lambda python, work, port: [
            str(python.with_name("modelyard")),
            "serve",
            "ctr",
            "--version",
            "1",
            "-w",
            str(workspace),
            "--port",
            str(port),
        ],
    )
