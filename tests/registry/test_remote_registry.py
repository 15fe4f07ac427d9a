"""A remote registry end to end: `modelyard train` logs and registers into a real MLflow
tracking server with its artifacts in a real S3 store (SeaweedFS), `modelyard serve` fetches
them into the verified cache, a changed S3 object is refused, and the S3 keys (read from a
credentials file) appear in no log, no argv and no environment."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow.sklearn
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from modelyard.backends.local.process import ServerProcess
from modelyard.config import init_workspace, load_workspace
from modelyard.errors import IntegrityError
from modelyard.registry import Registry, tree_sha256
from modelyard.tracking import StoreAccess, Tracking
from registry_bed import RemoteRegistry

# Two servers and real trainings on a shared 2-core machine: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PREFIX = "artifacts"
"""The store's prefix: experiments are per model id on the shared server, so every test that
trains ``ctr`` against the session's registry uses this one (s3://modelyard/artifacts)."""

# Prepended to the example's train.py: what the script's process and its parent (the run's
# wrapper) were started with, and the script's environment (as started, and as it is now
# that the run's variables were added), for the test to search.
PROBE = r"""
import os as _os, pathlib as _pathlib
_proc = _pathlib.Path("/proc")
_seen = [
    (_proc / "self" / "cmdline").read_bytes(),
    (_proc / str(_os.getppid()) / "cmdline").read_bytes(),
    (_proc / "self" / "environ").read_bytes(),
    "\0".join(f"{_k}={_v}" for _k, _v in _os.environ.items()).encode(),
]
_pathlib.Path(__file__).with_name("probe.bin").write_bytes(b"\n".join(_seen))
"""


@dataclass(frozen=True)
class Trained:
    root: Path
    version: int
    output: str
    """What `modelyard train` printed (stdout and stderr)."""


@pytest.fixture(scope="module")
def trained(remote_registry: RemoteRegistry, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("remote") / "ws"
    init_workspace(root)
    settings = root / "modelyard.yaml"
    settings.write_text(
        settings.read_text() + remote_registry.workspace_settings(PREFIX), encoding="utf-8"
    )
    script = root / "models" / "ctr" / "train.py"
    script.write_text(PROBE + script.read_text(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "train", "ctr", "-p", "n_samples=2000", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env=_env_without_aws(),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    versions = MlflowClient(remote_registry.tracking_uri).search_model_versions("name = 'ctr'")
    newest = max(int(v.version) for v in versions)
    return Trained(root, newest, output)


def _env_without_aws() -> dict[str, str]:
    """This process's environment without AWS or S3 settings: the workspace must supply
    them (by file path), not the caller."""
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_S3_"))}


def test_train_registers_in_the_server_with_artifacts_in_s3(
    trained: Trained, remote_registry: RemoteRegistry
) -> None:
    client = MlflowClient(remote_registry.tracking_uri)
    mv = client.get_model_version("ctr", str(trained.version))
    run = client.get_run(mv.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith(f"s3://{remote_registry.bucket}/{PREFIX}/ctr/")
    assert mv.tags["modelyard.sha256"]
    # The model's files are objects in the bucket, and nothing went to the workspace's disk.
    listed = remote_registry.s3_client().list_objects_v2(
        Bucket=remote_registry.bucket, Prefix=f"{PREFIX}/ctr/"
    )
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert any(k.endswith("/MLmodel") for k in keys), keys
    assert not (trained.root / ".modelyard" / "artifacts").exists()
    assert not (trained.root / ".modelyard" / "mlflow.db").exists()


@pytest.fixture(scope="module")
def served(trained: Trained) -> Iterator[ServerProcess]:
    with ServerProcess(trained.root, "ctr", version=trained.version).running() as proc:
        yield proc


def test_serve_fetches_from_s3_verified_and_answers_like_the_model(
    trained: Trained, served: ServerProcess
) -> None:
    ws = load_workspace(trained.root)
    registry = Registry.for_workspace(ws)
    mv = registry.resolve("ctr", trained.version)
    cached = sorted((registry.cache_dir / "ctr").glob(f"{trained.version}-*"))
    assert [p.name for p in cached if p.is_dir()] == [f"{trained.version}-{mv.sha256[:16]}"]
    assert tree_sha256(cached[0]) == mv.sha256
    rows = np.random.default_rng(3).normal(size=(4, 8))
    expected = mlflow.sklearn.load_model(str(cached[0])).predict_proba(rows)
    body = {
        "inputs": [
            {"name": "input-0", "shape": [4, 8], "datatype": "FP64", "data": rows.ravel().tolist()}
        ]
    }
    reply = httpx.post(served.url + f"/v2/models/ctr/versions/{trained.version}/infer", json=body)
    assert reply.status_code == 200, reply.text
    out = reply.json()["outputs"][0]
    np.testing.assert_allclose(np.array(out["data"]).reshape(4, 2), expected, rtol=1e-12)


def test_an_object_changed_in_s3_after_registration_is_refused(
    trained: Trained, remote_registry: RemoteRegistry, tmp_path: Path
) -> None:
    ws = load_workspace(trained.root)
    tracking = Tracking(ws.tracking_uri, ws.artifact_store, StoreAccess.of(ws))
    registry = Registry(tracking, tmp_path / "cache")  # an empty cache: the fetch reads S3
    mv = registry.resolve("ctr", trained.version)
    s3 = remote_registry.s3_client()
    prefix = mv.source.removeprefix(f"s3://{remote_registry.bucket}/")
    listed = s3.list_objects_v2(Bucket=remote_registry.bucket, Prefix=prefix)
    key = next(o["Key"] for o in listed["Contents"] if o["Key"].endswith("/MLmodel"))
    original = s3.get_object(Bucket=remote_registry.bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=remote_registry.bucket, Key=key, Body=original + b"# changed\n")
    try:
        with pytest.raises(IntegrityError, match="do not match their checksum"):
            registry.fetch("ctr", trained.version)
        assert not list((tmp_path / "cache" / "ctr").glob(f"{trained.version}-*"))
    finally:
        s3.put_object(Bucket=remote_registry.bucket, Key=key, Body=original)
    assert tree_sha256(registry.fetch("ctr", trained.version).path) == mv.sha256


def test_the_s3_keys_appear_in_no_log_argv_or_environment(
    trained: Trained, remote_registry: RemoteRegistry
) -> None:
    secret = remote_registry.secret_key.encode()
    probe = (trained.root / "models" / "ctr" / "probe.bin").read_bytes()
    assert b"modelyard.workflows" in probe or b"-c" in probe  # the probe ran in the job
    assert b"AWS_SHARED_CREDENTIALS_FILE=" in probe  # the script got the file's path...
    assert secret not in probe  # ...and not the key, in its argv, its parent's or its env
    assert secret.decode() not in trained.output
    logs = [p for p in (trained.root / ".modelyard").rglob("*") if p.is_file()]
    logs += [remote_registry.log_dir / "mlflow.log"]
    assert any(p.suffix == ".log" for p in logs)
    for path in logs:
        if "cache" not in path.parts:
            assert secret not in path.read_bytes(), path


def test_a_store_proxied_by_the_tracking_server_works_too(
    remote_registry: RemoteRegistry, tmp_path: Path
) -> None:
    """``artifact_store: mlflow-artifacts:/...``: the client sends artifacts through the
    server (``--serve-artifacts``), which keeps them in S3; fetch still verifies them."""
    root = tmp_path / "ws"
    init_workspace(root)
    folder = root / "models" / "ctr"
    model = folder / "model.yaml"
    model.write_text(model.read_text().replace("id: ctr", "id: ctr-proxied"), encoding="utf-8")
    folder.rename(root / "models" / "ctr-proxied")
    settings = root / "modelyard.yaml"
    settings.write_text(
        settings.read_text()
        + f"tracking_uri: {remote_registry.tracking_uri}\n"
        + "artifact_store: mlflow-artifacts:/via-server\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "train", "ctr-proxied", "-p", "n_samples=2000"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env=_env_without_aws(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    registry = Registry.for_workspace(load_workspace(root))
    mv = registry.resolve("ctr-proxied")
    listed = remote_registry.s3_client().list_objects_v2(
        Bucket=remote_registry.bucket, Prefix="proxied/via-server/ctr-proxied/"
    )
    assert any(o["Key"].endswith("/MLmodel") for o in listed.get("Contents", []))
    assert tree_sha256(registry.fetch("ctr-proxied", mv.version).path) == mv.sha256


def test_the_pod_view_of_the_registry_passes_the_kubernetes_check(
    remote_registry: RemoteRegistry, tmp_path: Path
) -> None:
    """What the container test renders: the servers under cluster-style names (a container
    maps them to loopback with --add-host), which the kubernetes backend accepts and the
    tracking server answers to."""
    root = tmp_path / "ws"
    init_workspace(root)
    settings = root / "modelyard.yaml"
    settings.write_text(settings.read_text() + remote_registry.pod_settings(PREFIX))
    ws = load_workspace(root, env={}, backend="kubernetes")
    assert ws.tracking_uri.startswith("http://mlflow.modelyard.svc:")
    port = ws.tracking_uri.rsplit(":", 1)[1]
    reply = httpx.get(
        f"{remote_registry.tracking_uri}/health", headers={"host": f"mlflow.modelyard.svc:{port}"}
    )
    assert reply.status_code == 200
