"""A model's revisions on Kubernetes, kept in one ConfigMap beside its objects.

A cluster has no state store, and Argo Rollouts' ReplicaSet revisions forget who shipped what
and why it was rolled back. The backend keeps modelyard's revisions (the same records as the
local state store's) as JSON in ``<model>-modelyard-history``, written by server-side apply.
The ConfigMap carries no owner label, so ``apply``'s prune never deletes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from modelyard.backends.backend import Revision
from modelyard.k8s.plan import ObjectKey

HISTORY_LABEL = "modelyard.dev/history"


def history_key(namespace: str, model_id: str) -> ObjectKey:
    return ObjectKey("", "ConfigMap", namespace, f"{model_id}-modelyard-history")


def history_object(namespace: str, model_id: str, revisions: Sequence[Revision]) -> dict[str, Any]:
    """The ConfigMap that holds ``revisions``."""
    key = history_key(namespace, model_id)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": key.name,
            "namespace": namespace,
            "labels": {"modelyard.dev/model": model_id, HISTORY_LABEL: "true"},
        },
        "data": {"revisions": json.dumps([asdict(r) for r in revisions], indent=1)},
    }


def read_history(obj: dict[str, Any] | None) -> list[Revision]:
    """The revisions a history ConfigMap holds (none when there is no ConfigMap)."""
    if obj is None:
        return []
    rows = json.loads((obj.get("data") or {}).get("revisions") or "[]")
    return [Revision(**row) for row in rows]
