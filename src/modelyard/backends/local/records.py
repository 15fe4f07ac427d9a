"""The records of the local state store: deployments, revisions, rollouts, events, usage.

Plain frozen dataclasses that :class:`~modelyard.backends.local.state.StateStore` reads and writes,
and the store's errors. Kept apart from the SQL so that callers that only read records (the CLI
views, the controller) need not know the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.backends.backend import Revision as Revision
from modelyard.backends.backend import RevisionOutcome as RevisionOutcome
from modelyard.backends.revisions import RevisionNotFound as RevisionNotFound
from modelyard.errors import ModelyardError, Unavailable


class StateError(ModelyardError):
    """``state.db`` cannot be used: damaged, or written by a newer modelyard."""


class StateBusy(Unavailable):
    """Another process held ``state.db`` locked for too long; try again."""


@dataclass(frozen=True)
class Deployment:
    """A served model: its server process and where its traffic goes."""

    model_id: str
    status: str
    """What the backend reports, e.g. ``starting``, ``serving``, ``stopped``, ``failed``."""
    port: int | None = None
    pid: int | None = None
    primary_version: str | None = None
    canary_version: str | None = None
    canary_weight: float = 0.0
    """Percent of live traffic the canary gets."""
    shadow_version: str | None = None
    updated_at: float = 0.0
    """Set by the store on every write."""


@dataclass(frozen=True)
class RolloutRecord:
    """The last committed state of one revision's rollout (``RolloutState.to_dict()``)."""

    model_id: str
    revision: int
    state: dict[str, Any]
    finished: bool
    updated_at: float


@dataclass(frozen=True)
class RolloutEvent:
    """One entry of a rollout's history."""

    id: int
    model_id: str
    revision: int
    at: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
