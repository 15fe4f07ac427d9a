"""The kubernetes backend refuses a registry pods cannot reach (a SQLite file, a local folder,
localhost), naming modelyard.yaml's line and what to write instead; the local backend does
not care. The S3 settings reach MLflow and boto3 through file paths and addresses only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.config import InvalidConfig, init_workspace, load_workspace
from modelyard.errors import ConfigError
from modelyard.tracking import StoreAccess

REACHABLE = (
    "tracking_uri: http://mlflow.modelyard.svc:5000\nartifact_store: s3://modelyard/artifacts\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root)
    return root


def _settings(root: Path, text: str) -> None:
    (root / "modelyard.yaml").write_text(text, encoding="utf-8")


def test_validate_with_backend_kubernetes_and_the_default_sqlite_exits_2(root: Path) -> None:
    text = (root / "modelyard.yaml").read_text().replace("backend: local", "backend: kubernetes")
    _settings(root, text)
    line = 1 + text.splitlines().index(
        next(x for x in text.splitlines() if x.startswith("backend"))
    )
    result = CliRunner().invoke(app, ["validate", "-w", str(root)])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())  # rich wraps long lines
    assert f"{root / 'modelyard.yaml'}:{line}: tracking_uri:" in out
    assert "SQLite file on this machine" in out
    assert "write tracking_uri: http://mlflow.modelyard.svc:5000" in out
    assert f"{root / 'modelyard.yaml'}:{line}: artifact_store:" in out
    assert "write artifact_store: s3://" in out


def test_the_backend_flag_checks_a_local_workspace_for_kubernetes(root: Path) -> None:
    assert CliRunner().invoke(app, ["validate", "-w", str(root)]).exit_code == 0
    result = CliRunner().invoke(app, ["validate", "-w", str(root), "--backend", "kubernetes"])
    assert result.exit_code == 2
    result = CliRunner().invoke(
        app, ["validate", "-w", str(root), "--backend", "kubernetes", "--json"]
    )
    issues = json.loads(result.output)["issues"]
    assert {i["field"] for i in issues} == {"tracking_uri", "artifact_store"}
    bad = CliRunner().invoke(app, ["validate", "-w", str(root), "--backend", "cloud"])
    assert bad.exit_code == 2
    assert "write local or kubernetes" in bad.output


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("sqlite:///.modelyard/mlflow.db", "is a file on this machine"),
        ("/srv/mlflow", "is a path on this machine"),
        ("mlruns", "is a path on this machine"),
        ("file:///srv/mlruns", "is a file on this machine"),
        ("http://localhost:5000", "names localhost"),
        ("http://127.0.0.1:5000", "names 127.0.0.1"),
        ("http://[::1]:5000", "names ::1"),
        ("http://0.0.0.0:5000", "names 0.0.0.0"),
        ("postgresql://ml@localhost/mlflow", "names localhost"),
    ],
)
def test_unreachable_tracking_uris_are_refused_at_their_line(
    root: Path, uri: str, why: str
) -> None:
    _settings(
        root, f"backend: kubernetes\nname: demo\ntracking_uri: {uri}\nartifact_store: s3://b/p\n"
    )
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root, env={})
    (issue,) = caught.value.issues
    assert (issue.line, issue.field) == (3, "tracking_uri")
    assert why in issue.message


@pytest.mark.parametrize(
    "store", [".modelyard/artifacts", "/data/artifacts", "file:///data", "s3x://"]
)
def test_local_artifact_stores_are_refused(root: Path, store: str) -> None:
    _settings(
        root, f"backend: kubernetes\ntracking_uri: http://mlflow:5000\nartifact_store: {store}\n"
    )
    if store == "s3x://":  # a URI with no host is not a local one: only its form is checked
        load_workspace(root, env={})
        return
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root, env={})
    (issue,) = caught.value.issues
    assert (issue.line, issue.field) == (3, "artifact_store")


@pytest.mark.parametrize(
    ("tracking", "store"),
    [
        ("http://mlflow.modelyard.svc:5000", "s3://modelyard/artifacts"),
        ("https://mlflow.example.com", "gs://bucket/prefix"),
        ("http://10.0.0.7:5000", "mlflow-artifacts:/artifacts"),
        ("databricks", "s3://b"),
    ],
)
def test_reachable_registries_load(root: Path, tracking: str, store: str) -> None:
    _settings(root, f"backend: kubernetes\ntracking_uri: {tracking}\nartifact_store: {store}\n")
    ws = load_workspace(root, env={})
    assert ws.tracking_uri == tracking
    assert ws.artifact_store == store


def test_a_loopback_s3_endpoint_is_refused(root: Path) -> None:
    _settings(root, REACHABLE + "backend: kubernetes\ns3:\n  endpoint_url: http://localhost:9000\n")
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root, env={})
    (issue,) = caught.value.issues
    assert (issue.line, issue.field) == (5, "s3.endpoint_url")


def test_an_environment_override_is_named(root: Path) -> None:
    _settings(root, REACHABLE + "backend: kubernetes\n")
    env = {"MODELYARD_TRACKING_URI": "sqlite:////tmp/x.db"}
    with pytest.raises(InvalidConfig, match=r"set by \$MODELYARD_TRACKING_URI"):
        load_workspace(root, env=env)


def test_the_local_backend_keeps_its_defaults(root: Path) -> None:
    ws = load_workspace(root, env={})
    assert ws.tracking_uri.startswith("sqlite:///")


def test_render_refuses_the_local_defaults_and_writes_nothing(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", "--out", str(out), "-w", str(root)])
    assert result.exit_code == 2
    assert "tracking_uri" in result.output
    assert not out.exists()


def test_pods_get_the_s3_endpoint_and_the_credentials_file_path(root: Path, tmp_path: Path) -> None:
    _settings(root, REACHABLE + "s3:\n  endpoint_url: http://minio.storage.svc:9000\n")
    out = tmp_path / "out"
    args = ["render", "--out", str(out), "-w", str(root), "--version", "ctr=1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    jobs = [yaml.safe_load(p.read_text()) for p in out.rglob("*.yaml") if "job" in p.name]
    assert jobs
    for job in jobs:
        spec = job["spec"].get("jobTemplate", job)["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio.storage.svc:9000"
        assert env["AWS_SHARED_CREDENTIALS_FILE"].startswith("/var/run/secrets/")


def test_store_access_uses_paths_and_lets_the_environment_win(root: Path) -> None:
    keys = root / "aws.ini"
    keys.write_text("[default]\naws_access_key_id = a\naws_secret_access_key = b\n")
    _settings(
        root,
        "s3:\n  endpoint_url: http://s3.example.com:9000\n  region: eu-west-1\n"
        "credentials:\n  aws: aws.ini\n",
    )
    access = StoreAccess.of(load_workspace(root, env={}))
    assert access.env({}) == {
        "MLFLOW_S3_ENDPOINT_URL": "http://s3.example.com:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_SHARED_CREDENTIALS_FILE": str(keys),
    }
    mounted = {"AWS_SHARED_CREDENTIALS_FILE": "/var/run/secrets/modelyard/aws-credentials"}
    assert "AWS_SHARED_CREDENTIALS_FILE" not in access.env(mounted)
    keys.unlink()
    with pytest.raises(ConfigError, match=r"credentials\.aws: .*aws\.ini is not a file"):
        access.env({})
