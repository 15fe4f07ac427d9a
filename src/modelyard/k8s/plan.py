"""What ``apply`` would do, as a pure function of the desired and the live objects.

An object is unchanged when every field modelyard sets has the same value live (fields the
server or other controllers add, such as defaults, status or an HPA's replica count, are not
modelyard's and are ignored). Live objects that carry this workspace's ownership labels but
are no longer rendered are pruned; objects without them are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["create", "update", "prune", "unchanged"]


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object: API group, kind, namespace and name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.split("/")[0] if "/" in api_version else ""
        meta = obj.get("metadata", {})
        return cls(group, str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"]))

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"


@dataclass(frozen=True)
class Change:
    """One step of a plan; ``fields`` names the managed fields that differ (updates)."""

    action: Action
    key: ObjectKey
    desired: Mapping[str, Any] | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Every change, sorted by action then object."""

    changes: tuple[Change, ...]

    def of(self, action: Action) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    @property
    def creates(self) -> list[Change]:
        return self.of("create")

    @property
    def updates(self) -> list[Change]:
        return self.of("update")

    @property
    def prunes(self) -> list[Change]:
        return self.of("prune")

    @property
    def unchanged(self) -> list[Change]:
        return self.of("unchanged")

    @property
    def empty(self) -> bool:
        return not (self.creates or self.updates or self.prunes)

    def summary(self) -> dict[str, int]:
        return {a: len(self.of(a)) for a in ("create", "update", "prune", "unchanged")}


def differences(desired: Any, live: Any, path: str = "") -> list[str]:
    """Paths of the fields set in ``desired`` whose value differs in ``live``."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return [path or "."]
        out: list[str] = []
        for key, value in desired.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in live:
                out.append(sub)
            else:
                out += differences(value, live[key], sub)
        return out
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [path]
        return [
            d
            for i, (a, b) in enumerate(zip(desired, live, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if desired == live or str(desired) == str(live):
        # The API server returns ports and quantities as it stores them: 80 vs "80".
        return []
    return [path]


_IGNORED_METADATA = ("namespace",)


def _comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _IGNORED_METADATA}
    return {**{k: v for k, v in obj.items() if k != "metadata"}, "metadata": meta}


def owned(obj: Mapping[str, Any], owner: Mapping[str, str]) -> bool:
    """Whether ``obj`` carries every ownership label in ``owner``."""
    found = obj.get("metadata", {}).get("labels") or {}
    return all(found.get(k) == v for k, v in owner.items())


def plan(
    desired: Sequence[Mapping[str, Any]],
    live: Iterable[Mapping[str, Any]],
    owner: Mapping[str, str],
    *,
    prune: bool = True,
) -> Plan:
    """Compare ``desired`` with ``live``; prune owned live objects nobody renders any more.

    ``owner`` is the ownership selector (``RenderContext.owner_selector()``): a live object is
    pruned only if it carries all of those labels.
    """
    live_by_key = {ObjectKey.of(obj): obj for obj in live}
    changes: list[Change] = []
    wanted = set()
    for obj in desired:
        key = ObjectKey.of(obj)
        wanted.add(key)
        current = live_by_key.get(key)
        if current is None:
            changes.append(Change("create", key, obj))
            continue
        diff = differences(_comparable(obj), current)
        changes.append(Change("update" if diff else "unchanged", key, obj, tuple(diff)))
    if prune:
        for key, obj in live_by_key.items():
            if key not in wanted and owned(obj, owner):
                changes.append(Change("prune", key, None))
    order = {"create": 0, "update": 1, "prune": 2, "unchanged": 3}
    return Plan(tuple(sorted(changes, key=lambda c: (order[c.action], c.key))))
