"""What a policy scanner checks in a modelyard pod, in one place: the "restricted" security
contexts, credentials mounted as files, the image pull policy, and the annotations that
suppress a check with the reason written beside it.

Rendered objects pass checkov with zero failed checks (``tests/k8s/test_checkov.py``). A check
is suppressed only where the specs leave no better choice, with a ``checkov.io/skipN:
CKV_ID=why`` annotation on the object, so whoever reads the manifest reads the reason too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.context import RenderContext

RUN_AS = 10001
"""uid and gid of every modelyard container (the images' non-root user)."""
CREDENTIALS_SECRET = "modelyard-credentials"  # noqa: S105 - a secret's name, not a secret
"""Required secret, one per namespace, with object-store and tracking credentials and the
admin token; ``apply`` refuses to go on without it (see :func:`secret_missing`)."""
CREDENTIALS_DIR = "/var/run/secrets/modelyard"
"""Where every key of the credentials secret is a file, readable by the pod's group only."""
AWS_CREDENTIALS_KEY = "aws-credentials"
"""Secret key holding a boto3 shared-credentials file (``[default]`` profile) for ``s3://``."""
MLFLOW_CREDENTIALS_KEY = "mlflow-credentials"
"""Secret key holding MLflow's credentials file (``[mlflow]`` username and password)."""
ADMIN_TOKEN_KEY = "admin-token"  # noqa: S105 - a key's name
"""Secret key holding the model servers' admin API token (one for every replica)."""
ADMIN_TOKEN_FILE = f"{CREDENTIALS_DIR}/{ADMIN_TOKEN_KEY}"
MLFLOW_CREDENTIALS_DIR = "/tmp/.mlflow"  # noqa: S108 - HOME is /tmp; MLflow reads ~/.mlflow
SECRET_FILE_MODE = 0o440
"""Secret files are owned by root and the pod's fsGroup, and read by that group only."""
DIGEST_CHECK = "CKV_K8S_43"
"""checkov: "Image should use digest"."""


def container_security() -> dict[str, Any]:
    """The container half of the "restricted" pod security standard."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security() -> dict[str, Any]:
    """The pod half of the "restricted" standard: a fixed non-root user, seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def has_digest(image: str) -> bool:
    """``repo@sha256:...`` (the config checks the digest's form when it loads)."""
    return "@" in image


def pull_policy(image: str) -> str:
    """``IfNotPresent`` for a digest, which cannot change; ``Always`` for a tag, which can.

    ``Always`` makes the kubelet ask the registry what the tag means at every pod start, so
    that pods never run a stale copy of a moved tag (checkov CKV_K8S_15).
    """
    return "IfNotPresent" if has_digest(image) else "Always"


def credential_env(s3_endpoint_url: str | None = None) -> list[dict[str, Any]]:
    """Variables that point the clients at the credential files (names, never secrets), and
    MLflow's S3 client at the workspace's S3 endpoint (``s3.endpoint_url``) when it has one."""
    found = [
        {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": f"{CREDENTIALS_DIR}/{AWS_CREDENTIALS_KEY}"}
    ]
    if s3_endpoint_url is not None:
        found.append({"name": "MLFLOW_S3_ENDPOINT_URL", "value": s3_endpoint_url})
    return found


def credential_mounts() -> list[dict[str, Any]]:
    """The credentials secret as read-only files, never as environment variables.

    Environment variables leak into ``/proc``, crash reports and child processes; files
    do not, and a rotated secret reaches the files of a running pod.
    """
    return [
        {"name": "credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True},
        {"name": "mlflow-credentials", "mountPath": MLFLOW_CREDENTIALS_DIR, "readOnly": True},
    ]


def credential_volumes() -> list[dict[str, Any]]:
    """Two views of the credentials secret: every key, and MLflow's own file.

    Not ``optional``: a pod without its credentials would start and fail later, far from
    the cause; a missing secret keeps it Pending with an event naming the secret, and
    ``apply`` checks for it first.
    """
    secret: dict[str, Any] = {"secretName": CREDENTIALS_SECRET, "defaultMode": SECRET_FILE_MODE}
    mlflow_file = [{"key": MLFLOW_CREDENTIALS_KEY, "path": "credentials"}]
    return [
        {"name": "credentials", "secret": dict(secret)},
        {"name": "mlflow-credentials", "secret": {**secret, "items": mlflow_file}},
    ]


def skip_annotations(skips: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``checkov.io/skipN: CHECK=why`` annotations, numbered from 1.

    checkov splits the value on its ``=``; one inside a reason (a runtime's name, say) would
    break the annotation, so it is written ``-`` there.
    """
    return {
        f"checkov.io/skip{number}": f"{check}={why.replace('=', '-')}"
        for number, (check, why) in enumerate(skips, start=1)
    }


def workload_skips(ctx: RenderContext, entry: ModelEntry) -> dict[str, str]:
    """Suppressions on an object that runs ``entry``'s image (Rollout, Deployment, Job...).

    Only one: an image given by tag, because ``runtimes.yaml`` names no digest. The reason
    says how to pin the image, which lifts the suppression.
    """
    if has_digest(ctx.image(entry)):
        return {}
    runtime = entry.spec.runtime
    why = (
        f"runtime {runtime} names its image by tag; imagePullPolicy Always resolves the tag "
        f"at every pod start. Pin it in runtimes.yaml with image: repo@sha256:<digest>"
    )
    return skip_annotations([(DIGEST_CHECK, why)])


def service_account(ctx: RenderContext) -> dict[str, Any]:
    """The ServiceAccount every modelyard pod runs as; pods mount no API token of it."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": ctx.service_account,
            "namespace": ctx.namespace,
            "labels": {**ctx.owner_selector(), "app.kubernetes.io/component": "identity"},
        },
        "automountServiceAccountToken": False,
    }


def secret_howto(namespace: str) -> str:
    """How to create the credentials secret, for error messages and docs."""
    return (
        f"kubectl -n {namespace} create secret generic {CREDENTIALS_SECRET} "
        f"--from-file={AWS_CREDENTIALS_KEY}=./aws-credentials "
        f"--from-file={MLFLOW_CREDENTIALS_KEY}=./mlflow-credentials "
        f"--from-file={ADMIN_TOKEN_KEY}=./admin-token"
    )
