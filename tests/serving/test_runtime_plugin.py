"""A runtime from another installed package is served without changing modelyard.

``tests/plugins/toy-runtime`` is a third-party package as a team outside modelyard would write
it: a ``Runtime`` subclass registered under the ``modelyard.runtimes`` entry points, and an
MLflow flavor to log its models with. The test builds it as a wheel, installs it with uv into
a site folder of its own, trains a model of it with ``modelyard train`` and serves that with
``modelyard serve``, both in processes that see the package only because it is installed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from modelyard import frameworks
from modelyard.config import init_workspace, load_workspace
from modelyard.errors import ConfigError

PLUGIN = Path(__file__).parent.parent / "plugins" / "toy-runtime"
WEIGHTS, BIAS = [0.5, -1.0, 2.0], 0.25

TRAIN = f"""
import mlflow
import numpy as np
from mlflow.models import infer_signature
from toy_runtime import flavor

X = np.random.default_rng(0).normal(size=(20, 3))
with mlflow.start_run():
    flavor.log_model({WEIGHTS}, {BIAS}, name="model",
                     signature=infer_signature(X, X @ np.array({WEIGHTS}) + {BIAS}))
"""


def _wheel(src: Path, out: Path) -> Path:
    """The package as a wheel (PEP 427), written by hand: no build backend is needed."""
    project = tomllib.loads((src / "pyproject.toml").read_text())["project"]
    name, version = project["name"].replace("-", "_"), project["version"]
    dist = f"{name}-{version}.dist-info"
    files = {f"{p.parent.name}/{p.name}": p.read_bytes() for p in src.glob("*/*.py")}
    points = project["entry-points"]
    files[f"{dist}/entry_points.txt"] = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in table.items())
        for group, table in points.items()
    ).encode()
    files[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {version}\n"
    ).encode()
    files[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: modelyard-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in files.items()
    ]
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy runtime installed (by uv, from its wheel) into a folder of its own."""
    work = tmp_path_factory.mktemp("plugin")
    wheel = _wheel(PLUGIN, work)
    site = work / "site"
    uv = Path(sys.executable).parent / "uv"
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--offline", "--no-deps",
         "--python", sys.executable, "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return site


@pytest.fixture
def with_plugin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process and the ones it starts see the installed plug-in."""
    monkeypatch.syspath_prepend(str(plugin_site))
    path = os.pathsep.join(filter(None, [str(plugin_site), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    frameworks.frameworks.cache_clear()
    yield plugin_site
    frameworks.frameworks.cache_clear()


def _toy_workspace(root: Path, framework: str = "toy") -> Path:
    init_workspace(root)
    model = root / "models" / "toy"
    model.mkdir()
    (model / "train.py").write_text(TRAIN)
    (model / "model.yaml").write_text(
        yaml.safe_dump(
            {
                "id": "toy",
                "owner": {"team": "outside", "dri": "bo@example.com"},
                "framework": framework,
                "training": {"entrypoint": "train.py"},
            }
        )
    )
    return root


def test_the_framework_table_lists_an_installed_plugin(with_plugin: Path) -> None:
    rows = frameworks.frameworks()
    assert [f.name for f in rows if not f.builtin] == ["toy"]
    assert rows[-1].name == "pyfunc"  # the fallback stays last


def test_a_framework_nobody_serves_is_refused_with_the_table(tmp_path: Path) -> None:
    root = _toy_workspace(tmp_path / "ws", framework="toy")  # the plug-in is not installed here
    frameworks.frameworks.cache_clear()
    with pytest.raises(ConfigError) as refused:
        load_workspace(root)
    message = str(refused.value)
    assert "model.yaml" in message
    assert "unknown framework 'toy'" in message
    assert "sklearn" in message
    assert "modelyard.runtimes" in message


def test_modelyard_serves_a_model_of_an_installed_runtime_package(
    with_plugin: Path, tmp_path: Path
) -> None:
    root = _toy_workspace(tmp_path / "ws")
    cli = [sys.executable, "-m", "modelyard"]
    trained = subprocess.run(
        [*cli, "train", "toy", "-w", str(root)], capture_output=True, text=True, timeout=300
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    from modelyard.backends.local.process import free_port

    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "toy", "--version", "1", "-w", str(root), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        for line in server.stderr:  # the server's own readiness line
            if "is ready" in line or "failed to load" in line or "error" in line.lower():
                assert "is ready" in line, line
                break
        rows = np.random.default_rng(5).normal(size=(4, 3))
        meta = httpx.get(f"http://127.0.0.1:{port}/v2/models/toy").json()
        body = {
            "inputs": [
                {
                    "name": meta["inputs"][0]["name"],
                    "shape": [4, 3],
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        }
        reply = httpx.post(f"http://127.0.0.1:{port}/v2/models/toy/infer", json=body)
        assert reply.status_code == 200, reply.text
        got = np.asarray(reply.json()["outputs"][0]["data"])
        np.testing.assert_allclose(got.ravel(), rows @ np.array(WEIGHTS) + BIAS, rtol=1e-12)
    finally:
        server.terminate()
        server.wait(60)
