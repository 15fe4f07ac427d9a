"""An in-memory :class:`~modelyard.backends.backend.Backend`: the seam with no process,
cluster or registry, for tests of what is built on top (capacity, dashboards, pipelines).

It keeps revisions like the real backends do (first deploy active, later ones pending until
promoted, rollback to the previous active one) and serves the usage samples a test gives it.
Versions are taken as given: nothing is trained or fetched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from modelyard.backends.backend import (
    BackendName,
    Command,
    DeploymentEvent,
    DeployResult,
    LogText,
    Revision,
    RevisionOutcome,
    RollbackResult,
    RolloutStatus,
    TrainRun,
)
from modelyard.errors import Conflict, NotFound
from modelyard.observe.usage import UsageSample

if TYPE_CHECKING:
    from modelyard.jobs import LineSink


@dataclass
class InMemoryBackend:
    """Revisions and usage in dicts; ``production`` mirrors the registry alias."""

    name: BackendName = "local"
    clock: Callable[[], float] = time.time
    revisions: dict[str, list[Revision]] = field(default_factory=dict)
    samples: list[UsageSample] = field(default_factory=list)
    production: dict[str, str] = field(default_factory=dict)
    paused: dict[str, bool] = field(default_factory=dict)
    trained: dict[str, int] = field(default_factory=dict)
    event_log: dict[str, list[DeploymentEvent]] = field(default_factory=dict)
    """Events per model beyond the revisions' (a test adds restarts here)."""
    log_texts: dict[str, list[LogText]] = field(default_factory=dict)
    """Server logs per model, and run logs under ``run:<id>``."""

    def _revs(self, model_id: str) -> list[Revision]:
        return self.revisions.setdefault(model_id, [])

    def _find(self, model_id: str, outcome: RevisionOutcome) -> Revision | None:
        return next((r for r in reversed(self._revs(model_id)) if r.outcome == outcome), None)

    def _set(self, model_id: str, number: int, outcome: RevisionOutcome, why: str = "") -> None:
        revs = self._revs(model_id)
        for i, rev in enumerate(revs):
            if rev.revision == number:
                revs[i] = replace(rev, outcome=outcome, reason=why or rev.reason)

    def _add(self, model_id: str, version: str, outcome: RevisionOutcome, by: str) -> Revision:
        revs = self._revs(model_id)
        made = Revision(model_id, len(revs) + 1, version, by, self.clock(), outcome)
        revs.append(made)
        return made

    def _activate(self, model_id: str, made: Revision) -> None:
        for rev in self._revs(model_id):
            if rev.outcome == "active" and rev.revision != made.revision:
                self._set(model_id, rev.revision, "superseded")
        self._set(model_id, made.revision, "active")
        self.production[model_id] = made.version

    def train(
        self, model_id: str, params: Sequence[str] = (), *, on_line: LineSink | None = None
    ) -> TrainRun:
        self.trained[model_id] = self.trained.get(model_id, 0) + 1
        return TrainRun(model_id, self.name)

    def deploy(
        self, model_id: str, version: int | None = None, *, by: str = "", dry_run: bool = False
    ) -> DeployResult:
        number = str(version if version is not None else self.trained.get(model_id, 1))
        active, pending = self._find(model_id, "active"), self._find(model_id, "pending")
        if dry_run:
            return DeployResult(model_id, number, None, "planned", None)
        if active is not None and active.version == number:
            return DeployResult(model_id, number, active.revision, "unchanged", None)
        if pending is not None:
            raise Conflict(f"a rollout of {model_id} version {pending.version} is in progress")
        if active is None:
            made = self._add(model_id, number, "active", by)
            self._activate(model_id, made)
            return DeployResult(model_id, number, made.revision, "started", None)
        made = self._add(model_id, number, "pending", by)
        return DeployResult(model_id, number, made.revision, "rollout", None)

    def up(self) -> list[DeployResult]:
        return []

    def down(self, model_ids: Sequence[str] | None = None) -> list[str]:
        return sorted(model_ids or self.revisions)

    def rollout(self, model_id: str, command: Command, *, by: str = "") -> RolloutStatus:
        pending = self._find(model_id, "pending")
        if pending is None:
            raise NotFound(f"model {model_id!r} has no rollout in progress")
        if command == "promote":
            self._activate(model_id, pending)
        elif command == "abort":
            self._set(model_id, pending.revision, "aborted", f"aborted by {by or 'a user'}")
        else:
            self.paused[model_id] = command == "pause"
        return self.status(model_id)

    def rollback(self, model_id: str, *, by: str = "") -> RollbackResult:
        active, pending = self._find(model_id, "active"), self._find(model_id, "pending")
        if active is not None and pending is not None:
            self._set(model_id, pending.revision, "rolled_back", "rollback during its rollout")
            return RollbackResult(model_id, active.version, active.revision, pending.revision, True)
        previous = self._find(model_id, "superseded")
        if active is None or previous is None:
            raise NotFound(f"model {model_id!r} has no earlier revision that served")
        made = self._add(model_id, previous.version, "active", by)
        self._set(model_id, active.revision, "rolled_back", "rollback")
        self._activate(model_id, made)
        return RollbackResult(model_id, previous.version, made.revision, active.revision, False)

    def status(self, model_id: str) -> RolloutStatus:
        active, pending = self._find(model_id, "active"), self._find(model_id, "pending")
        revs = self._revs(model_id)
        return RolloutStatus(
            model_id,
            self.name,
            serving=active.version if active else None,
            canary=pending.version if pending else None,
            rollout_version=revs[-1].version if revs else None,
            phase="canary" if pending else (revs[-1].outcome if revs else None),
            paused=self.paused.get(model_id, False) if pending else False,
            finished=pending is None,
        )

    def history(self, model_id: str) -> list[Revision]:
        return list(self._revs(model_id))

    def usage(self, model_id: str, *, since: float | None = None) -> list[UsageSample]:
        subjects = {f"server:{model_id}", f"train:{model_id}"}
        return sorted(
            (s for s in self.samples if s.subject in subjects and (since is None or s.at >= since)),
            key=lambda s: s.at,
        )

    def events(self, model_id: str, *, since: float | None = None) -> list[DeploymentEvent]:
        found = [
            DeploymentEvent(r.created_at, f"revision_{r.outcome}", f"revision {r.revision}", {})
            for r in self._revs(model_id)
        ]
        found.extend(self.event_log.get(model_id, []))
        found.sort(key=lambda e: e.at)
        return [e for e in found if since is None or e.at >= since]

    def logs(
        self, model_id: str, *, run_id: str | None = None, tail_lines: int | None = 200
    ) -> list[LogText]:
        key = f"run:{run_id}" if run_id is not None else model_id
        if run_id is not None and key not in self.log_texts:
            raise NotFound(f"run {run_id} of {model_id!r} has no log")
        return list(self.log_texts.get(key, []))
