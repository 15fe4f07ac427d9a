"""Trace readers: bad rows are counted and reported with file and line; the real traces read."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.capacity import ModelyardPolicy, StaticPolicy, VpaPolicy, replay_trace
from modelyard.capacity.traces import TraceError, read_bitbrains, read_gentd26

HEADER = (
    "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
    "CPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB]"
)
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "traces"


def _bitbrains(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "7.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_bitbrains_rows_become_cores_and_bytes(tmp_path):
    path = _bitbrains(tmp_path, ["300;\t4;\t8000;\t1000;\t12.5;\t1048576;\t524288"])
    trace = read_bitbrains([path])
    (series,) = trace.series
    assert series.container == "7"
    assert series.cpu_cores == [0.5]  # 1000 MHz at 2000 MHz per core
    assert series.memory_bytes == [524288 * 1024]
    assert series.provisioned.cpu_cores == 4
    assert series.provisioned.memory_bytes == 2**30


def test_bad_rows_are_skipped_counted_and_located(tmp_path):
    path = _bitbrains(
        tmp_path,
        [
            "300;\t4;\t8000;\t1000;\t12.5;\t1048576;\t524288",
            "600;\t0;\t0;\t0;\t0;\t1048576;\t524288",  # zero capacity
            "900;\t4;\t8000;\t-5;\t0;\t1048576;\t524288",  # negative usage
            "600;\t4;\t8000;\t1000;\t12.5;\t1048576;\t524288",  # fine
            "450;\t4;\t8000;\t1000;\t12.5;\t1048576;\t524288",  # before 600: unsorted
            "1200;\t4;\tabc;\t1000;\t12.5;\t1048576;\t524288",  # not a number
        ],
    )
    trace = read_bitbrains([path])
    reasons = {s.line: s.reason for s in trace.skipped}
    assert trace.rows == 6
    assert len(trace.series[0].at) == 2
    assert set(reasons) == {3, 4, 6, 7}
    assert "zero capacity" in reasons[3]
    assert "negative" in reasons[4]
    assert "not after" in reasons[6]
    assert "not a number" in reasons[7]
    assert str(trace.skipped[0]).startswith(f"{path}:3: ")


def test_missing_columns_name_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Timestamp [ms];\tCPU cores\n1;\t2\n")
    with pytest.raises(TraceError, match=r"bad\.csv:1: missing column.*CPU usage \[MHZ\]"):
        read_bitbrains([path])
    gentd = tmp_path / "g.csv"
    gentd.write_text("value,timestamp_anon\n0.5,1\n")
    with pytest.raises(TraceError, match=r"g\.csv:1: missing column.*container_ip"):
        read_gentd26([gentd], 2**30)


def test_gentd26_shares_scale_to_the_nominal_limit(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "value,timestamp_anon,container_ip\n0.5,60,a\n-0.1,120,a\n0.25,60,a\n0.75,120,a\n"
    )
    trace = read_gentd26([path], 2**30)
    assert trace.series[0].memory_bytes == [2**29, 0.75 * 2**30]
    assert [s.line for s in trace.skipped] == [3, 4]


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/traces")
def test_real_bitbrains_subset_modelyard_below_vpa_on_slack():
    files = sorted((SHARED / "bitbrains-rnd-2013-8").glob("*.csv"))[:2]
    trace = read_bitbrains(files)
    for series in trace.series:  # the first four days keep it quick
        cut = next((i for i, at in enumerate(series.at) if at > series.at[0] + 4 * 86400), None)
        del series.at[cut:], series.cpu_cores[cut:], series.memory_bytes[cut:]
    totals = replay_trace(trace, [ModelyardPolicy(), VpaPolicy(), StaticPolicy()])["totals"]
    assert totals["modelyard"]["cpu"]["slack"] < totals["vpa"]["cpu"]["slack"]
    assert totals["modelyard"]["cpu"]["slack"] < totals["static"]["cpu"]["slack"]
