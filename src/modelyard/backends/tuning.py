"""``tune``: right-sizing advice for a workspace's models from their backend's usage history
and memory kills, and (``write``) the edit of ``deploy.yaml`` it may make (see
``capacity/guard.py`` for what it may write). ``modelyard tune`` and ``modelyard.tune()`` both
call :func:`tune_models`."""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.backends.backend import Backend
from modelyard.config import ModelEntry, Workspace
from modelyard.errors import Unavailable


@dataclass(frozen=True)
class TuneAdvice:
    """One model's right-sizing: the JSON row ``tune --json`` prints, and the diff written."""

    model_id: str
    row: dict[str, Any]
    """current, recommended, write, history, cpu/memory bounds and evidence."""
    diff: str = ""
    """The unified diff of ``deploy.yaml`` when ``write`` changed it."""


def memory_kills(backend: Backend, model_id: str, since: float) -> list[float]:
    """When the model's server was killed for memory (the backend's events)."""
    events = backend.events(model_id, since=since)
    return [e.at for e in events if e.kind == "server_exited" and e.detail.get("memory")]


def refuse_short_history(rows: Sequence[dict[str, Any]]) -> None:
    """Refuse (changing nothing) when a request would be lowered on too little history."""
    from modelyard.capacity.guard import MAX_SAMPLE_GAP_S, MIN_HISTORY_S, describe_wait

    short = [r for r in rows if r["write"] and r["write"]["lowers"] and r["history"]["needed_s"]]
    if not short:
        return
    lines = [
        f"{r['model']}: {r['history']['samples']} samples over "
        f"{describe_wait(r['history']['span_s'])}; about {describe_wait(r['history']['needed_s'])}"
        " more"
        for r in short
    ]
    raise Unavailable(
        "tune --write lowers a request only on "
        f"{describe_wait(MIN_HISTORY_S)} of usage history with a sample at least every "
        f"{describe_wait(MAX_SAMPLE_GAP_S)}: " + "; ".join(lines) + ". Nothing was written; "
        "run it again later, or pass --force to write anyway",
        retry_after=max(r["history"]["needed_s"] for r in short),
    )


def write_advice(entry: ModelEntry, row: dict[str, Any]) -> str:
    """Edit ``deploy.yaml``'s requests as ``row['write']`` says (temp file + rename); the diff."""
    from modelyard.capacity import edit_resources

    rec = row.get("write")
    if not rec or (rec["cpu"] is None and rec["memory"] is None):
        return ""
    path = entry.dir / "deploy.yaml"
    before = path.read_text() if path.exists() else ""
    after = edit_resources(before, rec["cpu"], rec["memory"], path=str(path))
    if after == before:
        return ""
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(after)
    tmp.replace(path)
    return "".join(
        difflib.unified_diff(before.splitlines(True), after.splitlines(True), str(path), str(path))
    )


def tune_models(
    workspace: Workspace,
    backend: Backend,
    model_ids: Sequence[str] = (),
    *,
    write: bool = False,
    force: bool = False,
    now: float | None = None,
) -> list[TuneAdvice]:
    """Advice for ``model_ids`` (every model when empty); with ``write``, applied."""
    from modelyard.capacity.advice import WEEK_S, tune_row
    from modelyard.observe.usage import serving_subject

    at = time.time() if now is None else now
    entries = [workspace.model(i) for i in model_ids or sorted(workspace.models)]
    rows = []
    for entry in entries:
        subject = serving_subject(entry.id)
        samples = [s for s in backend.usage(entry.id, since=at - WEEK_S) if s.subject == subject]
        kills = memory_kills(backend, entry.id, at - WEEK_S)
        rows.append(tune_row(entry, samples, at, kills))
    if write and not force:
        refuse_short_history(rows)
    return [
        TuneAdvice(entry.id, row, write_advice(entry, row) if write else "")
        for entry, row in zip(entries, rows, strict=True)
    ]
