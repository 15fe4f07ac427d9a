"""The VPA baseline pinned against hand-computed values on small synthetic series."""

from __future__ import annotations

import math

import pytest

from modelyard.capacity import Provisioned, VpaPolicy
from modelyard.capacity.histogram import CPU_BUCKETS, MEMORY_BUCKETS, DecayingHistogram

MIB = 2**20
DAY = 86400.0


def bucket_end(scheme, value):  # the end of the bucket holding value, as VPA reports it
    return scheme.start(scheme.find(value) + 1)


def test_bucket_edges_grow_by_five_percent():
    assert CPU_BUCKETS.start(1) == pytest.approx(0.001)
    assert CPU_BUCKETS.start(2) == pytest.approx(0.001 + 0.00105)
    assert MEMORY_BUCKETS.find(0.5e7) == 0
    assert MEMORY_BUCKETS.find(1e7) == 1


def test_decay_halves_weight_per_half_life():
    # 1 core now and 2 cores one half-life earlier, each weight 1: the recent one counts
    # twice as much, so p60 (threshold 0.6 of 1.5 total) lands on the recent sample's bucket.
    hist = DecayingHistogram(CPU_BUCKETS, half_life_s=DAY)
    hist.add(2.0, 1.0, at=0.0)
    hist.add(1.0, 1.0, at=DAY)
    assert hist.total_weight == pytest.approx(3.0)  # 1 (reference) + 2 (one half-life later)
    assert hist.percentile(0.6) == pytest.approx(bucket_end(CPU_BUCKETS, 1.0))
    assert hist.percentile(0.7) == pytest.approx(bucket_end(CPU_BUCKETS, 2.0))


def _vpa_after(samples, provisioned=Provisioned(1.0, 512 * MIB)):
    rec = VpaPolicy().recommender(provisioned)
    for at, cpu, mem in samples:
        rec.add(at, cpu, mem)
    return rec


def test_target_is_p90_bucket_end_plus_fifteen_percent():
    # 100 samples a minute apart: 0.01 .. 1.00 cores, same weight (request 1 core), barely decayed
    samples = [(i * 60.0, (i + 1) / 100, 400 * MIB) for i in range(100)]
    rec = _vpa_after(samples).recommend(100 * 60.0)
    hist = DecayingHistogram(CPU_BUCKETS, DAY)
    for at, cpu, _ in samples:
        hist.add(cpu, 1.0, at)
    p90 = hist.percentile(0.9)
    assert 0.90 <= p90 <= 0.95  # the 90th sample's bucket end
    assert rec.cpu_cores.target == pytest.approx(p90 * 1.15)
    # memory: one peak (400 MiB) in the first 24 h interval, bucket end plus 15 %
    assert rec.memory_bytes.target == pytest.approx(bucket_end(MEMORY_BUCKETS, 400 * MIB) * 1.15)


def test_floors_of_25_millicores_and_250_mib():
    rec = _vpa_after([(i * 60.0, 0.002, 20 * MIB) for i in range(60)]).recommend(3600.0)
    assert rec.cpu_cores.target == pytest.approx(0.025)
    assert rec.memory_bytes.target == pytest.approx(250 * MIB)


def test_bounds_use_the_confidence_multipliers():
    # one day of one sample a minute: confidence = 1 day -> upper x 2, lower x (1.001)^-2
    samples = [(i * 60.0, 0.5, 400 * MIB) for i in range(1441)]
    rec = _vpa_after(samples).recommend(DAY)
    end = bucket_end(CPU_BUCKETS, 0.5) * 1.15
    assert rec.cpu_cores.upper == pytest.approx(end * 2.0)
    assert rec.cpu_cores.lower == pytest.approx(end * 1.001**-2)


def test_memory_uses_daily_peaks_of_the_last_eight_days():
    # a 3 GiB spike on day 0, then 10 days at 400 MiB: after 8 intervals the spike is gone
    samples = [(0.0, 0.1, 3 * 2**30)]
    samples += [(d * DAY + 3600.0, 0.1, 400 * MIB) for d in range(11)]
    early = _vpa_after(samples[:3]).recommend(2 * DAY)
    late = _vpa_after(samples).recommend(11 * DAY)
    assert early.memory_bytes.target > 3 * 2**30
    assert late.memory_bytes.target == pytest.approx(bucket_end(MEMORY_BUCKETS, 400 * MIB) * 1.15)


def test_oom_bumps_memory_by_twenty_percent_or_100_mib():
    provisioned = Provisioned(1.0, 1000 * MIB)
    rec = _vpa_after([(i * 60.0, 0.1, 300 * MIB) for i in range(10)], provisioned)
    rec.add_oom(600.0, 1000 * MIB)
    bumped = rec.recommend(700.0).memory_bytes.target
    # used = max(request 1000 MiB, peak 300 MiB); needed = max(1100 MiB, 1200 MiB) = 1200 MiB
    assert bumped == pytest.approx(bucket_end(MEMORY_BUCKETS, 1200 * MIB) * 1.15)
    small = _vpa_after([(0.0, 0.1, 100 * MIB)], Provisioned(1.0, 200 * MIB))
    small.add_oom(60.0, 200 * MIB)
    # 200 MiB x 1.2 = 240 MiB < 200 + 100 MiB: the 100 MiB minimum wins
    assert small.recommend(120.0).memory_bytes.target == pytest.approx(
        bucket_end(MEMORY_BUCKETS, 300 * MIB) * 1.15
    )


def test_no_history_means_no_recommendation():
    assert VpaPolicy().recommender(Provisioned(1.0, MIB)).recommend(0.0) is None
    assert math.isinf(_vpa_after([(0.0, 0.5, MIB)]).recommend(0.0).cpu_cores.upper)
