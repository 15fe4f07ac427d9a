"""Several versions in one process: admin API, canary weights, shadow, promote, remove, stats."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from serving_fakes import OffsetModel, write_model
from serving_harness import serve

from modelyard.serving import BatchingOptions, ModelSource, ServerOptions
from waiting import wait_until

TOKEN = "s3cret"
AUTH = {"authorization": f"Bearer {TOKEN}"}
BODY = {"instances": [[1.0, 2.0]]}


@pytest.fixture
def versions(tmp_path):
    models = {
        "1": OffsetModel(0.0),
        "2": OffsetModel(0.0),
        "3": OffsetModel(1.0),
        "4": OffsetModel(fail=True),
    }
    return {
        v: ModelSource("m", v, write_model(tmp_path / v, m, features=2)) for v, m in models.items()
    }


def _loader(versions):
    return lambda name, version: versions[version]


def _options(token=TOKEN):
    return ServerOptions(admin_token=token, batching=BatchingOptions(max_wait_ms=0.5))


def test_admin_needs_the_token(versions):
    with serve(versions["1"], _options(), _loader(versions)) as running, running.client() as c:
        assert c.get("/admin/models/m").status_code == 401
        assert c.get("/admin/models/m", headers={"authorization": "Bearer nope"}).status_code == 403
        assert c.get("/admin/models/m", headers=AUTH).status_code == 200
        assert c.get("/admin/models/x", headers=AUTH).status_code == 404
        r = c.post("/admin/models/m/versions", headers=AUTH, json={"version": "2", "role": "boss"})
        assert r.status_code == 400
    with serve(versions["1"], _options(None)) as running, running.client() as c:
        assert c.get("/admin/models/m", headers=AUTH).status_code == 403


def _count_versions(url: str, n: int) -> dict[str, int]:
    async def run() -> dict[str, int]:
        counts: dict[str, int] = {}
        sem = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def one() -> None:
                async with sem:
                    r = await client.post("/v1/models/m:predict", json=BODY)
                assert r.status_code == 200
                version = r.headers["x-model-version"]
                counts[version] = counts.get(version, 0) + 1

            await asyncio.gather(*(one() for _ in range(n)))
        return counts

    return asyncio.run(run())


def test_canary_weight_splits_traffic_and_promote(versions):
    with serve(versions["1"], _options(), _loader(versions)) as running, running.client() as c:
        r = c.post(
            "/admin/models/m/versions",
            headers=AUTH,
            json={"version": "2", "role": "canary", "canary_share": 0.2},
        )
        assert r.status_code == 201, r.text
        # 400 requests at a 0.2 share: 80 expected, sd 8; bounds 5 sd wide (a false failure
        # about once in three million runs) that an even split, or none, fails
        counts = _count_versions(running.url, 400)
        assert 40 <= counts.get("2", 0) <= 120, counts
        assert counts.get("1", 0) + counts.get("2", 0) == 400
        assert (
            c.put("/admin/models/m/traffic", headers=AUTH, json={"canary_share": 0}).status_code
            == 200
        )
        assert _count_versions(running.url, 200) == {"1": 200}
        stats = c.get("/admin/models/m/stats", headers=AUTH).json()
        assert stats["versions"]["2"]["role"] == "canary"
        assert stats["versions"]["1"]["requests_total"] >= counts["1"] + 200
        assert stats["versions"]["1"]["latency_p90_ms"] > 0
        assert c.post("/admin/models/m/promote", headers=AUTH, json={}).status_code == 200
        view = c.get("/admin/models/m", headers=AUTH).json()
        assert [(v["version"], v["role"]) for v in view["versions"]] == [("2", "primary")]
        assert c.post("/v1/models/m:predict", json=BODY).headers["x-model-version"] == "2"
        assert c.post("/v2/models/m/versions/1/infer", json={}).status_code == 404


def _wait_stats(c: httpx.Client, version: str, key: str, value: int) -> dict:
    def reached() -> dict | None:
        stats = c.get("/admin/models/m/stats", headers=AUTH).json()["versions"][version]
        return stats if stats[key] >= value else None

    return wait_until(reached, f"{key} of version {version} to reach {value}", 20, every_s=0.05)


def test_shadow_is_mirrored_compared_and_never_answers(versions):
    with serve(versions["1"], _options(), _loader(versions)) as running, running.client() as c:
        r = c.post(
            "/admin/models/m/versions", headers=AUTH, json={"version": "3", "role": "shadow"}
        )
        assert r.status_code == 201, r.text
        for _ in range(20):
            r = c.post("/v1/models/m:predict", json=BODY)
            assert r.json() == {"predictions": [3.0]}
            assert r.headers["x-model-version"] == "1"
        stats = _wait_stats(c, "3", "shadow_compared", 20)
        assert stats["shadow_compared"] == 20
        assert stats["shadow_diverged"] == 20
        assert c.get("/v2/models/m/versions/3/ready").status_code == 404
        assert c.delete("/admin/models/m/versions/3", headers=AUTH).status_code == 200
        r = c.post(
            "/admin/models/m/versions", headers=AUTH, json={"version": "4", "role": "shadow"}
        )
        assert r.status_code == 500  # a shadow that fails its warm-up is not added
        assert c.delete("/admin/models/m/versions/1", headers=AUTH).status_code == 409
        text = c.get("/metrics").text
    assert 'modelyard_shadow_diverged_total{model="m",version="3"} 20.0' in text


def test_failing_shadow_never_affects_the_caller(versions, tmp_path):
    flaky = OffsetModel(0.0)
    path = write_model(tmp_path / "5", flaky, features=2)
    sources = dict(versions, **{"5": ModelSource("m", "5", path)})
    with serve(versions["1"], _options(), _loader(sources)) as running, running.client() as c:
        assert (
            c.post(
                "/admin/models/m/versions", headers=AUTH, json={"version": "5", "role": "shadow"}
            ).status_code
            == 201
        )
        running.app.state.deployment.versions["5"].runtime.model.fail = True
        for _ in range(10):
            r = c.post("/v1/models/m:predict", json=BODY)
            assert r.status_code == 200
            assert r.json() == {"predictions": [3.0]}
        stats = _wait_stats(c, "5", "shadow_errors", 10)
        assert stats["shadow_errors"] == 10
        assert 'modelyard_shadow_errors_total{model="m",version="5"} 10.0' in c.get("/metrics").text


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/admin/models/m/versions", {"version": "abc"}, 400),
        ("post", "/admin/models/m/versions", {"version": "-1"}, 400),
        ("post", "/admin/models/m/versions", {"version": "9" * 40}, 400),
        ("post", "/admin/models/m/versions", {"version": "77"}, 404),
        ("post", "/admin/models/m/versions", {"version": "2", "canary_share": 7}, 400),
        ("post", "/admin/models/m/versions", [1, 2], 400),
        ("post", "/admin/models/m/promote", {"version": "../1"}, 400),
        ("post", "/admin/models/m/promote", {"version": "8"}, 404),
        ("put", "/admin/models/m/traffic", {"canary_share": "half"}, 400),
        ("delete", "/admin/models/m/versions/abc", None, 400),
        ("delete", "/admin/models/m/versions/8", None, 404),
    ],
)
def test_every_admin_input_error_is_a_4xx_with_a_message(versions, method, path, body, status):
    with serve(versions["1"], _options(), _loader(versions)) as running, running.client() as c:
        reply = c.request(method, path, headers=AUTH, json=body)
        assert reply.status_code == status, reply.text
        assert reply.json()["error"]
        assert "Traceback" not in reply.text
        assert c.post("/v1/models/m:predict", json=BODY).status_code == 200
