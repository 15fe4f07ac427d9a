"""What the console shows, read through the Backend seam and the registry, as plain records.

Nothing here renders HTML or knows about HTTP: :class:`ConsoleData` asks the
:class:`~modelyard.backends.Backend` (status, history, usage), the
:class:`~modelyard.registry.Registry` (versions, their gate and evaluation tags) and
:mod:`modelyard.capacity` (right-sizing, cost per team) and hands dicts to the pages. It works
the same on the local and the Kubernetes backend, and on the shipped in-memory doubles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from modelyard.backends import Backend, Command
from modelyard.config import ModelEntry, Workspace, parse_model_id
from modelyard.observe.usage import UsageSample, serving_subject

if TYPE_CHECKING:
    from modelyard.registry import ModelVersion

COST_DAYS = 14
"""Days of cost history the console plots."""
ACTIONS: tuple[str, ...] = ("promote", "abort", "rollback")
"""What a POST may ask for (with the admin token)."""


class VersionSource(Protocol):
    """The registry's one call the console needs (a test may pass a double)."""

    def versions(self, name: str) -> list[ModelVersion]: ...


@dataclass(frozen=True)
class Links:
    """Where the MLflow UI and Grafana are (None: no link is shown)."""

    mlflow: str | None = None
    grafana: str | None = None


@dataclass
class ConsoleData:
    """The console's view of one workspace."""

    workspace: Workspace
    backend: Backend
    registry: VersionSource
    links: Links = field(default_factory=Links)
    clock: Callable[[], float] = time.time
    experiment_of: Callable[[str], str | None] = lambda _model: None
    """Model id -> its MLflow experiment id, for run links."""
    pools: Callable[[], list[dict[str, Any]]] = lambda: []
    """The pool servers' admin views (``backends.local.pools.views``): loaded models, their
    measured memory and evictions; none where the backend runs no pools."""

    def entry(self, model_id: str) -> ModelEntry:
        """The model, or ConfigError for a malformed id, NotFound for an unknown one."""
        return self.workspace.model(parse_model_id(model_id))

    def models(self) -> list[dict[str, Any]]:
        """Every model with its owner, state and what serves it."""
        rows = []
        for model_id, entry in sorted(self.workspace.models.items()):
            status = self.backend.status(model_id)
            rows.append({**_owner(entry), "serving": status.serving, "phase": status.phase})
        return rows

    def versions(self, model_id: str) -> list[dict[str, Any]]:
        """Registered versions, newest first, with gate and evaluation figures when present."""
        from modelyard.evaluation.evaluate import evaluation_tags
        from modelyard.evaluation.gate import GATE_TAG

        found = self.registry.versions(model_id)
        experiment = self.experiment_of(model_id) if found else None
        rows = []
        for mv in sorted(found, key=lambda v: v.version, reverse=True):
            rows.append(
                {
                    "version": mv.version,
                    "created": mv.created,
                    "aliases": list(mv.aliases),
                    "gate": mv.tags.get(GATE_TAG),
                    "evaluation": evaluation_tags(mv.tags),
                    "sha256": mv.sha256,
                    "run_id": mv.run_id,
                    "run_url": self._run_url(experiment, mv.run_id),
                }
            )
        return rows

    def _run_url(self, experiment: str | None, run_id: str | None) -> str | None:
        if not (self.links.mlflow and experiment and run_id):
            return None
        return f"{self.links.mlflow.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}"

    def deployment(self, model_id: str) -> dict[str, Any]:
        """Serving version, rollout phase and weights, the last analysis and its checks."""
        status = self.backend.status(model_id)
        state = getattr(status.detail, "state", None)
        checks = [c.to_dict() for c in getattr(state, "last_checks", ())]
        outcome = getattr(state, "outcome", None)
        return {
            "serving": status.serving,
            "canary": status.canary,
            "canary_share": status.canary_share,
            "rollout_version": status.rollout_version,
            "phase": status.phase,
            "step": status.step,
            "steps": list(getattr(getattr(state, "plan", None), "steps", ())),
            "paused": status.paused,
            "finished": status.finished,
            "checks": checks,
            "outcome": outcome.to_dict() if outcome is not None else None,
        }

    def history(self, model_id: str) -> list[dict[str, Any]]:
        """Revisions, newest first: version, who, when, outcome, reason."""
        revisions = sorted(self.backend.history(model_id), key=lambda r: -r.revision)
        return [
            {
                "revision": r.revision,
                "version": r.version,
                "by": r.created_by,
                "at": r.created_at,
                "outcome": r.outcome,
                "reason": r.reason,
            }
            for r in revisions
        ]

    def logs(
        self, model_id: str, run_id: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """``modelyard logs`` for a page: a run's log, or the servers' logs and every event."""
        from modelyard.backends.model_logs import model_logs

        self.entry(model_id)
        if run_id is not None or version is not None:
            found = model_logs(self.backend, self.workspace, model_id, run_id=run_id,
                               version=version)  # fmt: skip
            events = []
        else:
            found = model_logs(self.backend, self.workspace, model_id, server=True)
            events = self.backend.events(model_id)
        return {
            "logs": [{"source": log.source, "text": log.text} for log in found.logs],
            "events": [{"at": e.at, "message": e.message} for e in events],
        }

    def usage(self, model_id: str, days: float = 7.0) -> list[UsageSample]:
        """The model's server samples of the last ``days``, oldest first."""
        since = self.clock() - days * 86400
        subject = serving_subject(model_id)
        return [s for s in self.backend.usage(model_id, since=since) if s.subject == subject]

    def recommendation(self, entry: ModelEntry) -> dict[str, Any]:
        """Right-sizing advice for the model's server (``modelyard tune``'s row)."""
        from modelyard.capacity.advice import tune_row

        return tune_row(entry, self.usage(entry.id), self.clock())

    def cost(self) -> dict[str, Any]:
        """Daily cost per team over :data:`COST_DAYS` (``modelyard cost``'s report)."""
        from modelyard.capacity import cost_report
        from modelyard.capacity.advice import cost_lines

        now = self.clock()
        since = now - COST_DAYS * 86400

        def usage(subject: str) -> list[UsageSample]:
            model_id = subject.partition(":")[2]
            samples = self.backend.usage(model_id, since=since)
            return [s for s in samples if s.subject == subject]

        lines = cost_lines(self.workspace.models.values(), usage)
        prices = self.workspace.settings.prices
        return cost_report(lines, prices, by="team", days=COST_DAYS, now=now)

    def dashboards(self, model_id: str | None = None) -> list[tuple[str, str]]:
        """(title, URL) of the Grafana dashboards: a model's, or the overview and teams'."""
        from modelyard.observe.panels import workspace_dashboards

        if not self.links.grafana:
            return []
        base = self.links.grafana.rstrip("/")
        specs = workspace_dashboards(self.workspace)
        if model_id is None:
            wanted = [s for s in specs if not s.uid.startswith("modelyard-model-")]
        else:
            wanted = [s for s in specs if s.uid == f"modelyard-model-{model_id}"]
        return [(s.title, f"{base}/d/{s.uid}") for s in wanted]

    def act(self, model_id: str, action: str, by: str) -> dict[str, Any]:
        """Promote, abort or roll back; ConfigError for another action."""
        from modelyard.errors import ConfigError

        self.entry(model_id)
        if action not in ACTIONS:
            raise ConfigError(f"unknown action {action!r}: choose one of {', '.join(ACTIONS)}")
        if action == "rollback":
            done = self.backend.rollback(model_id, by=by)
            return {"action": action, "version": done.version, "revision": done.revision}
        command: Command = "promote" if action == "promote" else "abort"
        status = self.backend.rollout(model_id, command, by=by)
        return {"action": action, "serving": status.serving, "phase": status.phase}


def _owner(entry: ModelEntry) -> dict[str, Any]:
    spec = entry.spec
    return {"id": entry.id, "team": spec.owner.team, "dri": spec.owner.dri, "state": spec.state}
