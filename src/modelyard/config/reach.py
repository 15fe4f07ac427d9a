"""Can a pod reach the workspace's tracking server and artifact store?

The local defaults (MLflow on a SQLite file, artifacts in a folder under ``.modelyard/``) live
on the developer's disk. A Kubernetes pod sees neither, nor anything at ``localhost`` (that is
the pod itself), so a workspace that renders or deploys to a cluster with them would fail at
its first training Job or server start, far from the cause. ``pod_reach_issues`` finds them
when the workspace is loaded for the kubernetes backend and says what to write instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from modelyard.config.issues import ConfigIssue
from modelyard.config.schema import WorkspaceSettings
from modelyard.config.yamlfile import YamlDoc

_LOCAL_SCHEMES = frozenset({"", "file", "sqlite"})
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_REMOTE_WITHOUT_HOST = ("mlflow-artifacts:", "databricks")
"""URIs with no ``//host`` that still name a server: the tracking server's artifact proxy,
and Databricks (``databricks`` or ``databricks-uc``, resolved from the profile)."""
_OVERRIDES = {
    "tracking_uri": "MODELYARD_TRACKING_URI",
    "artifact_store": "MODELYARD_ARTIFACT_STORE",
}


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


_DEFAULTS = {
    "tracking_uri": "is unset, so MLflow keeps runs in a SQLite file on this machine",
    "artifact_store": "is unset, so artifacts go to a folder on this machine",
}


def unreachable_why(uri: str | None, key: str = "tracking_uri") -> str | None:
    """Why a pod cannot reach ``uri`` (None: it can, as far as its form tells)."""
    if uri is None:
        return _DEFAULTS.get(key, "is unset")
    if uri.startswith(_REMOTE_WITHOUT_HOST):
        return None
    if "://" not in uri:
        return f"{uri!r} is a path on this machine"
    parts = urlsplit(uri)
    scheme = parts.scheme.lower().split("+")[0]
    if scheme in _LOCAL_SCHEMES:
        return f"{uri!r} is a file on this machine"
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if host and _is_loopback(host):
        return f"{uri!r} names {host}, which inside a pod is the pod itself"
    return None


def pod_reach_issues(
    doc: YamlDoc, settings: WorkspaceSettings, env: Mapping[str, str]
) -> list[ConfigIssue]:
    """Problems that stop a pod from reaching the tracking server or the artifact store."""
    namespace = settings.kubernetes.namespace
    fixes = {
        "tracking_uri": (
            f"write tracking_uri: http://mlflow.{namespace}.svc:5000 (an MLflow tracking server "
            "the pods can reach; see 'A registry pods can reach' in docs/kubernetes.md)"
        ),
        "artifact_store": (
            "write artifact_store: s3://BUCKET/PREFIX (with s3: {endpoint_url: ...} for a store "
            "that is not AWS; see 'A registry pods can reach' in docs/kubernetes.md)"
        ),
    }
    issues: list[ConfigIssue] = []
    for key, value in (
        ("tracking_uri", settings.tracking_uri),
        ("artifact_store", settings.artifact_store),
    ):
        why = unreachable_why(value, key)
        if why is None:
            continue
        via = f" (set by ${_OVERRIDES[key]})" if env.get(_OVERRIDES[key]) else ""
        issues.append(
            ConfigIssue(
                doc.path,
                _line(doc, key),
                key,
                f"pods of the kubernetes backend cannot reach it: it {why}{via}; " + fixes[key],
            )
        )
    endpoint = settings.s3.endpoint_url
    if endpoint is not None and (why := unreachable_why(endpoint)) is not None:
        issues.append(
            ConfigIssue(
                doc.path,
                doc.lines.get(("s3", "endpoint_url")) or 1,
                "s3.endpoint_url",
                f"pods of the kubernetes backend cannot reach it: it {why}; "
                "write the endpoint's cluster address, e.g. http://minio.storage.svc:9000",
            )
        )
    return issues


def _line(doc: YamlDoc, key: str) -> int:
    """The key's line; else the ``backend`` key's (what made this check run); else line 1."""
    return doc.lines.get((key,)) or doc.lines.get(("backend",)) or 1
