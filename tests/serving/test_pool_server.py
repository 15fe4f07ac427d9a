"""The pool server over HTTP: models routed by name, each with its own versions, canary, rate
limit and breaker; the admin view of the pool; memory measured from the real RSS."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from pool_fakes import ManualClock, MeteredModel
from serving_fakes import FAIL, FlakyModel, write_model

from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.options import (
    BreakerOptions,
    ModelSource,
    RateLimitOptions,
    ServerOptions,
)
from modelyard.serving.pool.app import create_pool_app
from modelyard.serving.pool.measure import freed_memory_releaser, process_rss
from modelyard.serving.pool.pool import ModelPool, PoolModel

TOKEN = "pool-test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROW = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}


@contextlib.contextmanager
def serve_pool(pool: ModelPool) -> Iterator[httpx.Client]:
    """The pool's app under uvicorn in a thread on an ephemeral loopback port."""
    app = create_pool_app(pool, TOKEN)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        while not server.started:
            assert time.monotonic() < deadline, "the pool server did not start"
            time.sleep(0.02)
        while client.get("/v2/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the pinned models did not load"
            time.sleep(0.02)
        try:
            yield client
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def _pool(
    models: list[PoolModel], versions: dict[tuple[str, str], Path], budget: int = 2**30
) -> ModelPool:
    def resolve(name: str) -> ModelSource:
        return ModelSource(name, "1", versions[(name, "1")], warmup_requests=1)

    def loader(name: str, version: str) -> ModelSource:
        path = versions.get((name, version))
        if path is None:
            raise LookupError(f"no version {version}")
        return ModelSource(name, version, path, warmup_requests=1)

    return ModelPool(
        "test", models, budget, 30.0, resolve, ThreadPoolExecutor(2), ServingMetrics(),
        rss=process_rss(), release=freed_memory_releaser(), loader=loader, clock=ManualClock(),
    )  # fmt: skip


def _answer(client: httpx.Client, model: str) -> tuple[int, str | None, float | None]:
    reply = client.post(f"/v2/models/{model}/infer", json=ROW)
    if reply.status_code != 200:
        return reply.status_code, None, None
    return 200, reply.headers["x-model-version"], reply.json()["outputs"][0]["data"][0]


def test_a_canary_of_one_pooled_model_shifts_only_that_models_traffic(tmp_path: Path) -> None:
    versions = {
        (name, version): write_model(tmp_path / f"{name}-{version}", MeteredModel(0, offset))
        for name, version, offset in [("m1", "1", 0.0), ("m1", "2", 100.0), ("m2", "1", 0.0),
                                      ("m2", "2", 200.0), ("m3", "1", 0.0)]
    }  # fmt: skip
    options = ServerOptions(admin_token=TOKEN)
    pool = _pool([PoolModel(n, options) for n in ("m1", "m2", "m3")], versions)
    with serve_pool(pool) as client:
        before = {m: _answer(client, m) for m in ("m1", "m2", "m3")}
        assert before == dict.fromkeys(("m1", "m2", "m3"), (200, "1", 10.0))
        added = client.post(
            "/admin/models/m1/versions",
            json={"version": "2", "role": "canary", "canary_share": 1.0},
            headers=AUTH,
        )
        assert added.status_code == 201, added.text
        for _ in range(20):
            assert _answer(client, "m1") == (200, "2", 110.0)
            assert _answer(client, "m2") == (200, "1", 10.0)
            assert _answer(client, "m3") == (200, "1", 10.0)
        m2 = client.get("/admin/models/m2", headers=AUTH).json()
        assert [(v["version"], v["role"]) for v in m2["versions"]] == [("1", "primary")]
        promoted = client.post("/admin/models/m1/promote", json={}, headers=AUTH)
        assert promoted.status_code == 200, promoted.text
        assert _answer(client, "m1") == (200, "2", 110.0)
        assert _answer(client, "m2") == (200, "1", 10.0)
        stats = client.get("/admin/pool", headers=AUTH).json()
        assert {m["model"]: m["version"] for m in stats["models"]} == {
            "m1": "2", "m2": "1", "m3": "1",
        }  # fmt: skip


def test_rate_limits_and_breakers_are_each_models_own(tmp_path: Path) -> None:
    versions = {
        ("limited", "1"): write_model(tmp_path / "limited", MeteredModel(0)),
        ("flaky", "1"): write_model(tmp_path / "flaky", FlakyModel()),
        ("calm", "1"): write_model(tmp_path / "calm", MeteredModel(0)),
    }
    limited = ServerOptions(rate_limit=RateLimitOptions(rps=0.001, burst=2))
    breaker = BreakerOptions(error_rate=0.5, min_requests=4, window=3600.0, cooldown=3600.0)
    flaky = ServerOptions(breaker=breaker)
    pool = _pool(
        [
            PoolModel("limited", limited),
            PoolModel("flaky", flaky),
            PoolModel("calm", ServerOptions()),
        ],
        versions,
    )
    with serve_pool(pool) as client:
        codes = [_answer(client, "limited")[0] for _ in range(4)]
        assert codes == [200, 200, 429, 429]
        limited_reply = client.post("/v2/models/limited/infer", json=ROW)
        assert "retry-after" in limited_reply.headers
        assert _answer(client, "calm") == (200, "1", 10.0)
        assert _answer(client, "flaky") == (200, "1", 10.0)
        FAIL.set()
        try:
            codes = [_answer(client, "flaky")[0] for _ in range(6)]
        finally:
            FAIL.clear()
        assert codes[:3] == [500, 500, 500]
        assert codes[-1] == 503  # the breaker of flaky opened
        assert _answer(client, "flaky")[0] == 503  # and stays open, failure cleared or not
        for _ in range(5):
            assert _answer(client, "calm") == (200, "1", 10.0)
        metrics = client.get("/metrics").text
        assert 'model="limited"' in metrics
        assert 'model="calm"' in metrics


def test_unknown_models_and_the_admin_view(tmp_path: Path) -> None:
    versions = {("m", "1"): write_model(tmp_path / "m", MeteredModel(0))}
    pool = _pool([PoolModel("m", ServerOptions(), pinned=True)], versions)
    with serve_pool(pool) as client:
        missing = client.post("/v2/models/nope/infer", json=ROW)
        assert missing.status_code == 404
        assert "not in pool 'test'" in missing.json()["error"]
        assert client.get("/admin/pool").status_code == 401
        assert client.get("/admin/pool", headers={"authorization": "Bearer x"}).status_code == 403
        view = client.get("/admin/pool", headers=AUTH).json()
        (model,) = view["models"]
        assert (model["model"], model["loaded"], model["pinned"]) == ("m", True, True)
        assert view["memory_budget_bytes"] == 2**30
        meta = client.get("/v2/models/m")
        assert meta.status_code == 200
        assert meta.json()["name"] == "m"


def test_a_models_memory_is_the_rss_growth_its_load_caused(tmp_path: Path) -> None:
    big = 48 * 2**20
    versions = {
        ("big", "1"): write_model(tmp_path / "big", _Heavy(big)),
        ("small", "1"): write_model(tmp_path / "small", MeteredModel(0)),
    }
    pool = _pool([PoolModel("big", ServerOptions()), PoolModel("small", ServerOptions())], versions)
    with serve_pool(pool) as client:
        assert _answer(client, "big")[0] == 200
        assert _answer(client, "small")[0] == 200
        view = {m["model"]: m for m in client.get("/admin/pool", headers=AUTH).json()["models"]}
        assert view["big"]["memory_bytes"] >= big * 0.75
        assert view["small"]["memory_bytes"] < big * 0.25


class _Heavy:
    """A model holding ``size`` bytes of weights, touched so they are resident."""

    def __init__(self, size: int) -> None:
        self.weights = np.ones(size // 8)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float).sum(axis=1) + self.weights[0] - 1.0
