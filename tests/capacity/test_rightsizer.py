"""modelyard's policy, the static one, and the HPA rule on small synthetic series."""

from __future__ import annotations

import pytest

from modelyard.capacity import ModelyardPolicy, Provisioned, StaticPolicy, respect_hpa
from modelyard.capacity.replay import replay_series
from modelyard.capacity.traces import TraceSeries
from modelyard.config.schema import Autoscaling

MIB = 2**20


def _feed(samples, provisioned=Provisioned(1.0, 1024 * MIB)):
    rec = ModelyardPolicy().recommender(provisioned)
    for at, cpu, mem in samples:
        rec.add(at, cpu, mem)
    return rec


def test_follows_the_memory_peak_and_a_cpu_percentile():
    samples = [(i * 60.0, 0.2 + (i % 10) / 100, (300 + i % 7) * MIB) for i in range(2 * 1440)]
    rec = _feed(samples).recommend(2 * 86400.0)
    assert 0.28 <= rec.cpu_cores.target <= 0.29 * 1.05 + 1e-9
    # 8 % margin, plus what is left of the young-series margin after 48 h (20 % x 2^-8)
    assert rec.memory_bytes.target == pytest.approx(306 * MIB * (1.08 + 0.2 * 2**-8))
    assert rec.cpu_cores.lower <= rec.cpu_cores.target <= rec.cpu_cores.upper
    assert 0 < rec.confidence < 1


def test_confidence_grows_with_history():
    short = _feed([(i * 60.0, 0.1, 100 * MIB) for i in range(60)]).recommend(3600.0)
    long = _feed([(i * 60.0, 0.1, 100 * MIB) for i in range(3 * 1440)]).recommend(3 * 86400.0)
    assert short.confidence < long.confidence


def test_oom_raises_memory_above_the_limit():
    rec = _feed([(i * 60.0, 0.1, 100 * MIB) for i in range(10)])
    rec.add_oom(600.0, 512 * MIB)
    out = rec.recommend(660.0)
    assert out.memory_bytes.target == pytest.approx(max(512 * 1.2, 612) * MIB)
    assert "OOM" in out.notes[0]


def test_throttling_raises_cpu():
    plain = _feed([(i * 60.0, 0.5, 100 * MIB) for i in range(120)])
    throttled = _feed([(i * 60.0, 0.5, 100 * MIB) for i in range(120)])
    throttled.add_throttling(7100.0, 0.4)
    assert throttled.recommend(7200.0).cpu_cores.target == pytest.approx(
        plain.recommend(7200.0).cpu_cores.target * 1.2
    )


def test_hpa_on_cpu_holds_the_cpu_request_and_sizes_memory():
    provisioned = Provisioned(0.5, 512 * MIB)
    rec = _feed([(i * 60.0, 0.05, 100 * MIB) for i in range(120)], provisioned).recommend(7200.0)
    assert rec.cpu_cores.target < 0.5
    held = respect_hpa(rec, Autoscaling(cpu_percent=70), provisioned)
    assert held.cpu_cores.target == 0.5
    assert held.memory_bytes == rec.memory_bytes
    assert "HPA" in held.notes[-1]
    by_rps = respect_hpa(rec, Autoscaling(cpu_percent=None, rps_per_replica=50), provisioned)
    assert by_rps.cpu_cores == rec.cpu_cores
    off = respect_hpa(rec, Autoscaling(enabled=False), provisioned)
    assert off == rec


def _series(values_cpu, values_mem, step=300.0):
    s = TraceSeries("vm", Provisioned(4.0, 8 * 2**30))
    s.at = [i * step for i in range(len(values_cpu))]
    s.cpu_cores = list(values_cpu)
    s.memory_bytes = list(values_mem)
    return s


def test_replay_uses_only_past_samples_and_holds_for_an_hour():
    # flat 1 core for 2 h then a jump to 3 cores: the hour after the jump is under-provisioned
    cpu = [1.0] * 24 + [3.0] * 24
    done = replay_series(_series(cpu, [100 * MIB] * 48), ModelyardPolicy())
    froms = [r["from"] for r in done.recommendations]
    assert froms[0] == 3600.0
    assert all(f % 3600 == 0 for f in froms)
    assert done.cpu.under == 12  # the hour 7200-10800 still runs on the 1-core advice
    assert done.recommendations[-1]["cpu"] >= 3.0


def test_static_keeps_what_was_provisioned():
    done = replay_series(_series([1.0] * 36, [2**30] * 36), StaticPolicy())
    assert done.recommendations == [{"from": 3600.0, "cpu": 4.0, "memory": 8 * 2**30}]
    assert done.cpu.as_dict()["slack"] == 0.75
    assert done.cpu.as_dict()["under"] == 0.0
