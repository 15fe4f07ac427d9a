"""The thin adapter over lightkube: the only module that imports the Kubernetes client.

:class:`KubeCluster` implements :class:`~modelyard.k8s.cluster.Cluster` (server-side apply with
field manager ``modelyard``, list by labels, delete, patch, pods, logs, events, metrics).
lightkube is imported when a KubeCluster is made, never at module import, and its errors are
translated once, here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from modelyard.errors import ConfigError, Conflict, ModelyardError, NotFound, Unavailable
from modelyard.k8s.cluster import MANAGED_KINDS, Kind, readable_kind
from modelyard.k8s.context import FIELD_MANAGER
from modelyard.k8s.plan import ObjectKey
from modelyard.k8s.validate import CRD_GROUPS

T = TypeVar("T")


class KubeError(ModelyardError):
    """The Kubernetes API refused a request for a reason none of the bases covers."""


class NoKubeconfig(ConfigError):
    """No kubeconfig (or not the context named): the user's setup, not a passing failure."""


def _retry_after(exc: Any) -> float | None:
    """Seconds the API server asked us to wait (``Retry-After`` or the Status details)."""
    details = getattr(getattr(exc, "status", None), "details", None)
    seconds = getattr(details, "retryAfterSeconds", None)
    if seconds:
        return float(seconds)
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        return float(header) if header else None
    except ValueError:
        return None


def _translate(call: Callable[[], T], what: str) -> T:
    import httpx
    from lightkube.core.exceptions import ApiError
    from lightkube.core.exceptions import ConfigError as KubeConfigError

    try:
        return call()
    except ApiError as exc:
        code, message = exc.status.code, exc.status.message
        text = f"{what}: Kubernetes answered {code}: {message}"
        if code == 404:
            raise NotFound(text) from exc
        if code == 409:
            raise Conflict(f"{text}; another field manager owns these fields") from exc
        if code is not None and (code >= 500 or code == 429):
            raise Unavailable(text, _retry_after(exc)) from exc
        raise KubeError(text) from exc
    except KubeConfigError as exc:
        raise NoKubeconfig(
            f"{what}: no usable kubeconfig: {exc}; set KUBECONFIG, or kubernetes.context in "
            "modelyard.yaml (a dry run needs neither: --dry-run)"
        ) from exc
    except httpx.HTTPError as exc:
        raise Unavailable(f"{what}: cannot reach the Kubernetes API: {exc}", 5.0) from exc


class KubeCluster:
    """A real cluster, reached through the kubeconfig (``context`` or the current one)."""

    def __init__(self, context: str | None = None) -> None:
        from lightkube import Client, KubeConfig
        from lightkube.generic_resource import create_namespaced_resource

        def connect() -> Any:
            config = KubeConfig.from_env()
            return Client(config.get(context_name=context), field_manager=FIELD_MANAGER)

        self._client = _translate(connect, "connect")
        for kind in MANAGED_KINDS:
            if kind.group in CRD_GROUPS:
                version = kind.api_version.split("/")[1]
                create_namespaced_resource(kind.group, version, kind.kind, kind.plural)

    @staticmethod
    def _resource(api_version: str, kind: str) -> Any:
        from lightkube.codecs import resource_registry

        return resource_registry.load(api_version, kind)

    def list_owned(
        self, kinds: Sequence[Kind], namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for kind in kinds:
            res = self._resource(kind.api_version, kind.kind)

            def listing(res: Any = res) -> list[Any]:
                return list(self._client.list(res, namespace=namespace, labels=dict(selector)))

            for obj in _translate(listing, f"list {kind.kind}"):
                data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
                data.setdefault("apiVersion", kind.api_version)
                data.setdefault("kind", kind.kind)
                out.append(data)
        return out

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        from lightkube.codecs import from_dict

        resource = from_dict(dict(obj))
        stored = _translate(
            lambda: self._client.apply(
                resource, field_manager=FIELD_MANAGER, force=True, dry_run=dry_run
            ),
            f"apply {ObjectKey.of(obj)}",
        )
        result: dict[str, Any] = stored.to_dict() if hasattr(stored, "to_dict") else dict(stored)
        return result

    def delete(self, key: ObjectKey, *, dry_run: bool = False) -> None:
        kind = next(k for k in MANAGED_KINDS if k.kind == key.kind and k.group == key.group)
        res = self._resource(kind.api_version, kind.kind)
        with contextlib.suppress(NotFound):  # already gone is what we wanted
            _translate(
                lambda: self._client.delete(
                    res, key.name, namespace=key.namespace, dry_run=dry_run
                ),
                f"delete {key}",
            )

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        kind = readable_kind(key)
        res = self._resource(kind.api_version, kind.kind)
        try:
            found = _translate(
                lambda: self._client.get(res, key.name, namespace=key.namespace), f"get {key}"
            )
        except NotFound:
            return None
        data: dict[str, Any] = found.to_dict() if hasattr(found, "to_dict") else dict(found)
        return data

    def patch(
        self, key: ObjectKey, patch: Mapping[str, Any], *, subresource: str | None = None
    ) -> dict[str, Any]:
        from lightkube.types import PatchType

        kind = next(k for k in MANAGED_KINDS if k.kind == key.kind and k.group == key.group)
        res = self._resource(kind.api_version, kind.kind)
        target = getattr(res, "Status", res) if subresource == "status" else res
        stored = _translate(
            lambda: self._client.patch(
                target,
                key.name,
                dict(patch),
                namespace=key.namespace,
                patch_type=PatchType.MERGE,
            ),
            f"patch {key}",
        )
        result: dict[str, Any] = stored.to_dict() if hasattr(stored, "to_dict") else dict(stored)
        return result

    def pod_metrics(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        from lightkube.generic_resource import create_namespaced_resource

        res = create_namespaced_resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")
        found = _translate(
            lambda: list(self._client.list(res, namespace=namespace, labels=dict(selector))),
            "read pod metrics (is metrics-server installed?)",
        )
        return [obj.to_dict() if hasattr(obj, "to_dict") else dict(obj) for obj in found]

    def pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        from lightkube.resources.core_v1 import Pod

        found = _translate(
            lambda: list(self._client.list(Pod, namespace=namespace, labels=dict(selector))),
            f"list pods of {dict(selector)}",
        )
        return [pod.to_dict() for pod in found]

    def pod_log(
        self, namespace: str, pod: str, *, tail_lines: int | None = None, previous: bool = False
    ) -> str:
        return "".join(
            _translate(
                lambda: list(
                    self._client.log(
                        pod, namespace=namespace, tail_lines=tail_lines, previous=previous
                    )
                ),
                f"logs of {pod}",
            )
        )

    def event_list(self, namespace: str, name: str) -> list[dict[str, Any]]:
        from lightkube.resources.core_v1 import Event

        found = _translate(
            lambda: list(
                self._client.list(Event, namespace=namespace, fields={"involvedObject.name": name})
            ),
            f"events of {name}",
        )
        return [e.to_dict() for e in found]

    def follow_log(self, namespace: str, pod: str) -> Iterator[str]:
        yield from _translate(
            lambda: self._client.log(pod, namespace=namespace, follow=True, newlines=False),
            f"logs of {pod}",
        )
