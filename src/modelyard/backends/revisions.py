"""A model's revisions and the rules that change them, written once for every backend.

Which revision serves, what a deploy is (a start, a rollout, nothing to do, a conflict), how a
promotion, an abort or a rollback is recorded, and where a rollback goes: each backend keeps
its revisions where it can (SQLite rows locally, a ConfigMap on Kubernetes, a list in the
fake) and changes them only through :class:`Revisions`, a frozen value whose methods return
the next value. A store writes back what :meth:`Revisions.changed_since` names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from modelyard.backends.backend import DeployAction, DeploymentEvent, Revision, RevisionOutcome
from modelyard.errors import Conflict, NotFound


class RevisionNotFound(NotFound):
    """A revision number that the model does not have."""


class NothingToRollBack(NotFound):
    """The model has no earlier revision that served."""


class RolloutInProgress(Conflict):
    """A new version cannot be deployed while the model's rollout is unfinished."""


@dataclass(frozen=True)
class RolledBack:
    """What a rollback after a finished rollout recorded."""

    revisions: Revisions
    made: Revision
    """The new active revision, of the version that served before."""
    rolled_back: Revision
    """The revision that served until now, as it was before the rollback."""


@dataclass(frozen=True)
class Deployed:
    """What a deploy recorded: the revisions after it, the revision of the version asked
    for (None only when it is ``unchanged`` with no record), and the action."""

    revisions: Revisions
    revision: Revision | None
    action: DeployAction


@dataclass(frozen=True)
class Revisions:
    """The revisions of ``model_id``, oldest first, numbered 1, 2, 3..."""

    model_id: str
    items: tuple[Revision, ...] = ()

    # ------------------------------------------------------------------ reading

    def _latest(self, outcome: RevisionOutcome) -> Revision | None:
        return next((r for r in reversed(self.items) if r.outcome == outcome), None)

    @property
    def active(self) -> Revision | None:
        """The revision serving now."""
        return self._latest("active")

    @property
    def pending(self) -> Revision | None:
        """The revision being rolled out (or started), if any."""
        return self._latest("pending")

    @property
    def latest(self) -> Revision | None:
        return self.items[-1] if self.items else None

    def get(self, number: int) -> Revision | None:
        return next((r for r in self.items if r.revision == number), None)

    def rollback_target(self) -> Revision | None:
        """The latest revision that served before the active one: where a rollback goes.

        A revision of the version serving now is skipped: going "back" to it would change
        nothing (after a rollback, the revision it went back to is superseded by its copy).
        """
        active = self.active
        below = active.revision if active is not None else None
        return next(
            (
                r
                for r in reversed(self.items)
                if r.outcome == "superseded"
                and (below is None or r.revision < below)
                and (active is None or r.version != active.version)
            ),
            None,
        )

    def deploy_action(self, version: str) -> DeployAction:
        """What deploying ``version`` is: ``started`` (nothing served), ``rollout``, or
        ``unchanged`` (it serves already); raises :class:`RolloutInProgress` while a rollout
        is unfinished, whichever version is asked for."""
        pending, active = self.pending, self.active
        if pending is not None:
            raise RolloutInProgress(
                f"a rollout of {self.model_id} version {pending.version} is in progress; "
                "promote, abort or roll it back first"
            )
        if active is None:
            return "started"
        return "unchanged" if active.version == version else "rollout"

    def deployed(self, version: str, *, by: str, at: float) -> Deployed:
        """The revisions after deploying ``version``: a first one starts ``active`` (where
        serving is instant), a later one ``pending`` until its rollout ends; nothing is added
        when the version serves already. Raises like :meth:`deploy_action`."""
        action = self.deploy_action(version)
        if action == "unchanged":
            return Deployed(self, self.active, action)
        after, made = self.add(
            version, "active" if action == "started" else "pending", by=by, at=at
        )
        return Deployed(after, made, action)

    def changed_since(self, before: Revisions) -> list[Revision]:
        """The revisions that are new or different from ``before``'s: what a store writes."""
        old = {r.revision: r for r in before.items}
        return [r for r in self.items if old.get(r.revision) != r]

    # ------------------------------------------------------------------ changing

    def add(
        self, version: str, outcome: RevisionOutcome, *, by: str, at: float, reason: str = ""
    ) -> tuple[Revisions, Revision]:
        """A new revision numbered one above the last; an active one supersedes the current."""
        number = (self.items[-1].revision if self.items else 0) + 1
        made = Revision(self.model_id, number, version, by, at, outcome, reason)
        base = self._superseded() if outcome == "active" else self
        return replace(base, items=(*base.items, made)), made

    def with_outcome(self, number: int, outcome: RevisionOutcome, reason: str = "") -> Revisions:
        """Record how revision ``number`` ended (keeping its reason when none is given);
        ``active`` supersedes the revision serving until now."""
        if self.get(number) is None:
            raise RevisionNotFound(f"model {self.model_id!r} has no revision {number}")
        base = self._superseded(but=number) if outcome == "active" else self
        items = tuple(
            replace(r, outcome=outcome, reason=reason or r.reason) if r.revision == number else r
            for r in base.items
        )
        return replace(self, items=items)

    def roll_back(self, *, by: str, at: float) -> RolledBack:
        """Back to :meth:`rollback_target`: a new active revision of its version, and the
        active one ``rolled_back``. For a rollback after a rollout finished (during one, the
        pending revision is marked ``rolled_back`` with :meth:`with_outcome`)."""
        active, target = self.active, self.rollback_target()
        if active is None or target is None:
            raise NothingToRollBack(
                f"model {self.model_id!r} has no earlier revision that served; "
                "see `modelyard history`"
            )
        why = f"rollback of revision {active.revision} to {target.revision}"
        added, made = self.add(target.version, "active", by=by, at=at, reason=why)
        return RolledBack(added.with_outcome(active.revision, "rolled_back", why), made, active)

    def _superseded(self, but: int | None = None) -> Revisions:
        items = tuple(
            replace(r, outcome="superseded") if r.outcome == "active" and r.revision != but else r
            for r in self.items
        )
        return replace(self, items=items)


def revision_events(revisions: Revisions) -> list[DeploymentEvent]:
    """The revisions' story as deployment events: one per revision, at its creation."""
    return [
        DeploymentEvent(
            r.created_at,
            f"revision_{r.outcome}",
            f"revision {r.revision}: version {r.version} {r.outcome.replace('_', ' ')}"
            + (f" ({r.reason})" if r.reason else "")
            + (f" by {r.created_by}" if r.created_by else ""),
            {"revision": r.revision, "version": r.version},
        )
        for r in revisions.items
    ]
