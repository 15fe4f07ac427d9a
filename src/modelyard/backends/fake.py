"""An in-memory :class:`~modelyard.backends.backend.Backend`: the seam with no process,
cluster or registry, for tests of what is built on top (capacity, dashboards, pipelines).

It keeps revisions with the real backends' rules (:mod:`modelyard.backends.revisions`: first
deploy active, later ones pending until promoted, rollback to the previous version that
served), is held to their lifecycle contract (``tests/backends/test_lifecycle.py``), and
serves the usage samples a test gives it. Versions are taken as given: nothing is trained or
fetched.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelyard.backends.backend import (
    BackendName,
    Command,
    DeploymentEvent,
    DeployResult,
    LogText,
    Revision,
    RollbackResult,
    RolloutStatus,
    TrainRun,
)
from modelyard.backends.revisions import Revisions, revision_events
from modelyard.clock import SYSTEM_CLOCK, Clock
from modelyard.errors import NotFound
from modelyard.observe.usage import UsageSample

if TYPE_CHECKING:
    from modelyard.jobs import LineSink


@dataclass
class InMemoryBackend:
    """Revisions and usage in dicts; ``production`` mirrors the registry alias."""

    name: BackendName = "local"
    clock: Clock = SYSTEM_CLOCK
    models: Collection[str] | None = None
    """The workspace's model ids: others are refused as the real backends refuse them
    (``NotFound``); None takes any id."""
    revisions: dict[str, list[Revision]] = field(default_factory=dict)
    samples: list[UsageSample] = field(default_factory=list)
    production: dict[str, str] = field(default_factory=dict)
    paused: dict[str, bool] = field(default_factory=dict)
    trained: dict[str, int] = field(default_factory=dict)
    event_log: dict[str, list[DeploymentEvent]] = field(default_factory=dict)
    """Events per model beyond the revisions' (a test adds restarts here)."""
    log_texts: dict[str, list[LogText]] = field(default_factory=dict)
    """Server logs per model, and run logs under ``run:<id>``."""

    def _revs(self, model_id: str) -> Revisions:
        if self.models is not None and model_id not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            raise NotFound(f"no model {model_id!r} in this workspace (models: {known})")
        return Revisions(model_id, tuple(self.revisions.get(model_id, ())))

    def _save(self, revisions: Revisions) -> None:
        self.revisions[revisions.model_id] = list(revisions.items)
        active = revisions.active
        if active is not None:
            self.production[revisions.model_id] = active.version

    def train(
        self, model_id: str, params: Sequence[str] = (), *, on_line: LineSink | None = None
    ) -> TrainRun:
        self._revs(model_id)
        self.trained[model_id] = self.trained.get(model_id, 0) + 1
        return TrainRun(model_id, self.name)

    def deploy(
        self, model_id: str, version: int | None = None, *, by: str = "", dry_run: bool = False
    ) -> DeployResult:
        revs = self._revs(model_id)
        number = str(version if version is not None else self.trained.get(model_id, 1))
        if dry_run:
            return DeployResult(model_id, number, None, "planned", None)
        done = revs.deployed(number, by=by, at=self.clock.now())
        self._save(done.revisions)
        made = done.revision.revision if done.revision is not None else None
        return DeployResult(model_id, number, made, done.action, None)

    def up(self) -> list[DeployResult]:
        return []

    def down(self, model_ids: Sequence[str] | None = None) -> list[str]:
        """The models named (all with revisions when none is) that have an active revision."""
        chosen = model_ids or self.revisions
        return sorted(m for m in chosen if self._revs(m).active is not None)

    def rollout(self, model_id: str, command: Command, *, by: str = "") -> RolloutStatus:
        revs = self._revs(model_id)
        pending = revs.pending
        if pending is None:
            raise NotFound(f"model {model_id!r} has no rollout in progress")
        if command == "promote":
            self._save(revs.with_outcome(pending.revision, "active"))
        elif command == "abort":
            self._save(
                revs.with_outcome(pending.revision, "aborted", f"aborted by {by or 'a user'}")
            )
        else:
            self.paused[model_id] = command == "pause"
        return self.status(model_id)

    def rollback(self, model_id: str, *, by: str = "") -> RollbackResult:
        revs = self._revs(model_id)
        active, pending = revs.active, revs.pending
        if active is not None and pending is not None:
            why = f"rollback of revision {pending.revision} during its rollout"
            self._save(revs.with_outcome(pending.revision, "rolled_back", why))
            return RollbackResult(model_id, active.version, active.revision, pending.revision, True)
        done = revs.roll_back(by=by, at=self.clock.now())
        self._save(done.revisions)
        made, old = done.made, done.rolled_back
        return RollbackResult(model_id, made.version, made.revision, old.revision, False)

    def status(self, model_id: str) -> RolloutStatus:
        revs = self._revs(model_id)
        active, pending, latest = revs.active, revs.pending, revs.latest
        return RolloutStatus(
            model_id,
            self.name,
            serving=active.version if active else None,
            canary=pending.version if pending else None,
            rollout_version=latest.version if latest else None,
            phase="canary" if pending else (latest.outcome if latest else None),
            paused=self.paused.get(model_id, False) if pending else False,
            finished=pending is None,
        )

    def history(self, model_id: str) -> list[Revision]:
        return list(self._revs(model_id).items)

    def usage(self, model_id: str, *, since: float | None = None) -> list[UsageSample]:
        subjects = {f"server:{model_id}", f"train:{model_id}"}
        return sorted(
            (s for s in self.samples if s.subject in subjects and (since is None or s.at >= since)),
            key=lambda s: s.at,
        )

    def events(self, model_id: str, *, since: float | None = None) -> list[DeploymentEvent]:
        found = revision_events(self._revs(model_id))
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
