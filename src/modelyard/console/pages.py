"""The console's HTML, rendered on the server: the models page, one page per model, its logs.

Markup lives in Jinja2 templates (``templates/``) with autoescape on, so every value that came
from a user (ids, owners, reasons, versions, log text) is escaped by the engine rather than by
a call each page must remember; these functions only gather the values. The one script posts
an action with the admin token the user types; the token is never stored.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from modelyard.console.data import ACTIONS, ConsoleData
from modelyard.console.plots import bar_plot, line_plot


def cell(value: Any) -> Any:
    """A value as shown in a cell: ``-`` for None or empty (the template escapes it)."""
    return "-" if value is None or value == "" else value


def when(at: float | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _figure(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else cell(value)


@cache
def environment() -> Environment:
    """The templates, autoescaped; a name a template misspells fails the page, never renders
    as blank (StrictUndefined)."""
    env = Environment(
        loader=PackageLoader("modelyard.console", "templates"),
        autoescape=True,  # every template here is HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        cell=cell,
        when=when,
        figure=_figure,
        share=lambda v: f"{v:.0%}",
        px=lambda v: f"{v:.1f}",
        plan_step=lambda w: f"{w:g}%",
    )
    return env


def _render(template: str, title: str, data: ConsoleData, **context: Any) -> str:
    nav = data.dashboards()
    page = environment().get_template(template)
    return page.render(title=title, nav=nav, mlflow=data.links.mlflow, **context)


def index_page(data: ConsoleData) -> str:
    """Every model, then cost per team and per day."""
    cost = data.cost()
    totals = [sum(g["daily"][i] for g in cost["groups"]) for i in range(len(cost["days"]))]
    return _render(
        "index.html",
        "models",
        data,
        models=data.models(),
        pools=data.pools(),
        cost=cost,
        cost_plot=bar_plot("cost per day", cost["days"], totals, "per day"),
    )


def model_page(data: ConsoleData, model_id: str) -> str:
    """One model: owner, versions, deployment and analysis, history, usage, right-sizing."""
    entry = data.entry(model_id)
    samples = data.usage(model_id)
    rec = data.recommendation(entry)
    advice = rec.get("recommended") or {}
    evidence = rec.get("evidence", {})
    return _render(
        "model.html",
        model_id,
        data,
        model_id=model_id,
        owner=entry.spec.owner,
        state=entry.spec.state,
        model_dashboards=data.dashboards(model_id),
        dep=data.deployment(model_id),
        actions=ACTIONS,
        history=data.history(model_id),
        versions=data.versions(model_id),
        usage={
            "samples": len(samples),
            "cpu": line_plot("CPU, cores", [(s.at, s.cpu_cores) for s in samples], "cores"),
            "memory": line_plot(
                "memory, MiB", [(s.at, s.memory_bytes / 2**20) for s in samples], "MiB"
            ),
        },
        rec=rec,
        advice={"cpu": advice.get("cpu"), "memory": advice.get("memory")},
        evidence={
            "samples": evidence.get("samples"),
            "confidence": evidence.get("confidence"),
            "notes": evidence.get("notes", []),
        },
    )


def logs_page(data: ConsoleData, model_id: str, run_id: str | None, version: str | None) -> str:
    """``modelyard logs`` in the browser: a run's log, or the servers' logs and the events."""
    from modelyard.errors import ConfigError

    if version is not None and not version.isdigit():
        raise ConfigError(f"version {version[:40]!r} is not a version number")
    found = data.logs(model_id, run_id, int(version) if version else None)
    return _render("logs.html", f"{model_id} logs", data, model_id=model_id, **found)


def error_page(data: ConsoleData, code: int, message: str) -> str:
    """The page of a refused request: its status and what the error says to do."""
    return _render("error.html", "error", data, code=code, message=message)
