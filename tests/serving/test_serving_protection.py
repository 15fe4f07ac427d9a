"""Rate limit (429), load shedding and the circuit breaker (503), all with Retry-After."""

from __future__ import annotations

import threading

import httpx
import pytest
import serving_fakes
from serving_fakes import FlakyModel, GatedModel, write_model
from serving_harness import serve

from modelyard.serving import (
    BatchingOptions,
    BreakerOptions,
    ModelSource,
    RateLimitOptions,
    ServerOptions,
)
from modelyard.serving.dataplane.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from modelyard.serving.dataplane.limiter import RateLimiter
from modelyard.serving.protocol.errors import RateLimited, Shed
from waiting import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_with_fake_clock():
    clock = Clock()
    limiter = RateLimiter("m", RateLimitOptions(rps=10, burst=2), clock=clock)
    limiter.check(None)
    limiter.check(None)
    with pytest.raises(RateLimited) as err:
        limiter.check(None)
    assert err.value.retry_after == pytest.approx(0.1)
    clock.now += 0.1
    limiter.check(None)


def test_per_client_buckets_are_separate():
    limiter = RateLimiter("m", RateLimitOptions(rps=1, burst=1, per_client="X-Client"), Clock())
    limiter.check("a")
    limiter.check("b")
    with pytest.raises(RateLimited):
        limiter.check("a")


@pytest.mark.parametrize("per_client", [None, "x-client"])
def test_rate_limit_holds_at_ten_times_the_rate(per_client):
    """Three seconds of requests at 10x the limit, on a manual clock: the limiter accepts
    exactly the burst plus ``rps`` per second, and refuses the rest with a wait that, when
    honoured, gets the next request through."""
    rps, burst, seconds = 20.0, 2, 3.0
    clock = Clock()
    options = RateLimitOptions(rps=rps, burst=burst, per_client=per_client)
    limiter = RateLimiter("m", options, clock=clock)
    accepted, waits = 0, []
    sent = int(rps * 10 * seconds)
    for _ in range(sent):
        try:
            limiter.check("a")
            accepted += 1
        except RateLimited as err:
            waits.append(err.retry_after)
        clock.now += 1.0 / (rps * 10)
    # Refill over the span of the arrivals, plus the burst saved up before the first.
    assert accepted == burst + int(rps * (sent - 1) / (rps * 10))
    assert len(waits) == sent - accepted
    assert all(0 < wait <= 1.0 / rps + 1e-9 for wait in waits)
    clock.now += max(waits[-1], 0.0)
    limiter.check("a")


def test_rate_limited_response_has_retry_after(tmp_path):
    path = write_model(tmp_path / "m", FlakyModel(), features=2)
    options = ServerOptions(rate_limit=RateLimitOptions(rps=0.5, burst=1, per_client="x-client"))
    serving_fakes.FAIL.clear()
    with serve(ModelSource("m", "1", path), options) as running, running.client() as client:
        body = {"instances": [[1.0, 2.0]]}
        assert (
            client.post("/v1/models/m:predict", json=body, headers={"x-client": "a"}).status_code
            == 200
        )
        r = client.post("/v1/models/m:predict", json=body, headers={"x-client": "a"})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert "rate limit" in r.json()["error"]
        assert (
            client.post("/v1/models/m:predict", json=body, headers={"x-client": "b"}).status_code
            == 200
        )
        assert 'modelyard_rate_limited_total{model="m"} 1.0' in client.get("/metrics").text


def test_breaker_states_with_fake_clock():
    clock = Clock()
    moves: list[tuple[str, str]] = []
    opts = BreakerOptions(error_rate=0.5, min_requests=4, window=10, cooldown=5)
    breaker = CircuitBreaker("m", opts, lambda a, b: moves.append((a, b)), clock)
    for ok in (True, False, False, True):
        breaker.record(ok, breaker.admit())
    assert breaker.state == OPEN
    with pytest.raises(Shed) as err:
        breaker.admit()
    assert err.value.reason == "breaker_open"
    clock.now += 5
    assert breaker.admit() is True
    assert breaker.state == HALF_OPEN
    with pytest.raises(Shed):
        breaker.admit()  # only one probe at a time
    breaker.record(False, True)
    assert breaker.state == OPEN
    clock.now += 5
    breaker.record(True, breaker.admit())
    assert breaker.state == CLOSED
    assert moves == [
        ("closed", "open"), ("open", "half_open"), ("half_open", "open"),
        ("open", "half_open"), ("half_open", "closed"),
    ]  # fmt: skip


def test_breaker_opens_sheds_and_recovers_over_http(tmp_path):
    path = write_model(tmp_path / "m", FlakyModel(), features=2)
    breaker = BreakerOptions(error_rate=0.5, min_requests=5, window=30, cooldown=0.5)
    options = ServerOptions(breaker=breaker, batching=BatchingOptions(enabled=False))
    body = {"instances": [[1.0, 2.0]]}
    serving_fakes.FAIL.clear()
    with serve(ModelSource("m", "1", path), options) as running, running.client() as client:
        serving_fakes.FAIL.set()
        try:
            codes = [client.post("/v1/models/m:predict", json=body).status_code for _ in range(5)]
            assert codes == [500] * 5
            shed = client.post("/v1/models/m:predict", json=body)
            assert shed.status_code == 503
            assert "retry-after" in shed.headers
            assert "breaker" in shed.json()["error"]
        finally:
            serving_fakes.FAIL.clear()
        # shed until the cooldown ends; then the first request is the probe, which succeeds
        shed: list[httpx.Response] = []

        def probed() -> httpx.Response | None:
            reply = client.post("/v1/models/m:predict", json=body)
            if reply.status_code == 503:
                shed.append(reply)
                return None
            return reply

        # every 0.02 s: a shed request is cheap; do not flood the server meanwhile
        reply = wait_until(probed, "the breaker to let a probe through", 10, every_s=0.02)
        shed_while_open = 1 + len(shed)
        assert reply.status_code == 200  # the probe
        assert client.post("/v1/models/m:predict", json=body).status_code == 200
        text = client.get("/metrics").text
    for before, after in (("closed", "open"), ("open", "half_open"), ("half_open", "closed")):
        labels = f'from_state="{before}",model="m",to_state="{after}"'
        line = f"modelyard_breaker_transitions_total{{{labels}}} 1.0"
        assert line in text
    assert f'modelyard_shed_total{{model="m",reason="breaker_open"}} {shed_while_open}.0' in text
    assert 'modelyard_breaker_state{model="m"} 0.0' in text


def test_queue_timeout_sheds_with_503(tmp_path):
    path = write_model(tmp_path / "g", GatedModel(), features=2)
    breaker = BreakerOptions(max_in_flight=1, queue_timeout=0.05)
    # The model is fast at warm-up and blocks afterwards: keep it in the thread pool
    # (inline_below_ms=0), as a model measured slow would be, so that requests can queue.
    options = ServerOptions(
        breaker=breaker, batching=BatchingOptions(enabled=False), inline_below_ms=0.0
    )
    serving_fakes.WARM.set()
    body = {"instances": [[1.0, 2.0]]}
    with serve(ModelSource("g", "1", path), options) as running, running.client() as client:
        serving_fakes.WARM.clear()
        first: list[int] = []
        blocked = threading.Thread(
            target=lambda: first.append(
                httpx.post(f"{running.url}/v1/models/g:predict", json=body, timeout=30).status_code
            )
        )
        blocked.start()
        try:
            wait_until(
                lambda: 'modelyard_in_flight{model="g"} 1.0' in client.get("/metrics").text,
                "the first request to be in flight",
                10,
                every_s=0.01,
            )
            r = client.post("/v1/models/g:predict", json=body)
            assert r.status_code == 503
            assert "retry-after" in r.headers
        finally:
            serving_fakes.WARM.set()
            blocked.join()
        assert first == [200]
        assert (
            'modelyard_shed_total{model="g",reason="queue_timeout"} 1.0'
            in client.get("/metrics").text
        )
