"""Notebooks on Kubernetes: a one-replica StatefulSet, its headless Service and an ingress
NetworkPolicy per model.

The pod runs the same command as a laptop, ``modelyard notebook <id>``, in the model's runtime
image, on the workspace slice mounted from the model's ConfigMap: the kernel gets the
workspace's tracking URI and the model's experiment exactly as locally. The user's files live
on a volume claimed per pod (``volumeClaimTemplates``) at :data:`WORK_DIR`, kept when the
StatefulSet is deleted or scaled down; the pod is otherwise the server's "restricted" pod
(uid 10001, read-only root, an emptyDir ``/tmp``, credentials as files).

The token is a Secret the user creates (``<id>-notebook-token``, key ``token``), mounted as
a file and handed to Jupyter as one, so it is never in the manifest, the pod's environment or
its log. Notebook objects carry no ``app.kubernetes.io/part-of`` label: ``modelyard apply``
prunes what carries it and no longer renders, and a notebook (with the user's volume) must not
vanish at the next apply of the models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.config import ModelEntry, Workspace
from modelyard.k8s.bundle import MOUNT_PATH, source_volume
from modelyard.k8s.context import RenderContext, RenderError, labels, selector_labels
from modelyard.k8s.pods import env, gpu_tolerations, training_resources
from modelyard.k8s.render import RETIRED_STATES, Manifest, ModelManifests, read_folder
from modelyard.k8s.security import (
    container_security,
    credential_mounts,
    credential_volumes,
    pod_security,
    pull_policy,
    workload_skips,
)

COMPONENT = "notebook"
NOTEBOOK_PORT = 8888
WORK_DIR = "/work"
"""Where the user's files live in the pod (the claimed volume); JupyterLab opens here."""
WORK_SIZE = "10Gi"
"""Size each notebook's volume claims; resize the claim on the cluster if it needs more."""
TOKEN_DIR = "/var/run/secrets/modelyard-notebook"  # noqa: S105 - a folder, not a secret
TOKEN_KEY = "token"  # noqa: S105 - the Secret's key name
TOKEN_FILE_MODE = 0o440
TMP_SIZE = "2Gi"
NOTEBOOKS_FOLDER = "notebooks"
"""``render --out DIR`` writes a model's notebook objects under ``DIR/notebooks/<id>/``."""


def notebook_name(entry: ModelEntry) -> str:
    """``<id>-notebook``: at most 51 characters (ids are at most 42), under the 52 that a
    StatefulSet's name may have for its pods' ``controller-revision-hash`` label to fit."""
    return f"{entry.id}-notebook"


def token_secret_name(entry: ModelEntry) -> str:
    return f"{entry.id}-notebook-token"


def notebook_labels(ctx: RenderContext, entry: ModelEntry) -> dict[str, str]:
    """The model's labels without the one ``apply`` prunes by (see the module docstring)."""
    found = labels(ctx, entry, COMPONENT)
    del found["app.kubernetes.io/part-of"]
    return {**found, "modelyard.dev/workspace": ctx.workspace}


def _metadata(ctx: RenderContext, entry: ModelEntry, extra: dict[str, str]) -> dict[str, Any]:
    return {
        "name": notebook_name(entry),
        "namespace": ctx.namespace,
        "labels": notebook_labels(ctx, entry),
        "annotations": {"modelyard.dev/dri": entry.spec.owner.dri, **extra},
    }


def _tracking_env(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    # `modelyard notebook` sets these from the mounted workspace itself; they are written
    # here too so that whoever reads the manifest sees where the notebook's runs go.
    found: list[dict[str, Any]] = [{"name": "MLFLOW_EXPERIMENT_NAME", "value": entry.id}]
    uri = ctx.settings.tracking_uri
    if uri is not None and "://" in uri and not uri.startswith(("sqlite:", "file:")):
        found.insert(0, {"name": "MLFLOW_TRACKING_URI", "value": uri})
    return found


def _probe(failures: int) -> dict[str, Any]:
    # A new dict each time: a shared one would come out as a YAML anchor and alias.
    return {"tcpSocket": {"port": "http"}, "periodSeconds": 5, "failureThreshold": failures}


def notebook_container(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    # the runtime image with the notebook layer (JupyterLab, ipykernel, nbclient)
    image = ctx.image(entry, notebook=True)
    return {
        "name": COMPONENT,
        "image": image,
        "imagePullPolicy": pull_policy(image),
        "args": [
            *("modelyard", "notebook", entry.id, "-w", MOUNT_PATH),
            *("--host", "0.0.0.0", "--port", str(NOTEBOOK_PORT)),  # noqa: S104 - in the pod
            *("--no-browser", "--root-dir", WORK_DIR),
            *("--token-file", f"{TOKEN_DIR}/{TOKEN_KEY}"),
        ],
        "ports": [{"name": "http", "containerPort": NOTEBOOK_PORT, "protocol": "TCP"}],
        "env": [
            *env(ctx, entry),
            *_tracking_env(ctx, entry),
            # JupyterLab's settings and IPython's history on the user's volume, not in /tmp.
            {"name": "JUPYTERLAB_SETTINGS_DIR", "value": f"{WORK_DIR}/.jupyter/lab/settings"},
            {"name": "JUPYTERLAB_WORKSPACES_DIR", "value": f"{WORK_DIR}/.jupyter/lab/workspaces"},
            {"name": "IPYTHONDIR", "value": f"{WORK_DIR}/.ipython"},
        ],
        "resources": training_resources(entry),
        # JupyterLab's HTTP routes all want the token; an open port is what can be probed.
        "readinessProbe": _probe(failures=3),
        "livenessProbe": _probe(failures=6),
        "startupProbe": _probe(failures=60),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "workspace", "mountPath": MOUNT_PATH, "readOnly": True},
            {"name": "work", "mountPath": WORK_DIR},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
            {"name": "notebook-token", "mountPath": TOKEN_DIR, "readOnly": True},
            *credential_mounts(),
        ],
    }


def _volumes(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]
) -> list[dict[str, Any]]:
    token = {
        "secretName": token_secret_name(entry),
        # Not optional: without its token the pod waits (an event names the Secret) rather
        # than start a server nobody can log into.
        "optional": False,
        "defaultMode": TOKEN_FILE_MODE,
        "items": [{"key": TOKEN_KEY, "path": TOKEN_KEY}],
    }
    return [
        # The training pods' ConfigMap (the model's whole folder), applied with the model.
        source_volume(ctx, entry, folder),
        {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE}},
        {"name": "notebook-token", "secret": token},
        *credential_volumes(),
    ]


def statefulset(ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]) -> Manifest:
    """The notebook's StatefulSet: one pod, its volume claimed from the cluster's default
    storage class and retained when the StatefulSet goes."""
    pod: dict[str, Any] = {
        "serviceAccountName": ctx.service_account,
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": [notebook_container(ctx, entry)],
        "volumes": _volumes(ctx, entry, folder),
    }
    tolerations = gpu_tolerations(entry.spec.training.resources.gpu)
    if tolerations:
        pod["tolerations"] = tolerations
    claim_labels = notebook_labels(ctx, entry)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(ctx, entry, workload_skips(ctx, entry)),
        "spec": {
            "serviceName": notebook_name(entry),
            "replicas": 1,
            "selector": {"matchLabels": selector_labels(entry, COMPONENT)},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "template": {"metadata": {"labels": notebook_labels(ctx, entry)}, "spec": pod},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "work", "labels": claim_labels},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": WORK_SIZE}},
                    },
                }
            ],
        },
    }


def service(ctx: RenderContext, entry: ModelEntry) -> Manifest:
    """The headless Service that names the notebook's pod (``<name>-0.<name>``)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(ctx, entry, {}),
        "spec": {
            "clusterIP": "None",
            "selector": selector_labels(entry, COMPONENT),
            "ports": [{"name": "http", "port": NOTEBOOK_PORT, "targetPort": "http"}],
        },
    }


def _gateway_peer(ctx: RenderContext) -> list[dict[str, Any]]:
    """The ingress gateway's pods, where ``kubernetes.gateway`` routes outside traffic in."""
    k8s = ctx.settings.kubernetes
    if k8s.gateway is None:
        return []
    namespace = {"kubernetes.io/metadata.name": k8s.ingress_gateway_namespace}
    return [
        {
            "namespaceSelector": {"matchLabels": namespace},
            "podSelector": {"matchLabels": dict(k8s.ingress_gateway_labels)},
        }
    ]


def network_policy(ctx: RenderContext, entry: ModelEntry) -> Manifest:
    """Ingress to the notebook's port from the namespace's pods (a proxy in front of it) and
    the mesh gateway only. Egress stays open: a notebook reads data and installs packages
    from wherever its user works. ``kubectl port-forward`` goes through the kubelet, which
    no NetworkPolicy filters."""
    port = [{"protocol": "TCP", "port": NOTEBOOK_PORT}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(ctx, entry, {}),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(entry, COMPONENT)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}, *_gateway_peer(ctx)], "ports": port}],
        },
    }


def notebook_objects(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes]
) -> list[Manifest]:
    """The NetworkPolicy, Service and StatefulSet of ``entry``'s notebook (pure)."""
    if entry.spec.state in RETIRED_STATES:
        raise RenderError(
            entry.id,
            str(entry.dir / "model.yaml"),
            "state",
            f"a {entry.spec.state} model renders no workspace ConfigMap for a notebook to "
            "mount; set another state to work on it in a notebook",
        )
    return [network_policy(ctx, entry), service(ctx, entry), statefulset(ctx, entry, folder)]


def render_notebooks(ws: Workspace, model_ids: Sequence[str]) -> list[ModelManifests]:
    """One :class:`ModelManifests` per model named, with ``model_id`` set to the folder that
    ``render --out`` writes it to (``notebooks/<id>``)."""
    ctx = RenderContext.of(ws)
    return [
        ModelManifests(
            f"{NOTEBOOKS_FOLDER}/{model_id}",
            tuple(notebook_objects(ctx, ws.model(model_id), read_folder(ws.model(model_id)))),
            None,
        )
        for model_id in sorted(set(model_ids))
    ]
