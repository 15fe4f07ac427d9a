"""What a rollout asks for: the actions the controller carries out on the model server.

Every action is idempotent (setting a weight twice, unloading a version that is gone), so after
a crash the controller can carry out a committed transition's actions again, or the actions of
:func:`~modelyard.rollout.machine.reconcile`, without harm. A version the server has loaded
gets no traffic until :class:`SetShadow` or :class:`SetCanaryWeight` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["shadow", "canary"]


@dataclass(frozen=True)
class LoadVersion:
    """Load and warm ``version`` next to the current one, in ``role``, with no traffic yet.

    Answer with :class:`~modelyard.rollout.events.VersionLoaded` once it is ready, or
    :class:`~modelyard.rollout.events.LoadFailed`.
    """

    version: str
    role: Role


@dataclass(frozen=True)
class SetShadow:
    """Mirror live traffic to ``version`` (answers never reach callers); ``None`` stops it."""

    version: str | None


@dataclass(frozen=True)
class SetCanaryWeight:
    """Send ``weight`` percent of live traffic to ``version`` as the canary; 0 sends none."""

    version: str
    weight: float


@dataclass(frozen=True)
class Promote:
    """Make ``version`` the primary with all live traffic (the old primary gets none)."""

    version: str


@dataclass(frozen=True)
class Unload:
    """Unload ``version`` from the server; a version already gone is not an error."""

    version: str


@dataclass(frozen=True)
class RecordEvent:
    """Append ``kind`` with ``detail`` (JSON-able) to the rollout's event history."""

    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)


Action = LoadVersion | SetShadow | SetCanaryWeight | Promote | Unload | RecordEvent
"""Every action the machine asks for."""

_NAMES: dict[type[Action], str] = {
    LoadVersion: "load_version",
    SetShadow: "set_shadow",
    SetCanaryWeight: "set_canary_weight",
    Promote: "promote",
    Unload: "unload",
    RecordEvent: "record_event",
}


def action_to_dict(action: Action) -> dict[str, Any]:
    """A JSON-able dict of ``action`` for logs, e.g. ``{"action": "unload", "version": "3"}``."""
    fields: dict[str, Any] = {"action": _NAMES[type(action)]}
    fields.update(
        {
            name: dict(value) if isinstance(value, Mapping) else value
            for name, value in vars(action).items()
        }
    )
    return fields
