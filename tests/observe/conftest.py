"""The observability test bed, one per session: two live model servers on loopback (the
stable pods' version with a diverging shadow, and a canary version that fails on some
inputs), a stand-in for cAdvisor and kube-state-metrics, and a real Prometheus (Debian's
package) that scrapes them every second with the rendered alert rules loaded.

Tests that need Prometheus skip when the binary is absent, except under CI=true, where they
fail: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))

from observe_bed import (
    ADMIN_TOKEN,
    CANARY_HASH,
    SCRAPE_INTERVAL_S,
    STABLE_HASH,
    PickyModel,
    Stack,
    prometheus_binary,
)
from serving_fakes import OffsetModel, write_model
from serving_harness import Running, serve
from standin import ClusterStandIn, Pod, serve_standin

from modelyard.config import ModelEntry, Workspace, init_workspace, load_workspace
from modelyard.k8s import RenderContext, render_model
from modelyard.observe import prometheus
from modelyard.serving import ModelSource, ServerOptions
from modelyard.serving.options import BreakerOptions, RateLimitOptions


@pytest.fixture(scope="session")
def observe_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The example workspace (model ctr, production, rollout with analysis)."""
    root = tmp_path_factory.mktemp("observe") / "ws"
    init_workspace(root)
    return load_workspace(root)


@pytest.fixture(scope="session")
def ctr(observe_ws: Workspace) -> ModelEntry:
    return observe_ws.model("ctr")


@pytest.fixture(scope="session")
def rendered(observe_ws: Workspace, ctr: ModelEntry) -> dict[str, dict[str, Any]]:
    """The rendered objects of ctr, by kind."""
    manifests = render_model(RenderContext.of(observe_ws, {"ctr": 1}), ctr)
    by_kind: dict[str, dict[str, Any]] = {}
    for obj in manifests.objects:  # the first of a kind: the background AnalysisTemplate
        by_kind.setdefault(obj["kind"], obj)
    return by_kind


def _traffic(stop: threading.Event, stable: Running, canary: Running) -> None:
    good = {"instances": [[0.1, 0.2, 0.3, 0.4]]}
    bad = {"instances": [[-1.0, 0.2, 0.3, 0.4]]}
    with stable.client() as s, canary.client() as c:
        n = 0
        while not stop.is_set():
            body = bad if n % 2 else good
            for client in (s, c):
                client.post("/v1/models/ctr:predict", json=body)
            n += 1
            stop.wait(0.05)  # pacing: about 20 requests a second to each server


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    observe_ws: Workspace,
    rendered: dict[str, dict[str, Any]],
) -> Iterator[Stack]:
    binary = prometheus_binary()
    models = tmp_path_factory.mktemp("observe-models")
    v1 = write_model(models / "ctr-1", OffsetModel(0.0))
    v2_shadow = write_model(models / "ctr-2", OffsetModel(0.5))
    v2_faulty = write_model(models / "ctr-2-faulty", PickyModel())
    stable_opts = ServerOptions(admin_token=ADMIN_TOKEN, freeze_gc=False)
    canary_opts = ServerOptions(
        freeze_gc=False,
        rate_limit=RateLimitOptions(rps=12.0, burst=5),
        breaker=BreakerOptions(error_rate=0.4, min_requests=10, window=5.0, cooldown=2.0),
    )
    loader = {"2": v2_shadow}

    def load(name: str, version: str) -> ModelSource:
        return ModelSource(name, version, loader[version])

    namespace = observe_ws.settings.kubernetes.namespace
    rollout = rendered["Rollout"]
    template = rollout["spec"]["template"]
    (container,) = [c for c in template["spec"]["containers"] if c["name"] == "server"]
    pods = {h: f"ctr-{h}-{s}" for h, s in ((STABLE_HASH, "abcde"), (CANARY_HASH, "fghij"))}
    standin = ClusterStandIn(
        [Pod(name, namespace, template["metadata"]["labels"], container) for name in pods.values()],
        rendered["HorizontalPodAutoscaler"],
    )
    httpd, standin_port = serve_standin(standin)
    directory = tmp_path_factory.mktemp("prometheus")
    rules = directory / "rules.yaml"
    rules.write_text(yaml.safe_dump(rendered["PrometheusRule"]["spec"]), encoding="utf-8")
    stop = threading.Event()
    resources = contextlib.ExitStack()
    _CLOSERS.append(resources.close)
    resources.callback(httpd.shutdown)
    stable = resources.enter_context(serve(ModelSource("ctr", "1", v1), stable_opts, load))
    canary = resources.enter_context(serve(ModelSource("ctr", "2", v2_faulty), canary_opts))
    with stable.client() as client:
        reply = client.post(
            "/admin/models/ctr/versions",
            json={"version": "2", "role": "shadow"},
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert reply.status_code == 201, reply.text
    targets = [
        prometheus.ScrapeTarget(
            server.url.removeprefix("http://"),
            {"namespace": namespace, "pod": pods[h], "rollouts_pod_template_hash": h},
        )
        for server, h in ((stable, STABLE_HASH), (canary, CANARY_HASH))
    ]
    targets.append(prometheus.ScrapeTarget(f"127.0.0.1:{standin_port}"))
    config = prometheus.scrape_config(targets, SCRAPE_INTERVAL_S, rule_files=[rules])
    prom = prometheus.start(config, directory, binary=binary)
    resources.callback(prom.stop)
    driver = threading.Thread(target=_traffic, args=(stop, stable, canary), daemon=True)
    driver.start()
    resources.callback(driver.join, timeout=30)
    resources.callback(stop.set)
    with resources:
        yield Stack(prom, stable, canary, namespace)


_CLOSERS: list[Callable[[], None]] = []
"""Closers of the session's test bed: run after the last test of this folder, so that its
servers, traffic and Prometheus do not load the machine while the rest of the suite runs."""


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    here = Path(__file__).parent
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # a worker may run this folder's files with others' in between: close at its end only
        leaving = nextitem is None
    else:
        leaving = nextitem is None or Path(nextitem.path).parent != here
    if leaving:
        while _CLOSERS:
            _CLOSERS.pop()()
