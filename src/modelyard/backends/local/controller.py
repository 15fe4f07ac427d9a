"""The rollout controller: drives a model's rollout state machine against its live server.

Every event (fresh metrics, a loaded version, a user's command) goes through :meth:`apply`:
under the deployment's rollout lock it reads the last committed state, advances the machine,
and when the transition carries actions it commits, in one SQLite transaction, the new state,
the events, the deployment's routing and (at the end) the revision's outcome, and only then
carries the actions out on the server. A crash between the two is repaired by
:meth:`converge`, which re-applies the committed routing (``reconcile``); the actions are
idempotent. The supervisor and the CLI both use this class, the lock keeps them in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace

from modelyard.backends.local.actuator import ServerActuator
from modelyard.backends.local.locks import FileLock
from modelyard.backends.local.records import Deployment, RevisionOutcome
from modelyard.backends.local.state import StateStore
from modelyard.clock import SYSTEM_CLOCK, Clock
from modelyard.errors import ModelyardError, NotFound
from modelyard.rollout import (
    Action,
    Event,
    Phase,
    Promote,
    RecordEvent,
    RolloutState,
    Transition,
    Unload,
    advance,
    reconcile,
)
from modelyard.serving.admin.client import ServerUnreachable

log = logging.getLogger(__name__)

OUTCOMES: dict[Phase, RevisionOutcome] = {
    Phase.PROMOTED: "active",
    Phase.ROLLED_BACK: "rolled_back",
    Phase.ABORTED: "aborted",
}


class NoRollout(NotFound):
    """The model has no rollout in progress."""


class RolloutController:
    """Applies events to the rollout of ``model_id``: commit, then act."""

    def __init__(
        self,
        store: StateStore,
        model_id: str,
        lock: FileLock,
        admin: ServerActuator | None,
        clock: Clock = SYSTEM_CLOCK,
        on_promoted: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.model_id = model_id
        self.lock = lock
        self.admin = admin
        self.clock = clock
        self.on_promoted = on_promoted
        """Called with the version after a promotion commits (moves the registry alias)."""
        self._cache: tuple[int, RolloutState] | None = None

    # ------------------------------------------------------------------ reading

    def current(self) -> tuple[int, RolloutState] | None:
        """The latest rollout (revision, state), finished or not.

        The cached state is used while the store has no newer commit: it holds the latest
        metrics, which the store does not (they change without a committed step).
        """
        record = self.store.load_rollout(self.model_id)
        if record is None:
            return None
        cached = self._cache
        if (
            cached is not None
            and cached[0] == record.revision
            and cached[1].seq == record.state.get("seq")
        ):
            return cached
        return record.revision, RolloutState.from_dict(record.state)

    def unfinished(self) -> tuple[int, RolloutState] | None:
        found = self.current()
        return found if found is not None and not found[1].terminal else None

    # ------------------------------------------------------------------ writing

    def apply(self, event: Event) -> RolloutState:
        """Apply ``event`` to the latest rollout; raises NoRollout if there is none."""
        with self.lock.hold():
            found = self.current()
            if found is None:
                raise NoRollout(f"model {self.model_id!r} has no rollout; deploy a new version")
            return self._run(found[0], found[1], [event])

    def _run(self, revision: int, state: RolloutState, events: list[Event]) -> RolloutState:
        while events:
            transition = advance(state, events.pop(0), self.clock.now())
            state = transition.state
            if transition.actions:
                self.commit(revision, transition)
                events.extend(self.carry_out(transition.actions))
                if state.phase is Phase.PROMOTED:
                    self._promoted(state.version)
            self._cache = (revision, state)
        return state

    def commit(self, revision: int, transition: Transition) -> None:
        """State, events, routing and outcome of one step, in one transaction."""
        state = transition.state
        routing = state.routing
        with self.store.transaction():
            self.store.save_rollout(
                self.model_id, revision, state.to_dict(), finished=state.terminal
            )
            for action in transition.actions:
                if isinstance(action, RecordEvent):
                    self.store.append_event(self.model_id, revision, action.kind, action.detail)
            deployment = self.store.get_deployment(self.model_id) or Deployment(
                self.model_id, "stopped"
            )
            self.store.upsert_deployment(
                replace(
                    deployment,
                    primary_version=routing.primary,
                    canary_version=routing.canary,
                    canary_weight=routing.canary_weight,
                    shadow_version=routing.shadow,
                )
            )
            if state.phase in OUTCOMES:
                reason = state.outcome.reason if state.outcome else ""
                self.store.set_revision_outcome(
                    self.model_id, revision, OUTCOMES[state.phase], reason
                )

    def _promoted(self, version: str) -> None:
        """Tell ``on_promoted`` (the registry alias); the server already serves the version."""
        if self.on_promoted is None:
            return
        try:
            self.on_promoted(version)
        except (
            ModelyardError
        ) as exc:  # the rollout stands; the next promotion or rollback sets the alias
            log.warning("%s version %s promoted, but: %s", self.model_id, version, exc)

    def carry_out(self, actions: Iterable[Action]) -> list[Event]:
        """Do the server actions in order; returns the events they answered (load results).

        With no server (stopped) or an unreachable one, the rest waits for :meth:`converge`.
        """
        answers: list[Event] = []
        if self.admin is None:
            return answers
        for action in actions:
            if isinstance(action, RecordEvent):
                continue
            try:
                answer = self.admin.carry_out(action)
            except ServerUnreachable as exc:
                log.warning("%s: %s; the supervisor will re-apply the routing", action, exc)
                break
            if answer is not None:
                answers.append(answer)
        return answers

    def converge(self) -> None:
        """Put the server where the store says: the primary, then the rollout's routing.

        Versions the committed state does not name are unloaded (a stale canary after a crash).
        """
        if self.admin is None:
            return
        with self.lock.hold():
            deployment = self.store.get_deployment(self.model_id)
            primary = deployment.primary_version if deployment else None
            found = self.unfinished()
            keep = {primary} | ({found[1].version} if found else set())
            actions: list[Action] = []
            served = self.admin.served()
            if primary is not None and served.get(primary, None) is not None:
                if served[primary].role != "primary":
                    actions.append(Promote(primary))
            elif primary is not None:
                actions.append(Promote(primary))
            actions += [Unload(v) for v in served if v not in keep]
            if found is not None:
                actions += reconcile(found[1])
            answers = self.carry_out(actions)
            if found is not None and answers:
                self._run(found[0], found[1], answers)
