"""A pool evicts the least recently used models by their measured memory, never a pinned one
or one answering a request, and a request to an unloaded model waits for its load."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from pool_fakes import ManualClock, make_pool, model_dirs

from modelyard.serving.options import ModelSource
from modelyard.serving.pool.ledger import Resident, choose_evictions
from modelyard.serving.pool.pool import ModelPool
from modelyard.serving.protocol.errors import ModelNotFound, NotReady

MiB = 2**20


def _loaded(pool: ModelPool) -> set[str]:
    return {name for name, m in pool.members.items() if m.loaded}


async def _use(pool: ModelPool, clock: ManualClock, name: str) -> None:
    clock.tick()
    member = await pool.acquire(name)
    pool.release(member)


def test_the_least_recently_used_goes_first_and_measured_memory_says_how_many(
    tmp_path: Path,
) -> None:
    sizes = {"a": 40 * MiB, "b": 40 * MiB, "c": 40 * MiB, "d": 70 * MiB}
    clock = ManualClock()
    pool = make_pool(model_dirs(tmp_path, sizes), 100 * MiB, clock)

    async def scenario() -> None:
        await _use(pool, clock, "a")
        await _use(pool, clock, "b")
        await _use(pool, clock, "a")  # b is now the least recently used
        await _use(pool, clock, "c")
        assert _loaded(pool) == {"a", "c"}
        assert pool.members["b"].evictions == 1
        assert pool.members["a"].memory_bytes == 40 * MiB  # measured, not declared anywhere
        # d was never measured: room is made for the median (40 MiB: a goes), then its load
        # measures 70 MiB and c must go too
        await _use(pool, clock, "d")
        assert _loaded(pool) == {"d"}
        assert pool.members["d"].memory_bytes == 70 * MiB
        assert pool.used_bytes <= pool.budget_bytes
        assert [pool.members[n].evictions for n in "abcd"] == [1, 1, 1, 0]
        view = pool.describe()
        assert view["evictions"] == 3
        assert {m["model"]: m["loaded"] for m in view["models"]} == {
            "a": False, "b": False, "c": False, "d": True,
        }  # fmt: skip
        await pool.close()

    asyncio.run(scenario())


def test_a_pinned_model_loads_at_start_and_is_never_evicted(tmp_path: Path) -> None:
    sizes = {"p": 50 * MiB, "a": 40 * MiB, "b": 40 * MiB}
    clock = ManualClock()
    pool = make_pool(model_dirs(tmp_path, sizes), 100 * MiB, clock, pinned=frozenset({"p"}))

    async def scenario() -> None:
        await pool.load_pinned()
        assert _loaded(pool) == {"p"}
        for name in ("a", "b", "a", "b"):  # p is the oldest throughout
            await _use(pool, clock, name)
            assert "p" in _loaded(pool)
        assert pool.members["p"].evictions == 0
        assert pool.members["a"].evictions == 2
        await pool.close()

    asyncio.run(scenario())


def test_a_model_answering_a_request_is_never_evicted(tmp_path: Path) -> None:
    sizes = {"a": 40 * MiB, "b": 40 * MiB, "c": 40 * MiB}
    clock = ManualClock()
    pool = make_pool(model_dirs(tmp_path, sizes), 100 * MiB, clock)

    async def scenario() -> None:
        held = await pool.acquire("a")  # a request in flight on a, the oldest
        await _use(pool, clock, "b")
        await _use(pool, clock, "c")
        assert _loaded(pool) == {"a", "c"}  # b went, though a was less recently used
        clock.tick()
        pool.release(held)  # a was used last now: c is the least recently used
        await _use(pool, clock, "b")
        assert _loaded(pool) == {"a", "b"}
        assert (pool.members["a"].evictions, pool.members["c"].evictions) == (0, 1)
        await pool.close()

    asyncio.run(scenario())


def test_a_request_waits_for_the_load_within_the_timeout_then_gets_retry_after(
    tmp_path: Path,
) -> None:
    dirs = model_dirs(tmp_path, {"slow": MiB})
    gate = threading.Event()

    def slow_resolve(name: str) -> ModelSource:
        assert gate.wait(timeout=60), "the test never opened the gate"
        return ModelSource(name, "1", dirs[name], warmup_requests=1)

    clock = ManualClock()
    pool = make_pool(dirs, 100 * MiB, clock, timeout_s=0.05, resolve=slow_resolve)

    async def scenario() -> None:
        with pytest.raises(NotReady) as refused:
            await pool.acquire("slow")
        assert refused.value.retry_after is not None
        assert refused.value.retry_after >= 1.0
        assert "slow" in str(refused.value)
        assert "loading" in str(refused.value)
        assert not pool.members["slow"].loaded
        loading = pool.members["slow"].loading
        assert loading is not None  # the load goes on without the caller who gave up
        gate.set()
        await loading
        member = await pool.acquire("slow")  # loaded now: no wait
        assert member.loaded
        assert member.loads == 1
        pool.release(member)
        with pytest.raises(ModelNotFound, match="not in pool 'test'"):
            await pool.acquire("nope")
        await pool.close()

    try:
        asyncio.run(scenario())
    finally:
        gate.set()


def test_waiters_share_one_load(tmp_path: Path) -> None:
    dirs = model_dirs(tmp_path, {"m": MiB})
    calls: list[str] = []

    def counting_resolve(name: str) -> ModelSource:
        calls.append(name)
        return ModelSource(name, "1", dirs[name], warmup_requests=1)

    pool = make_pool(dirs, 100 * MiB, ManualClock(), resolve=counting_resolve)

    async def scenario() -> None:
        members = await asyncio.gather(*(pool.acquire("m") for _ in range(5)))
        assert calls == ["m"]
        assert members[0].in_flight == 5
        for member in members:
            pool.release(member)
        await pool.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("residents", "need", "expected"),
    [
        ([Resident("a", 10, 1.0, True)], 5, []),
        ([Resident("a", 60, 2.0, True), Resident("b", 30, 1.0, True)], 20, ["b"]),
        ([Resident("a", 60, 1.0, True), Resident("b", 30, 2.0, True)], 20, ["a"]),
        ([Resident("a", 60, 1.0, False), Resident("b", 30, 2.0, True)], 20, ["b"]),
        ([Resident("a", 50, 1.0, True), Resident("b", 50, 2.0, True)], 90, ["a", "b"]),
        ([Resident("a", 90, 1.0, False)], 50, []),
    ],
)
def test_the_eviction_choice(residents: list[Resident], need: int, expected: list[str]) -> None:
    assert choose_evictions(residents, need, 100) == expected
