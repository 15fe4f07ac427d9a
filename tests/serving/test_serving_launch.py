"""The lean server process: served from the verified cache, without MLflow or SQLAlchemy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelyard.errors import ConfigError, IntegrityError, NotFound
from modelyard.registry import cache, tree_sha256
from modelyard.serving import ServerOptions
from modelyard.serving.admin.client import AdminClient, ServerUnreachable
from modelyard.serving.options import PredictionLogOptions, RateLimitOptions
from modelyard.serving.process.launch import LaunchSpec, cache_loader, read_spec, write_spec
from modelyard.serving.runtimes.skops_files import load_skops

# Runs the real entry point; once uvicorn has shut down gracefully on SIGTERM it re-raises the
# signal to the handler that was there before, which writes what the process imported.
CHILD = """
import json, runpy, signal, sys
out = sys.argv[1]
def done(*args):
    open(out, "w").write(json.dumps(sorted(sys.modules)))
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
sys.argv = ["modelyard.serving", sys.argv[2]]
runpy.run_module("modelyard.serving", run_name="__main__", alter_sys=True)
"""


def _fit(c: float, columns: bool = False) -> tuple[Any, np.ndarray]:
    """A fitted pipeline and its inputs; with ``columns``, fitted on a DataFrame f0..f3."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(n_samples=200, n_features=4, random_state=0)
    model = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(C=c))])
    if columns:
        import pandas as pd

        return model.fit(pd.DataFrame(x, columns=[f"f{i}" for i in range(4)]), y), x
    return model.fit(x, y), x


_SAVED: dict[tuple[float, bool], tuple[Path, Any, np.ndarray]] = {}


def _saved(tmp: Path, c: float, columns: bool) -> tuple[Path, Any, np.ndarray]:
    """A model saved as MLflow saves it (skops), once per module for each (c, columns)."""
    import mlflow.sklearn

    if (c, columns) not in _SAVED:
        model, x = _fit(c, columns)
        saved = tmp / f"saved-{c}-{columns}"
        example: Any = x[:2]
        if columns:
            import pandas as pd

            example = pd.DataFrame(x[:2], columns=[f"f{i}" for i in range(x.shape[1])])
        mlflow.sklearn.save_model(
            model, str(saved), input_example=example, pip_requirements=["scikit-learn"]
        )
        _SAVED[(c, columns)] = (saved, model, x)
    return _SAVED[(c, columns)]


def _cache_version(
    cache_dir: Path, tmp: Path, version: int, c: float, *, columns: bool = False
) -> tuple[Any, np.ndarray]:
    """Put a saved model into the cache as ``version`` and record it in the index; with
    ``columns``, its signature names columns (a DataFrame model)."""
    saved, model, x = _saved(tmp, c, columns)
    sha = tree_sha256(saved)
    target = cache_dir / "m" / f"{version}-{sha[:16]}"
    shutil.copytree(saved, target)
    cache.record(cache_dir, "m", version, sha, target)
    return model, x


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spec(cache_dir: Path, **kw: Any) -> LaunchSpec:
    options = ServerOptions(admin_token="secret", inline_below_ms=0)
    return LaunchSpec(cache_dir, "m", 1, options, method="predict_proba", **kw)


def _serve_child(tmp_path: Path, spec: Path, modules: Path) -> subprocess.Popen[str]:
    """The lean server in a child that writes its ``sys.modules`` at SIGTERM; returns once
    the server logged that it is ready."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(modules), str(spec)],
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert child.stderr is not None
    for line in child.stderr:  # wait on the server's own readiness line
        if "is ready" in line or "failed" in line:
            assert "is ready" in line, line
            break
    return child


def _stop_child(child: subprocess.Popen[str], modules: Path) -> set[str]:
    os.killpg(child.pid, signal.SIGTERM)
    child.communicate(timeout=60)
    assert child.returncode == 0
    return set(json.loads(modules.read_text()))


def _has(imported: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in imported)


def _maps_pandas(pid: int) -> bool:
    """Whether the process has pandas' compiled modules mapped (it imported pandas)."""
    return "/pandas/_libs/" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps")
def test_server_process_imports_neither_mlflow_nor_sqlalchemy(tmp_path):
    import pandas as pd

    cache_dir = tmp_path / "cache"
    model, x = _cache_version(cache_dir, tmp_path, 1, 1.0)
    canary, _ = _cache_version(cache_dir, tmp_path, 2, 0.01)
    columns, _ = _cache_version(cache_dir, tmp_path, 3, 0.1, columns=True)
    port = _free_port()
    spec = write_spec(_spec(cache_dir, port=port), tmp_path / "spec.json")
    modules = tmp_path / "modules.json"
    child = _serve_child(tmp_path, spec, modules)
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/v2/health/ready").status_code == 200
            got = client.post("/v1/models/m:predict", json={"instances": x[:3].tolist()})
            np.testing.assert_allclose(got.json()["predictions"], model.predict_proba(x[:3]))
            admin = AdminClient(url, "m", "secret")
            view = admin.add_version("2", "canary", 1.0)
            assert {v.version: v.role for v in view.versions} == {"1": "primary", "2": "canary"}
            got = client.post("/v1/models/m:predict", json={"instances": x[:3].tolist()})
            assert got.headers["x-model-version"] == "2"
            np.testing.assert_allclose(got.json()["predictions"], canary.predict_proba(x[:3]))
            # a tensor model's server runs without pandas, which scikit-learn imports if it can
            assert not _maps_pandas(child.pid)
            # a column-signature canary gets pandas, under the import gate, while v1 serves
            admin.remove("2")
            admin.add_version("3", "canary", 0.5)
            assert _maps_pandas(child.pid)
            frame = pd.DataFrame(x[:3], columns=[f"f{i}" for i in range(4)])
            seen = set()
            for _ in range(40):  # both versions answer, each its own model's figures
                got = client.post("/v1/models/m:predict", json={"instances": x[:3].tolist()})
                assert got.status_code == 200, got.text
                version = got.headers["x-model-version"]
                want = (
                    columns.predict_proba(frame) if version == "3" else model.predict_proba(x[:3])
                )
                np.testing.assert_allclose(got.json()["predictions"], want)
                seen.add(version)
            assert seen == {"1", "3"}
            admin.close()
    finally:
        imported = _stop_child(child, modules)
    assert "sklearn" in imported  # it did load the model
    for heavy in ("mlflow", "sqlalchemy", "alembic"):
        assert not _has(imported, heavy), heavy
    assert not _has(imported, "grpc")  # no gRPC port asked for: grpcio stays out
    # skops' trusted-type scan imports every scikit-learn package; these the model never needs.
    assert not imported & {"sklearn.gaussian_process", "sklearn.semi_supervised"}


def test_admin_client_says_unreachable_and_refused(tmp_path):
    with pytest.raises(ServerUnreachable, match="model server at"):
        AdminClient(f"http://127.0.0.1:{_free_port()}", "m", "t", timeout=5).describe()
    with pytest.raises(ConfigError, match="expected http"):
        AdminClient("ftp://example", "m", "t")


def test_tampered_cache_is_refused_before_serving(tmp_path):
    cache_dir = tmp_path / "cache"
    _cache_version(cache_dir, tmp_path, 1, 1.0)
    (cache.lookup(cache_dir, "m", 1).path / "MLmodel").write_text("tampered\n")
    spec = write_spec(_spec(cache_dir, port=_free_port()), tmp_path / "spec.json")
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.serving", str(spec)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 6, done.stderr
    assert "do not match their checksum" in done.stderr


def test_admin_loader_reads_only_the_cache(tmp_path):
    cache_dir = tmp_path / "cache"
    _cache_version(cache_dir, tmp_path, 1, 1.0)
    load = cache_loader(_spec(cache_dir))
    assert load("m", "1").path == cache.lookup(cache_dir, "m", 1).path
    with pytest.raises(NotFound, match="not in the model cache"):
        load("m", "2")
    with pytest.raises(NotFound, match="serves 'm'"):
        load("other", "1")
    (cache.lookup(cache_dir, "m", 1).path / "extra.txt").write_text("added\n")
    with pytest.raises(IntegrityError):
        load("m", "1")


def test_launch_spec_round_trips(tmp_path):
    options = ServerOptions(
        rate_limit=RateLimitOptions(rps=5.0, burst=2, per_client="x-client"),
        prediction_log=PredictionLogOptions(directory=tmp_path / "log", sample_rate=0.5),
        admin_token="secret",
    )
    spec = LaunchSpec(
        tmp_path, "m", 3, options, "predict", [[1.0, "a", True]], 2, port=9, grpc_port=19
    )
    path = write_spec(spec, tmp_path / "spec.json")
    assert read_spec(path) == spec
    assert path.stat().st_mode & 0o077 == 0  # it holds the admin token
    # a spec written before gRPC existed still reads: no gRPC port
    body = json.loads(path.read_text())
    del body["grpc_port"]
    path.write_text(json.dumps(body))
    assert read_spec(path).grpc_port is None


def test_skops_trusts_estimators_and_refuses_functions(tmp_path):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    model, x = _fit(1.0)
    good = tmp_path / "good.skops"
    skops.io.dump(model, good)
    np.testing.assert_allclose(load_skops(good).predict_proba(x), model.predict_proba(x))
    bad = tmp_path / "bad.skops"
    skops.io.dump(FunctionTransformer(func=os.getcwd), bad)
    from modelyard.serving.protocol.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="getcwd"):
        load_skops(bad)
    assert len(load_skops(bad, recorded=["posix.getcwd"]).__dict__) > 0
