"""Rich renderings of local-backend state shared by the CLI and the demo."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from modelyard.rollout import CheckResult


def checks_table(checks: Sequence[CheckResult], title: str = "last analysis") -> Table:
    """The rollout's analysis checks: value, threshold, requests seen/needed, verdict."""
    table = Table(title=title, title_justify="left")
    for column in ("check", "value", "threshold", "requests", "verdict"):
        table.add_column(column)
    for check in checks:
        value = "n/a" if check.value is None else f"{check.value:.4f}"
        colour = {"passed": "green", "failed": "red"}.get(check.verdict.value, "yellow")
        table.add_row(
            check.name,
            value,
            f"{check.threshold:g}",
            f"{check.observed_requests}/{check.min_requests}",
            f"[{colour}]{check.verdict.value}[/]",
        )
    return table
