"""Usage trace files for offline evaluation of the right-sizer: Bitbrains GWA and GenTD26.

Bitbrains (one file per VM, ``;\\t``-separated, 5-minute samples): CPU usage in MHz becomes
cores through the row's MHz per core, memory KB becomes bytes, and the provisioned capacity is
what the VM asked for. GenTD26 (``pod_memory_util_anon.csv``, or the ``.tar.gz`` it ships in):
memory utilisation as a 0-1 share of each container's limit, about one sample a minute; the
limit is not in the trace, so a nominal ``memory_capacity_bytes`` turns shares into bytes.
A file without the columns needed is an error naming the file; a bad row (zero capacity, a
negative value, a timestamp not after the previous one, a value that is not a number) is
skipped, counted and reported as ``file:line: why``, never silently dropped.
"""

from __future__ import annotations

import csv
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.capacity.recommendation import Provisioned
from modelyard.errors import ConfigError

__all__ = ["SkippedRow", "Trace", "TraceError", "TraceSeries", "read_bitbrains", "read_gentd26"]

_BITBRAINS = {
    "at": "Timestamp [ms]",
    "cores": "CPU cores",
    "cpu_capacity": "CPU capacity provisioned [MHZ]",
    "cpu_usage": "CPU usage [MHZ]",
    "mem_capacity": "Memory capacity provisioned [KB]",
    "mem_usage": "Memory usage [KB]",
}
_GENTD26 = {"at": "timestamp_anon", "value": "value", "container": "container_ip"}


class TraceError(ConfigError):
    """A trace file cannot be read at all (missing, or without the columns needed)."""


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row left out of a trace, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(slots=True)
class TraceSeries:
    """One container's samples in time order; ``cpu_cores`` is empty for memory-only traces."""

    container: str
    provisioned: Provisioned
    at: list[float] = field(default_factory=list)
    cpu_cores: list[float] = field(default_factory=list)
    memory_bytes: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Trace:
    """The series read from one or more files, and every row skipped on the way."""

    series: list[TraceSeries] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    rows: int = 0


def _columns(path: Path, header: list[str], wanted: dict[str, str]) -> dict[str, int]:
    names = [h.strip() for h in header]
    missing = [col for col in wanted.values() if col not in names]
    if missing:
        raise TraceError(
            f"{path}:1: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"the header has {', '.join(repr(n) for n in names)}"
        )
    return {key: names.index(col) for key, col in wanted.items()}


def read_bitbrains(paths: list[Path]) -> Trace:
    """One series per Bitbrains VM file (the container is named after the file's stem)."""
    trace = Trace()
    for path in paths:
        lines = _text(path).splitlines()
        if not lines:
            raise TraceError(f"{path}:1: empty file; expected a Bitbrains header")
        cols = _columns(path, lines[0].split(";"), _BITBRAINS)
        series: TraceSeries | None = None
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            trace.rows += 1
            cells = line.split(";")
            try:
                row = {key: float(cells[i]) for key, i in cols.items()}
            except (ValueError, IndexError):
                trace.skipped.append(SkippedRow(str(path), number, "not a number in a column"))
                continue
            reason = _bitbrains_problem(row, series)
            if reason:
                trace.skipped.append(SkippedRow(str(path), number, reason))
                continue
            if series is None:
                series = TraceSeries(
                    path.stem,
                    Provisioned(row["cores"], row["mem_capacity"] * 1024.0),
                )
                trace.series.append(series)
            series.at.append(row["at"])
            series.cpu_cores.append(row["cpu_usage"] * row["cores"] / row["cpu_capacity"])
            series.memory_bytes.append(row["mem_usage"] * 1024.0)
    return trace


def _bitbrains_problem(row: dict[str, float], series: TraceSeries | None) -> str:
    if row["cores"] <= 0 or row["cpu_capacity"] <= 0 or row["mem_capacity"] <= 0:
        return "zero capacity (CPU cores, CPU MHz or memory KB)"
    negative = [k for k in ("cpu_usage", "mem_usage", "at") if row[k] < 0]
    if negative:
        return f"negative value in {', '.join(_BITBRAINS[k] for k in negative)}"
    if series is not None and series.at and row["at"] <= series.at[-1]:
        return f"timestamp {row['at']:.0f} is not after the previous row's {series.at[-1]:.0f}"
    return ""


def read_gentd26(paths: list[Path], memory_capacity_bytes: float) -> Trace:
    """One memory-only series per GenTD26 container, shares scaled by the nominal capacity."""
    trace = Trace()
    by_container: dict[str, TraceSeries] = {}
    for path in paths:
        rows = csv.reader(io.StringIO(_text(path)))
        header = next(rows, None)
        if header is None:
            raise TraceError(f"{path}:1: empty file; expected a GenTD26 header")
        cols = _columns(path, header, _GENTD26)
        for number, cells in enumerate(rows, start=2):
            if not cells:
                continue
            trace.rows += 1
            try:
                at, share = float(cells[cols["at"]]), float(cells[cols["value"]])
                name = cells[cols["container"]]
            except (ValueError, IndexError):
                trace.skipped.append(SkippedRow(str(path), number, "not a number in a column"))
                continue
            series = by_container.get(name)
            if share < 0 or at < 0:
                reason = f"negative value {share!r}" if share < 0 else "negative timestamp"
            elif share > 1:
                reason = f"utilisation {share!r} is above 1 (the trace's shares are 0-1)"
            elif series is not None and at <= series.at[-1]:
                reason = f"timestamp {at:.0f} is not after the previous one of {name}"
            else:
                reason = ""
            if reason:
                trace.skipped.append(SkippedRow(str(path), number, reason))
                continue
            if series is None:
                series = TraceSeries(name, Provisioned(None, memory_capacity_bytes))
                by_container[name] = series
                trace.series.append(series)
            series.at.append(at)
            series.memory_bytes.append(share * memory_capacity_bytes)
    return trace


def _text(path: Path) -> str:
    """The file's text; for a ``.tar.gz``, its one ``.csv`` member's."""
    try:
        if path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as archive:
                member = next(_csv_members(archive), None)
                if member is None:
                    raise TraceError(f"{path}: no .csv file inside the archive")
                extracted = archive.extractfile(member)
                assert extracted is not None
                return extracted.read().decode()
        return path.read_text()
    except (OSError, tarfile.TarError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the trace: {exc}") from exc


def _csv_members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    return (m for m in archive.getmembers() if m.isfile() and m.name.endswith(".csv"))
