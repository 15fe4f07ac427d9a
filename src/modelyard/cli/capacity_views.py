"""The rich views of the capacity commands: tables of advice, replay totals, cost, packing."""

from __future__ import annotations

from typing import Any

from modelyard.cli.output import console


def tune_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="Right-sizing (modelyard policy)")
    for col in (
        "model",
        "cpu now",
        "cpu rec",
        "memory now",
        "memory rec",
        "samples",
        "window",
        "pct",
        "conf",
        "notes",
    ):
        table.add_column(col)
    for row in rows:
        rec = row.get("recommended") or {}
        ev = row["evidence"]
        table.add_row(
            row["model"],
            row["current"]["cpu"],
            str(rec.get("cpu", "-")),
            row["current"]["memory"],
            str(rec.get("memory", "-")),
            str(ev["samples"]),
            f"{ev.get('window_s', 0) / 3600:.1f} h",
            str(ev.get("cpu_percentile", "-")),
            str(ev.get("confidence", "-")),
            "; ".join(ev.get("notes", [])),
        )
    console.print(table)


def replay_table(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"Replay totals ({len(report['containers'])} containers)")
    for col in ("policy", "cpu slack", "cpu under", "memory slack", "memory under"):
        table.add_column(col, justify="right")
    for name, totals in report["totals"].items():
        cpu = totals.get("cpu", {})
        table.add_row(
            name,
            f"{cpu.get('slack', '-')}",
            f"{cpu.get('under', '-')}",
            f"{totals['memory']['slack']}",
            f"{totals['memory']['under']}",
        )
    console.print(table)
    console.print(f"{report['rows']} rows read, {report['skipped']} skipped")
    for line in report["skipped_rows"][:10]:
        console.print(f"  skipped {line}", highlight=False)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}"


_BARS = "▁▂▃▄▅▆▇█"


def _sparkline(values: list[float]) -> str:
    top = max(values) if values else 0.0
    if top <= 0:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(int(v / top * (len(_BARS) - 1)), len(_BARS) - 1)] for v in values)


def cost_table(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"Cost by {report['by']}, {report['days'][0]} to {report['days'][-1]}")
    for col in ("name", "cost", "training", "serving", "waste", "today", "d/d", "w/w", "trend"):
        left = col in ("name", "trend")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for g in report["groups"]:
        table.add_row(
            g["name"],
            f"{g['cost']:.4f}",
            f"{g['training']:.4f}",
            f"{g['serving']:.4f}",
            f"{g['waste']:.0%}",
            f"{g['today']:.4f}",
            _pct(g["day_over_day"]),
            _pct(g["week_over_week"]),
            _sparkline(g["daily"]),
        )
    console.print(table)


def pack_table(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"Packing {report['pods']} pods (expander: {report['expander']})")
    for col in (
        "policy",
        "nodes at peak",
        "node-hours",
        "GPU-hours",
        "GPU fragmentation",
        "unplaced",
    ):
        table.add_column(col, justify="right")
    for name, s in report["policies"].items():
        table.add_row(
            name,
            str(s["nodes_at_peak"]),
            f"{s['node_hours']:,.0f}",
            f"{s['gpu_hours']:,.0f}",
            f"{s['gpu_fragmentation']:.2%}",
            str(s["unplaced"]),
        )
    console.print(table)
