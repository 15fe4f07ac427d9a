"""The model's slice of the workspace as a ConfigMap, mounted at ``/workspace`` in its pods.

Runtime images are generic (the runtime's packages and modelyard), so a pod gets the files it
needs from here: ``modelyard.yaml``, ``runtimes.yaml`` (the model's runtime only), the model's
``model.yaml``, the server's part of ``deploy.yaml`` and the training script. Inside the pod
``modelyard serve|train <id> -w /workspace`` then reads an ordinary workspace.

Only the serving-relevant part of the files goes into the hash that rolls server pods, so that
editing ``train.py`` or ``replicas`` does not restart the servers.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import yaml

from modelyard.config import ModelEntry
from modelyard.k8s.context import RenderContext, metadata
from modelyard.k8s.security import pod_kafka_settings

MOUNT_PATH = "/workspace"
"""Where the workspace slice is mounted in every modelyard pod."""
SERVER_DEPLOY_FIELDS = frozenset({"rate_limit", "circuit_breaker", "batching", "prediction_log"})
"""Sections of ``deploy.yaml`` the server process reads; the rest is rendered into objects."""
_SERVER_IRRELEVANT_MODEL_FIELDS = frozenset({"training", "evaluation", "description"})
_KEY_BAD = re.compile(r"[^-._a-zA-Z0-9]")


def configmap_name(entry: ModelEntry) -> str:
    return f"{entry.id}-workspace"


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _files(ctx: RenderContext, entry: ModelEntry, script: str) -> dict[str, tuple[str, str]]:
    """key -> (path under /workspace, content)."""
    settings = ctx.settings.model_dump(mode="json", exclude_defaults=True)
    # In the pod the model runs in-process: the pod is the "local" machine.
    settings.update(name=ctx.workspace, backend="local")
    if "kafka" in settings:
        settings["kafka"] = pod_kafka_settings(settings["kafka"])
    runtime = ctx.runtimes[entry.spec.runtime].model_dump(mode="json", exclude_defaults=True)
    # The image already holds the runtime's packages; never build a venv in the pod.
    runtime["local"] = "inherit"
    model = entry.spec.model_dump(mode="json", exclude_defaults=True)
    deploy = entry.deploy.model_dump(
        mode="json", exclude_defaults=True, include=set(SERVER_DEPLOY_FIELDS)
    )
    script_path = f"models/{entry.id}/{entry.spec.training.entrypoint}"
    return {
        "modelyard.yaml": ("modelyard.yaml", _dump(settings)),
        "runtimes.yaml": ("runtimes.yaml", _dump({"runtimes": {entry.spec.runtime: runtime}})),
        "model.yaml": (f"models/{entry.id}/model.yaml", _dump(model)),
        "deploy.yaml": (f"models/{entry.id}/deploy.yaml", _dump(deploy)),
        _KEY_BAD.sub("_", entry.spec.training.entrypoint): (script_path, script),
    }


def workspace_configmap(ctx: RenderContext, entry: ModelEntry, script: str) -> dict[str, Any]:
    """The ConfigMap holding the model's slice of the workspace."""
    files = _files(ctx, entry, script)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ctx, entry, configmap_name(entry), "config"),
        "data": {key: content for key, (_, content) in files.items()},
    }


def workspace_volume(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """The pod volume that lays the ConfigMap's keys out as a workspace folder."""
    files = _files(ctx, entry, "")
    return {
        "name": "workspace",
        "configMap": {
            "name": configmap_name(entry),
            "items": [{"key": key, "path": path} for key, (path, _) in files.items()],
        },
    }


def server_config_hash(ctx: RenderContext, entry: ModelEntry) -> str:
    """Hash of what the server reads; a pod annotation, so that a change rolls the servers."""
    files = _files(ctx, entry, "")
    model = entry.spec.model_dump(
        mode="json", exclude_defaults=True, exclude=set(_SERVER_IRRELEVANT_MODEL_FIELDS)
    )
    digest = hashlib.sha256()
    for key in ("modelyard.yaml", "runtimes.yaml", "deploy.yaml"):
        digest.update(files[key][1].encode())
    digest.update(_dump(model).encode())
    return digest.hexdigest()[:16]
