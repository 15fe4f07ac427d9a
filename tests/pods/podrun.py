"""Run a rendered pod template in real containers with podman, the nearest thing to a kubelet here.

``podman kube play`` (4.3) refuses what modelyard renders (a ConfigMap volume whose ``items``
paths hold folders, such as ``models/ctr/model.yaml``), so this harness translates a pod spec
into ``podman run`` calls itself. It keeps every field that can run on one machine and lists
the ones it drops, so a test can assert that nothing that matters was lost:

- kept: image, command, args, env (values, field refs, secret and config map refs), volumes
  (configMap, secret, emptyDir, with ``items``, modes and the pod's ``fsGroup``) and their
  mounts (``readOnly``, ``subPath``), ``runAsUser``/``runAsGroup``/``fsGroup``,
  ``readOnlyRootFilesystem``, dropped capabilities, ``allowPrivilegeEscalation``, resource
  limits (memory, CPU), init containers (run to completion first, in order), the readiness
  probe (polled by :meth:`PodRun.wait_ready` as the kubelet would);
- dropped (listed in :attr:`PodRun.dropped`): scheduling (affinity, spread, tolerations,
  node selectors, priority), the service account, liveness/startup probes, lifecycle hooks,
  ``terminationGracePeriodSeconds``.

Containers share the host's network (a pod's containers share one network namespace; the
host's loopback is where the test's MLflow server and S3 store listen), with ``extra_hosts``
naming those services the way the rendered workspace does.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waiting import wait_until

PODMAN_CONF = Path(__file__).resolve().parents[2] / "scripts" / "containers.conf"

KEPT_POD = {"containers", "initContainers", "volumes", "securityContext", "restartPolicy"}
DROPPED_POD = {
    "affinity",
    "topologySpreadConstraints",
    "tolerations",
    "nodeSelector",
    "priorityClassName",
    "serviceAccountName",
    "automountServiceAccountToken",
    "terminationGracePeriodSeconds",
    "enableServiceLinks",
}
KEPT_CONTAINER = {
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "ports",
    "resources",
    "securityContext",
    "volumeMounts",
    "readinessProbe",
    "workingDir",
}
DROPPED_CONTAINER = {"livenessProbe", "startupProbe", "lifecycle", "terminationMessagePolicy"}


def podman_env() -> dict[str, str]:
    """The environment podman runs in: this project's containers.conf (runc, cgroupfs)."""
    return {**os.environ, "CONTAINERS_CONF": str(PODMAN_CONF)}


def podman(
    *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        check=check,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=podman_env(),
    )


def _cpus(quantity: str) -> str:
    return str(int(quantity[:-1]) / 1000) if quantity.endswith("m") else str(float(quantity))


_UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 10**3, "M": 10**6, "G": 10**9}


def _bytes(quantity: str) -> int:
    for suffix, factor in _UNITS.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


@dataclass
class PodRun:
    """One pod's containers, run by podman; use as a context manager to clean up."""

    name: str
    spec: Mapping[str, Any]
    objects: Mapping[tuple[str, str], Mapping[str, Any]]
    """Objects the pod refers to, by (kind, name): ConfigMaps and Secrets."""
    workdir: Path
    extra_hosts: Mapping[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        unknown = set(self.spec) - KEPT_POD - DROPPED_POD
        if unknown:
            raise ValueError(f"pod fields the harness does not know: {sorted(unknown)}")
        self.dropped += [f"pod.{key}" for key in sorted(set(self.spec) & DROPPED_POD)]
        for kind in ("initContainers", "containers"):
            for container in self.spec.get(kind, []):
                unknown = set(container) - KEPT_CONTAINER - DROPPED_CONTAINER
                if unknown:
                    raise ValueError(f"container fields the harness does not know: {unknown}")
                self.dropped += [
                    f"{container['name']}.{key}"
                    for key in sorted(set(container) & DROPPED_CONTAINER)
                ]
        self._volumes = {v["name"]: self._volume(v) for v in self.spec.get("volumes", [])}

    # ------------------------------------------------------------------ volumes

    def _security(self) -> Mapping[str, Any]:
        return self.spec.get("securityContext", {})

    def _volume(self, volume: Mapping[str, Any]) -> tuple[str, Path | None]:
        """("bind", host folder) or ("tmpfs", None) for each volume of the pod."""
        fs_group = int(self._security().get("fsGroup", 0))
        if "emptyDir" in volume:
            folder = self.workdir / "volumes" / volume["name"]
            folder.mkdir(parents=True)
            os.chown(folder, 0, fs_group)
            folder.chmod(0o2777)
            return "bind", folder
        if "configMap" in volume:
            source = volume["configMap"]
            config_map = self.objects[("ConfigMap", source["name"])]
            data = dict(config_map.get("data", {}))
            data.update(
                {k: base64.b64decode(v) for k, v in config_map.get("binaryData", {}).items()}
            )
            mode = source.get("defaultMode", 0o644)
            return "bind", self._files(volume["name"], data, source.get("items"), mode, 0)
        if "secret" in volume:
            source = volume["secret"]
            secret = self.objects.get(("Secret", source["secretName"]))
            if secret is None:
                if source.get("optional"):
                    return "bind", self._files(volume["name"], {}, None, 0o644, 0)
                raise LookupError(
                    f"secret {source['secretName']} is missing and not optional: the kubelet "
                    "would hold the pod in ContainerCreating"
                )
            data = {k: base64.b64decode(v) for k, v in secret.get("data", {}).items()}
            data.update(secret.get("stringData", {}))
            mode = source.get("defaultMode", 0o644)
            return "bind", self._files(volume["name"], data, source.get("items"), mode, fs_group)
        raise ValueError(f"volume kind the harness does not know: {volume}")

    def _files(
        self,
        name: str,
        data: Mapping[str, str | bytes],
        items: list[Mapping[str, Any]] | None,
        mode: int,
        group: int,
    ) -> Path:
        folder = self.workdir / "volumes" / name
        folder.mkdir(parents=True)
        chosen = items if items is not None else [{"key": k, "path": k} for k in data]
        for item in chosen:
            body = data[item["key"]]
            target = folder / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body.encode() if isinstance(body, str) else body)
            os.chown(target, 0, group)
            target.chmod(item.get("mode", mode))
        for sub in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
            sub.chmod(0o755)
        return folder

    # ------------------------------------------------------------------ containers

    def argv(self, container: Mapping[str, Any], *, detach: bool) -> list[str]:
        """The ``podman run`` arguments for one container of the pod."""
        pod_security = self._security()
        security = {**pod_security, **container.get("securityContext", {})}
        name = f"{self.name}-{container['name']}"
        args = ["run", "--name", name, "--network", "host", "--pull", "never"]
        args += ["--detach"] if detach else []
        for host, address in self.extra_hosts.items():
            args += ["--add-host", f"{host}:{address}"]
        if "runAsUser" in security:
            args += ["--user", f"{security['runAsUser']}:{security.get('runAsGroup', 0)}"]
        if "fsGroup" in pod_security:
            args += ["--group-add", str(pod_security["fsGroup"])]
        if security.get("readOnlyRootFilesystem"):
            args += ["--read-only", "--read-only-tmpfs=false"]
        for cap in security.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", cap.lower()]
        if security.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        limits = container.get("resources", {}).get("limits", {})
        if "memory" in limits:
            args += ["--memory", str(_bytes(limits["memory"]))]
        if "cpu" in limits:
            args += ["--cpus", _cpus(str(limits["cpu"]))]
        for variable in container.get("env", []):
            args += ["--env", f"{variable['name']}={self._env_value(variable)}"]
        for mount in container.get("volumeMounts", []):
            args += ["--volume", self._mount(mount)]
        if "workingDir" in container:
            args += ["--workdir", container["workingDir"]]
        command = container.get("command")
        if command:
            args += ["--entrypoint", command[0]]
        args.append(container["image"])
        args += list(command[1:]) if command else []
        args += list(container.get("args", []))
        return args

    def _env_value(self, variable: Mapping[str, Any]) -> str:
        if "value" in variable:
            return str(variable["value"])
        source = variable["valueFrom"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            return {"metadata.name": self.name, "metadata.namespace": "default"}[path]
        for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if key in source:
                ref = source[key]
                obj = self.objects[(kind, ref["name"])]
                if kind == "Secret":
                    return base64.b64decode(obj["data"][ref["key"]]).decode()
                return str(obj["data"][ref["key"]])
        raise ValueError(f"env source the harness does not know: {source}")

    def _mount(self, mount: Mapping[str, Any]) -> str:
        _, folder = self._volumes[mount["name"]]
        assert folder is not None
        source = folder / mount["subPath"] if "subPath" in mount else folder
        flags = "ro" if mount.get("readOnly") else "rw"
        return f"{source}:{mount['mountPath']}:{flags}"

    def run_init(self, timeout: float = 600) -> None:
        for container in self.spec.get("initContainers", []):
            result = self._run_to_end(container, timeout)
            if result.returncode != 0:
                raise RuntimeError(
                    f"init container {container['name']} exited {result.returncode}:\n"
                    f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
                )

    def run_to_completion(self, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """A Job's pod: init containers, then the (single) main container to its exit."""
        self.run_init(timeout)
        (container,) = self.spec["containers"]
        return self._run_to_end(container, timeout)

    def _run_to_end(
        self, container: Mapping[str, Any], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        args = self.argv(container, detach=False)
        self.started.append(f"{self.name}-{container['name']}")
        return podman(*args, check=False, timeout=timeout)

    def start(self) -> None:
        """A server pod: init containers to completion, then every container detached."""
        self.run_init()
        for container in self.spec["containers"]:
            podman(*self.argv(container, detach=True))
            self.started.append(f"{self.name}-{container['name']}")

    def restart(self) -> None:
        """The kubelet's restart of a crashed container: a new container of the same spec on
        the same volumes (an emptyDir outlives its containers, so a cache in it is kept)."""
        for container in self.spec["containers"]:
            podman("rm", "--force", "--time", "2", f"{self.name}-{container['name']}", check=False)
            podman(*self.argv(container, detach=True))

    def readiness_url(self) -> str:
        container = self.spec["containers"][0]
        probe = container["readinessProbe"]["httpGet"]
        port = probe["port"]
        if isinstance(port, str):
            port = next(p["containerPort"] for p in container["ports"] if p.get("name") == port)
        return f"http://127.0.0.1:{port}{probe['path']}"

    def wait_ready(self, deadline_s: float = 180) -> None:
        """Poll the readiness probe as the kubelet does; fail with the logs at the deadline."""
        url = self.readiness_url()

        def ready() -> bool:
            if not self.running():
                raise RuntimeError(f"the server container exited:\n{self.logs()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return bool(answer.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        wait_until(ready, lambda: f"{url} to be ready:\n{self.logs()}", deadline_s, every_s=0.25)

    def running(self) -> bool:
        name = f"{self.name}-{self.spec['containers'][0]['name']}"
        state = podman("inspect", "--format", "{{.State.Running}}", name, check=False)
        return state.stdout.strip() == "true"

    def logs(self) -> str:
        name = f"{self.name}-{self.spec['containers'][0]['name']}"
        result = podman("logs", name, check=False)
        return (result.stdout + result.stderr)[-6000:]

    def close(self) -> None:
        for name in self.started:
            podman("rm", "--force", "--time", "2", name, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PodRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec inside a Job, Deployment, Rollout, StatefulSet or CronJob."""
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def by_kind_name(documents: Iterator[Mapping[str, Any]]) -> dict[tuple[str, str], Any]:
    """Objects by (kind, name); a template with ``generateName`` is keyed by that prefix."""
    found = {}
    for doc in documents:
        if doc and "metadata" in doc:
            meta = doc["metadata"]
            found[(doc["kind"], meta.get("name") or meta["generateName"])] = doc
    return found
