"""Adaptive batching: concurrent requests share model calls and each gets its own rows back."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from serving_harness import serve

from modelyard.serving import BatchingOptions, ModelSource, ServerOptions
from modelyard.serving.dataplane.batcher import Batcher


def _run_batcher(sizes: list[int], max_batch: int) -> tuple[list[int], list[np.ndarray]]:
    calls: list[int] = []

    def run(rows: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return rows.sum(axis=1)

    async def main() -> list[np.ndarray]:
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(run, pool, max_batch, 5.0, lambda *a: None)
            inputs = [np.full((n, 2), float(i)) for i, n in enumerate(sizes)]
            try:
                return list(await asyncio.gather(*(batcher.submit(x) for x in inputs)))
            finally:
                await batcher.close()

    return calls, asyncio.run(main())


def test_batcher_gathers_and_scatters():
    calls, results = _run_batcher([1, 2, 3, 1, 1], max_batch=32)
    assert calls == [8]
    for i, (n, got) in enumerate(zip([1, 2, 3, 1, 1], results, strict=True)):
        np.testing.assert_array_equal(got, np.full(n, 2.0 * i))


def test_batcher_respects_max_batch_size():
    calls, results = _run_batcher([3] * 6, max_batch=7)
    assert max(calls) <= 7
    assert sum(calls) == 18
    assert [len(r) for r in results] == [3] * 6


def test_batcher_isolates_a_failing_request():
    def run(rows: np.ndarray) -> np.ndarray:
        if (rows < 0).any():
            raise ValueError("negative")
        return rows.sum(axis=1)

    async def main() -> list[object]:
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(run, pool, 32, 1.0, lambda *a: None)
            xs = [np.ones((1, 2)), -np.ones((1, 2)), np.ones((2, 2))]
            try:
                return await asyncio.gather(
                    *(batcher.submit(x) for x in xs), return_exceptions=True
                )
            finally:
                await batcher.close()

    good, bad, good2 = asyncio.run(main())
    assert isinstance(bad, ValueError)
    np.testing.assert_array_equal(good, [2.0])
    np.testing.assert_array_equal(good2, [2.0, 2.0])


def test_concurrent_http_requests_are_batched(sk_model):
    source = ModelSource("ctr", "1", sk_model.path, method="predict_proba")
    options = ServerOptions(batching=BatchingOptions(True, 64, 20.0))
    rows = sk_model.X[:40]
    expected = sk_model.model.predict_proba(rows)
    with serve(source, options) as running:

        async def fire() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
                return await asyncio.gather(
                    *(
                        client.post("/v1/models/ctr:predict", json={"instances": [row.tolist()]})
                        for row in rows
                    )
                )

        responses = asyncio.run(fire())
        metrics = httpx.get(f"{running.url}/metrics").text
    for row_expected, r in zip(expected, responses, strict=True):
        assert r.status_code == 200
        np.testing.assert_allclose(r.json()["predictions"][0], row_expected)
    count = _sample(metrics, 'modelyard_batch_size_count{model="ctr",version="1"}')
    total = _sample(metrics, 'modelyard_batch_size_sum{model="ctr",version="1"}')
    assert total - 3 * 2 >= 40  # warm-up rows plus every request
    assert count < 40 + 3  # fewer calls than requests: some were batched
    assert "modelyard_queue_duration_seconds_bucket" in metrics


def _sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    raise AssertionError(f"{prefix} not in metrics")


def test_unbatched_server_answers_too(sk_model):
    source = ModelSource("ctr", "1", sk_model.path)
    options = ServerOptions(batching=BatchingOptions(enabled=False))
    with serve(source, options) as running, running.client() as client:
        r = client.post("/v1/models/ctr:predict", json={"instances": sk_model.X[:3].tolist()})
    assert r.json()["predictions"] == sk_model.model.predict(sk_model.X[:3]).tolist()
    assert threading.active_count() >= 1
