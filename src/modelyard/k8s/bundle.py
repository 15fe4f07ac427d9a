"""The model's slice of the workspace as ConfigMaps, mounted at ``/workspace`` in its pods.

Runtime images are generic (the runtime's packages and modelyard), so a pod gets the files it
needs from here, and ``modelyard serve|train <id> -w /workspace`` reads an ordinary workspace:

- ``<id>-workspace-<hash10>`` (server pods): ``modelyard.yaml``, ``runtimes.yaml`` (the
  model's runtime only), the serving part of ``model.yaml`` and ``deploy.yaml``, and a stub in
  place of the training script (the loader wants the file; the server never runs it);
- ``<id>-source-<hash10>`` (training pods): the same settings plus every file of
  ``models/<id>/`` (``train.py`` and whatever it imports), with ``evaluation.dataset`` pointed
  at the artifact store, since data never fits a ConfigMap's 1 MiB.

Both names carry a hash of their content, so a change is a new ConfigMap and a new pod
template: stable pods keep the files they started with, a canary gets its own, and an abort
restores the stable ones. ConfigMap keys cannot hold ``/``; each file gets a flat key and
``items`` lay the keys out as folders again.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import yaml

from modelyard.config import ModelEntry
from modelyard.k8s.context import RenderContext, RenderError, metadata
from modelyard.k8s.security import pod_kafka_settings

MOUNT_PATH = "/workspace"
"""Where the workspace slice is mounted in every modelyard pod."""
SERVER_DEPLOY_FIELDS = frozenset(
    {"rate_limit", "circuit_breaker", "batching", "prediction_log", "pool"}
)
"""Sections of ``deploy.yaml`` the server process reads; the rest is rendered into objects.
(``pool``: a pool server finds its models by it; it is absent, hence unwritten, elsewhere.)"""
SERVER_MODEL_FIELDS_DROPPED = frozenset({"training", "evaluation", "description"})
"""Parts of ``model.yaml`` the server never reads: editing them must not roll the servers."""
MAX_CONFIGMAP_BYTES = 900 * 1024
"""What one ConfigMap may carry here: the API server's 1 MiB, less room for metadata."""
DATASETS_PREFIX = "datasets"
"""Folder of the artifact store holding evaluation datasets: ``<store>/datasets/<id>/<file>``."""
HASH_LENGTH = 10
TRAINING_STUB = "# The server's workspace slice holds no training script; see the source slice.\n"
_KEY_BAD = re.compile(r"[^-._a-zA-Z0-9]")


_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(data: Any) -> str:
    # libyaml's dumper: the same text as safe_dump, a dozen times per model, much faster.
    text: str = yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)
    return text


def _settings_files(ctx: RenderContext, entry: ModelEntry) -> dict[str, bytes]:
    settings = ctx.settings.model_dump(mode="json", exclude_defaults=True)
    # In the pod the model runs in-process: the pod is the "local" machine.
    settings.update(name=ctx.workspace, backend="local")
    if "kafka" in settings:
        settings["kafka"] = pod_kafka_settings(settings["kafka"])
    deploy = entry.deploy.model_dump(
        mode="json", exclude_defaults=True, include=set(SERVER_DEPLOY_FIELDS)
    )
    return {
        "modelyard.yaml": _dump(settings).encode(),
        "runtimes.yaml": _runtimes_file(ctx, [entry.spec.runtime]),
        f"models/{entry.id}/deploy.yaml": _dump(deploy).encode(),
    }


def _runtimes_file(ctx: RenderContext, names: list[str]) -> bytes:
    runtimes: dict[str, Any] = {}
    for name in sorted(set(names)):
        runtime = ctx.runtimes[name].model_dump(mode="json", exclude_defaults=True)
        # The image already holds the runtime's packages; never build a venv in the pod.
        runtime["local"] = "inherit"
        runtimes[name] = runtime
    return _dump({"runtimes": runtimes}).encode()


def pool_server_files(ctx: RenderContext, entries: list[ModelEntry]) -> dict[str, bytes]:
    """Path under ``/workspace`` -> content of a pool server's slice: every pooled model's
    server files side by side, and the runtimes they name (one image, maybe several names)."""
    files: dict[str, bytes] = {}
    for entry in entries:
        files.update(server_files(ctx, entry))
    files["runtimes.yaml"] = _runtimes_file(ctx, [e.spec.runtime for e in entries])
    return files


def dataset_uri(ctx: RenderContext, entry: ModelEntry) -> str | None:
    """Where a training pod reads ``evaluation.dataset``: a URI as written, else the file's
    name under ``<artifact_store>/datasets/<id>/`` (None when there is no dataset, or the
    artifact store is a path that pods cannot reach)."""
    named = entry.spec.evaluation.dataset
    store = ctx.settings.artifact_store
    if named is None or "://" in named or named.startswith("mlflow-artifacts:"):
        return named
    if store is None or "://" not in store:
        return None
    return f"{store.rstrip('/')}/{DATASETS_PREFIX}/{entry.id}/{PurePosixPath(named).name}"


def dataset_file(entry: ModelEntry) -> str | None:
    """The dataset's path inside the model folder when it is a relative path there."""
    named = entry.spec.evaluation.dataset
    if named is None or "://" in named or named.startswith(("/", "mlflow-artifacts:")):
        return None
    return str(PurePosixPath(named))


def server_files(ctx: RenderContext, entry: ModelEntry) -> dict[str, bytes]:
    """Path under ``/workspace`` -> content of the server pods' slice."""
    model = entry.spec.model_dump(
        mode="json", exclude_defaults=True, exclude=set(SERVER_MODEL_FIELDS_DROPPED)
    )
    entrypoint = entry.spec.training.entrypoint
    if entrypoint != "train.py":  # the loader looks for the script model.yaml names
        model["training"] = {"entrypoint": entrypoint}
    return {
        **_settings_files(ctx, entry),
        f"models/{entry.id}/model.yaml": _dump(model).encode(),
        f"models/{entry.id}/{entrypoint}": TRAINING_STUB.encode(),
    }


def source_files(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]
) -> dict[str, bytes]:
    """Path under ``/workspace`` -> content of the training pods' slice.

    ``folder`` maps paths relative to ``models/<id>/`` to bytes (what
    :func:`modelyard.k8s.render.read_folder` reads); ``model.yaml`` and ``deploy.yaml`` are
    rendered from the specs instead.
    """
    model = entry.spec.model_dump(mode="json", exclude_defaults=True)
    uri = dataset_uri(ctx, entry)
    if uri is not None:
        model.setdefault("evaluation", {})["dataset"] = uri
    files = _settings_files(ctx, entry)
    for relative, content in sorted(folder.items()):
        if relative not in ("model.yaml", "deploy.yaml"):
            files[f"models/{entry.id}/{relative}"] = content
    files[f"models/{entry.id}/model.yaml"] = _dump(model).encode()
    return files


def flat_keys(paths: list[str]) -> dict[str, str]:
    """Path -> a ConfigMap key (``[-._a-zA-Z0-9]``, unique): ``models/ctr/a.py`` ->
    ``models_ctr_a.py``, numbered on a clash."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for path in sorted(paths):
        base = _KEY_BAD.sub("_", path)[-240:]
        key, number = base, 1
        while key in taken:
            number += 1
            key = f"{number}-{base}"
        taken.add(key)
        keys[path] = key
    return keys


def content_hash(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for path, content in sorted(files.items()):
        digest.update(path.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:HASH_LENGTH]


def configmap_data(files: Mapping[str, bytes]) -> tuple[dict[str, str], dict[str, str], int]:
    """A ConfigMap's ``data`` (text files) and ``binaryData`` (base64), and their size."""
    keys = flat_keys(list(files))
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for path, content in files.items():
        try:
            data[keys[path]] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[keys[path]] = base64.b64encode(content).decode("ascii")
    size = sum(len(v) for v in data.values()) + sum(len(v) for v in binary.values())
    return data, binary, size


def _configmap(
    ctx: RenderContext, entry: ModelEntry, role: str, files: Mapping[str, bytes]
) -> dict[str, Any]:
    data, binary, size = configmap_data(files)
    if size > MAX_CONFIGMAP_BYTES:
        largest = sorted(files, key=lambda p: len(files[p]), reverse=True)[:3]
        raise RenderError(
            entry.id,
            str(entry.dir),
            "files",
            f"the model's folder is {size // 1024} KiB, over the {MAX_CONFIGMAP_BYTES // 1024} "
            f"KiB a ConfigMap carries (largest: {', '.join(largest)}); keep data in the "
            f"artifact store ({DATASETS_PREFIX}/{entry.id}/ there) and only code here",
        )
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ctx, entry, configmap_name(entry, role, files), "config"),
        "data": data,
    }
    obj["metadata"]["labels"]["modelyard.dev/slice"] = role
    if binary:
        obj["binaryData"] = binary
    return obj


def configmap_name(entry: ModelEntry, role: str, files: Mapping[str, bytes]) -> str:
    """``<id>-<role>-<hash10>``: a new content is a new name."""
    return f"{entry.id}-{role}-{content_hash(files)}"


def workspace_configmap(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """The ConfigMap of the server pods' slice."""
    return _configmap(ctx, entry, "workspace", server_files(ctx, entry))


def source_configmap(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]
) -> dict[str, Any]:
    """The ConfigMap of the training pods' slice (the model's whole folder)."""
    return _configmap(ctx, entry, "source", source_files(ctx, entry, folder))


def volume_of(name: str, files: Mapping[str, bytes]) -> dict[str, Any]:
    """The pod volume ``workspace`` laying ConfigMap ``name``'s keys out as the workspace."""
    keys = flat_keys(list(files))
    return {
        "name": "workspace",
        "configMap": {
            "name": name,
            "items": [{"key": keys[path], "path": path} for path in sorted(files)],
        },
    }


def server_volume(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    files = server_files(ctx, entry)
    return volume_of(configmap_name(entry, "workspace", files), files)


def source_volume(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]
) -> dict[str, Any]:
    files = source_files(ctx, entry, folder)
    return volume_of(configmap_name(entry, "source", files), files)
