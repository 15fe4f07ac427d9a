"""The console's pages over the in-memory Backend double: user data is escaped, usage and
cost become plots, right-sizing and actions go through the seam."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from modelyard.backends.backend import Revision
from modelyard.backends.fake import InMemoryBackend
from modelyard.config import Workspace
from modelyard.console import ConsoleData, Links, build_app
from modelyard.observe.usage import UsageSample
from modelyard.registry import ModelVersion

HOSTILE = "<img src=x onerror=alert(1)>"


class Versions:
    def versions(self, name: str) -> list[ModelVersion]:
        tags = {"modelyard.gate": "passed", "modelyard.eval.auc": "0.81"}
        return [ModelVersion(name, 1, "ab" * 32, "run1", "/x", tags, ("production",), 0.0)]


@pytest.fixture
def client(workspace: Workspace) -> tuple[TestClient, InMemoryBackend]:
    now = time.time()
    backend = InMemoryBackend()
    backend.deploy("ctr", 1, by="ada")
    backend.deploy("ctr", 2, by=HOSTILE)
    backend.rollback("ctr", by="ada")
    revs = backend.revisions["ctr"]
    revs[1] = Revision("ctr", 2, "2", HOSTILE, now, "rolled_back", f"failed: {HOSTILE}")
    backend.samples = [
        UsageSample("server:ctr", now - 600 + 10 * i, 0.1 + i / 100, 200 * 2**20) for i in range(60)
    ]
    data = ConsoleData(
        workspace,
        backend,
        Versions(),
        Links(mlflow="http://mlflow.test", grafana="http://grafana.test"),
        experiment_of=lambda _m: "7",
    )
    return TestClient(build_app(data, "s3cret")), backend


def test_user_data_is_escaped(client: tuple[TestClient, InMemoryBackend]) -> None:
    page = client[0].get("/models/ctr")
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "rolled_back" in page.text


def test_usage_cost_versions_and_links(client: tuple[TestClient, InMemoryBackend]) -> None:
    page = client[0].get("/models/ctr").text
    assert page.count("<polyline") == 2  # CPU and memory
    assert "60 samples" in page
    assert "auc 0.81" in page
    assert "http://mlflow.test/#/experiments/7/runs/run1" in page
    assert "http://grafana.test/d/modelyard-model-ctr" in page
    index = client[0].get("/").text
    assert "<rect" in index  # cost per day
    assert "http://grafana.test/d/modelyard-overview" in index
    assert "modelyard-model-ctr" not in index


def test_actions_need_the_token_and_go_through_the_backend(
    client: tuple[TestClient, InMemoryBackend],
) -> None:
    http, backend = client
    assert http.post("/models/ctr/rollback").status_code == 401
    assert (
        http.post("/models/ctr/rollback", headers={"authorization": "Basic s3cret"}).status_code
        == 401
    )
    auth = {"authorization": "Bearer s3cret"}
    # nothing served before version 1: the backend refuses, the console says 404
    assert http.post("/models/ctr/rollback", headers=auth).status_code == 404
    backend.deploy("ctr", 3)
    assert http.post("/models/ctr/promote").status_code == 401
    assert backend.status("ctr").serving == "1"
    assert http.post("/models/ctr/promote", headers=auth).json()["serving"] == "3"
    done = http.post("/models/ctr/rollback", headers=auth)
    assert done.status_code == 200, done.text
    assert done.json() == {"action": "rollback", "version": "1", "revision": 4}
    assert backend.status("ctr").serving == "1"


def test_public_api_and_a_taken_port(workspace: Workspace) -> None:
    import socket

    import modelyard.console
    from modelyard.console import serve
    from modelyard.console.app import PortInUse

    assert sorted(modelyard.console.__all__) == ["ConsoleData", "Links", "build_app", "serve"]
    data = ConsoleData(workspace, InMemoryBackend(), Versions())
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port}"):
            serve(data, "t", "127.0.0.1", port)


def test_the_console_on_the_kubernetes_backend(workspace: Workspace, tmp_path: Path) -> None:
    from rollout_harness import register_base

    from modelyard.backends import backend_for
    from modelyard.k8s import InMemoryCluster
    from modelyard.registry import Registry

    register_base(workspace, tmp_path)
    cluster = InMemoryCluster().with_credentials(workspace.settings.kubernetes.namespace)
    backend = backend_for(workspace, "kubernetes", cluster=cluster)
    backend.deploy("ctr", 1, by="ada")
    data = ConsoleData(workspace, backend, Registry.for_workspace(workspace))
    http = TestClient(build_app(data, "t"))
    page = http.get("/models/ctr")
    assert page.status_code == 200, page.text
    assert '<strong id="serving">1</strong>' in page.text
    assert "ada" in page.text  # the history, from the revisions ConfigMap
    index = http.get("/")
    assert index.status_code == 200
    assert ">1</td>" in index.text
