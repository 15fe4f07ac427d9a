"""The console's HTML, rendered on the server: the models page and one page per model.

Every value that came from a user (ids, owners, reasons, versions) passes through
:func:`html.escape` in :func:`cell`; the only markup that is not escaped is built here. The
one script posts an action with the admin token the user types; the token is never stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from modelyard.console.data import ACTIONS, ConsoleData
from modelyard.console.plots import bar_plot, line_plot

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 2rem 2rem;color:#1d2330;max-width:72rem}
header{display:flex;gap:1.5rem;align-items:baseline;border-bottom:1px solid #ccd;margin-bottom:1rem}
header a{color:#345}h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{padding:.25rem .7rem;text-align:left;
border-bottom:1px solid #e3e6ee;vertical-align:top}th{background:#f3f5f9}
.rolled_back,.failed,.fail{color:#b42318;font-weight:600}
.active,.passed,.pass,.promoted{color:#067647}
.plot .axis{stroke:#99a}.plot .series{fill:none;stroke:#2e62d9;stroke-width:1.5}
.plot .bar{fill:#7a5af8}.plot text{font-size:10px;fill:#556}.empty{color:#778}
.grid{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{color:#556}
button{margin-right:.4rem}#result{color:#345}
"""

SCRIPT = """
document.querySelectorAll('button[data-action]').forEach(function (b) {
  b.addEventListener('click', async function () {
    var token = window.prompt('Admin token for ' + b.dataset.action);
    if (!token) { return; }
    var reply = await fetch(b.dataset.url, {method: 'POST',
      headers: {'Authorization': 'Bearer ' + token}});
    var body = await reply.json();
    document.getElementById('result').textContent =
      reply.status + ': ' + (body.error || JSON.stringify(body));
    if (reply.ok) { setTimeout(function () { location.reload(); }, 600); }
  });
});
"""


def cell(value: Any) -> str:
    """A value as escaped text (``-`` for None)."""
    return "-" if value is None or value == "" else escape(str(value))


def when(at: float | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(head: Sequence[str], rows: Iterable[Sequence[str]], empty: str = "none yet") -> str:
    """A table of cells that are already markup (escape them with :func:`cell`)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{escape(empty)}</p>'
    heads = "".join(f"<th>{escape(h)}</th>" for h in head)
    thead = f"<thead><tr>{heads}</tr></thead>" if any(head) else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def link(url: str | None, text: str) -> str:
    return f'<a href="{escape(url)}">{escape(text)}</a>' if url else escape(text)


def layout(title: str, body: str, data: ConsoleData) -> str:
    links = [link("/", "models")]
    links += [link(url, name) for name, url in data.dashboards()]
    if data.links.mlflow:
        links.append(link(data.links.mlflow, "MLflow"))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · modelyard</title><style>{STYLE}</style></head><body>"
        f"<header><h1>modelyard</h1>{' '.join(links)}</header>{body}"
        f"<script>{SCRIPT}</script></body></html>"
    )


def _figure(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else cell(value)


def _marked(value: str | None) -> str:
    return f'<span class="{escape(str(value))}">{cell(value)}</span>'


def index_page(data: ConsoleData) -> str:
    """Every model, then cost per team and per day."""
    rows = [
        [
            link(f"/models/{m['id']}", m["id"]),
            cell(m["team"]),
            cell(m["dri"]),
            cell(m["state"]),
            cell(m["serving"]),
            _marked(m["phase"]),
        ]
        for m in data.models()
    ]
    body = "<h2>Models</h2>" + table(
        ["model", "team", "DRI", "state", "serving", "rollout"], rows, "no model in this workspace"
    )
    return layout("models", body + _pools_section(data.pools()) + _cost_section(data.cost()), data)


def _pools_section(pools: list[dict[str, Any]]) -> str:
    """Each running pool: which models are loaded, their measured memory, evictions."""
    parts = []
    for view in pools:
        if not view.get("running"):
            parts.append(f"<h2>Pool {cell(view['pool'])}</h2><p>not running</p>")
            continue
        rows = [
            [
                cell(m["model"]),
                "yes" if m["loaded"] else "no",
                "yes" if m["pinned"] else "",
                cell(m["version"] or "-"),
                f"{m['memory_bytes'] / 2**20:.1f}" if m["loads"] else "-",
                str(m["evictions"]),
            ]
            for m in view["models"]
        ]
        title = (
            f"<h2>Pool {cell(view['pool'])}: {view['loaded']} loaded, "
            f"{view['memory_used_bytes'] / 2**20:.0f} of {view['memory_budget_bytes'] / 2**20:.0f}"
            f" MiB measured, {view['evictions']} evictions</h2>"
        )
        parts.append(
            title + table(["model", "loaded", "pinned", "version", "MiB", "evictions"], rows)
        )
    return "".join(parts)


def _cost_section(report: dict[str, Any]) -> str:
    groups = report["groups"]
    rows = [
        [
            cell(g["name"]),
            f"{g['cost']:.4f}",
            f"{g['serving']:.4f}",
            f"{g['training']:.4f}",
            f"{g['waste']:.0%}",
        ]
        for g in groups
    ]
    days = report["days"]
    totals = [sum(g["daily"][i] for g in groups) for i in range(len(days))]
    return (
        f"<h2>Cost per team (last {len(days)} days, requested)</h2>"
        + table(["team", "cost", "serving", "training", "waste"], rows, "no usage recorded yet")
        + f"<figure>{bar_plot('cost per day', days, totals, 'per day')}"
        + "<figcaption>cost per day, every team</figcaption></figure>"
    )


def model_page(data: ConsoleData, model_id: str) -> str:
    """One model: owner, versions, deployment and analysis, history, usage, right-sizing."""
    entry = data.entry(model_id)
    spec = entry.spec
    dep = data.deployment(model_id)
    owner = f"<p>team {cell(spec.owner.team)} · DRI {cell(spec.owner.dri)} · "
    owner += f"state {cell(spec.state)}</p>"
    body = f"<h2>{cell(model_id)}</h2>{owner}"
    body += "".join(
        f"<p>{link(url, 'Grafana: ' + name)}</p>" for name, url in data.dashboards(model_id)
    )
    body += f"<p>{link(f'/models/{model_id}/logs', 'Logs and events')}</p>"
    body += _deployment_section(model_id, dep)
    body += "<h2>History</h2>" + table(
        ["revision", "version", "by", "at", "outcome", "reason"],
        (
            [
                cell(r["revision"]),
                cell(r["version"]),
                cell(r["by"]),
                when(r["at"]),
                _marked(r["outcome"]),
                cell(r["reason"]),
            ]
            for r in data.history(model_id)
        ),
        "never deployed",
    )
    body += _versions_section(model_id, data.versions(model_id))
    body += _usage_section(data, model_id)
    return layout(model_id, body, data)


def _deployment_section(model_id: str, dep: dict[str, Any]) -> str:
    weights = f"{1 - dep['canary_share']:.0%} to {cell(dep['serving'])}"
    if dep["canary"]:
        weights += f", {dep['canary_share']:.0%} to canary {cell(dep['canary'])}"
    steps = " ".join(f"{w:g}%" for w in dep["steps"]) or "-"
    rows = [
        ["serving version", f'<strong id="serving">{cell(dep["serving"])}</strong>'],
        ["weights", weights if dep["serving"] else "-"],
        [
            "latest rollout",
            f"version {cell(dep['rollout_version'])}: {_marked(dep['phase'])}"
            + (f", step {cell(dep['step'])}" if dep["step"] else "")
            + (" (paused)" if dep["paused"] else ""),
        ],
        ["plan", steps],
    ]
    outcome = dep["outcome"]
    if outcome:
        rows.append(["outcome", f"{cell(outcome['reason'])} (by {cell(outcome['by'])})"])
    checks = [
        [
            cell(c["name"]),
            _figure(c["value"]),
            _figure(c["threshold"]),
            _marked(c["verdict"]),
            f"{cell(c['observed_requests'])} / {cell(c['min_requests'])}",
        ]
        for c in dep["checks"]
    ]
    buttons = "".join(
        f'<button data-action="{a}" data-url="/models/{escape(model_id)}/{a}">{a}</button>'
        for a in ACTIONS
    )
    return (
        "<h2>Deployment</h2>"
        + table(["", ""], rows)
        + "<h2>Last analysis</h2>"
        + table(
            ["check", "value", "threshold", "verdict", "requests / needed"],
            checks,
            "no analysis yet",
        )
        + f'<p>{buttons}<span id="result"></span></p>'
    )


def _run_cells(model_id: str, v: dict[str, Any]) -> str:
    """The version's MLflow run, and its training log (``modelyard logs --version``)."""
    run = link(v["run_url"], (v["run_id"] or "-")[:12])
    if not v["run_id"]:
        return run
    return run + " · " + link(f"/models/{model_id}/logs?version={v['version']}", "log")


def logs_page(data: ConsoleData, model_id: str, run_id: str | None, version: str | None) -> str:
    """``modelyard logs`` in the browser: a run's log, or the servers' logs and the events."""
    from modelyard.errors import ConfigError

    if version is not None and not version.isdigit():
        raise ConfigError(f"version {version[:40]!r} is not a version number")
    found = data.logs(model_id, run_id, int(version) if version else None)
    body = f"<h2>{link(f'/models/{model_id}', model_id)}: logs and events</h2>"
    for log in found["logs"]:
        body += f"<h3>{cell(log['source'])}</h3><pre>{escape(log['text']) or '(empty)'}</pre>"
    if found["events"] or not found["logs"]:
        body += "<h2>Events</h2>" + table(
            ["at", "event"],
            ([when(e["at"]), cell(e["message"])] for e in reversed(found["events"])),
            "no events yet",
        )
    return layout(f"{model_id} logs", body, data)


def _versions_section(model_id: str, versions: list[dict[str, Any]]) -> str:
    rows = []
    for v in versions:
        figures = ", ".join(f"{cell(k)} {cell(x)}" for k, x in sorted(v["evaluation"].items()))
        rows.append(
            [
                cell(v["version"]),
                when(v["created"]),
                cell(", ".join(v["aliases"])),
                _marked(v["gate"]),
                figures or "-",
                _run_cells(model_id, v),
                cell(v["sha256"][:12]),
            ]
        )
    head = ["version", "registered", "aliases", "gate", "evaluation", "MLflow run", "sha256"]
    return "<h2>Registered versions</h2>" + table(head, rows, "no registered version")


def _usage_section(data: ConsoleData, model_id: str) -> str:
    samples = data.usage(model_id)
    cpu = line_plot("CPU, cores", [(s.at, s.cpu_cores) for s in samples], "cores")
    memory = line_plot("memory, MiB", [(s.at, s.memory_bytes / 2**20) for s in samples], "MiB")
    rec = data.recommendation(data.entry(model_id))
    advice = rec.get("recommended") or {}
    evidence = rec.get("evidence", {})
    rows = [
        ["CPU", cell(rec["current"]["cpu"]), cell(advice.get("cpu"))],
        ["memory", cell(rec["current"]["memory"]), cell(advice.get("memory"))],
    ]
    notes = "; ".join(evidence.get("notes", []))
    return (
        f"<h2>Usage of the server (last 7 days, {len(samples)} samples)</h2>"
        f'<div class="grid"><figure>{cpu}<figcaption>CPU, cores</figcaption></figure>'
        f"<figure>{memory}<figcaption>memory, MiB</figcaption></figure></div>"
        "<h2>Right-sizing</h2>"
        + table(["", "requested", "recommended"], rows)
        + f"<p>samples {cell(evidence.get('samples'))}, confidence "
        f"{cell(evidence.get('confidence'))}{'; ' + cell(notes) if notes else ''}</p>"
    )
