"""Validation of rendered objects against the official schemas, without a cluster.

Core kinds go through ``kubernetes-validate`` in strict mode (unknown fields are errors) for
:data:`KUBERNETES_VERSION`; custom resources (Argo Rollouts, Istio, Prometheus Operator) go
through the CRD JSON Schemas shipped in ``modelyard/k8s/schemas`` (datree CRDs-catalog).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from modelyard.errors import ConfigError

KUBERNETES_VERSION = "1.31.0"
"""Kubernetes version whose API the rendered objects must fit."""
CRD_GROUPS = frozenset({"argoproj.io", "networking.istio.io", "monitoring.coreos.com"})


class InvalidManifests(ConfigError):
    """Rendered objects do not fit their schemas; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} rendered object(s) do not validate:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


def _errors(validator: Any, obj: Mapping[str, Any]) -> list[str]:
    found = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in found]


@functools.cache
def default_validator() -> Validator:
    """One validator per process, so that schemas are read and compiled once."""
    return Validator()


def default_schema_dir() -> Path:
    """The CRD schemas shipped in the package."""
    return Path(str(resources.files("modelyard.k8s").joinpath("schemas")))


@dataclass
class Validator:
    """Validates objects; caches one compiled JSON Schema validator per CRD kind."""

    schema_dir: Path = field(default_factory=default_schema_dir)
    kubernetes_version: str = KUBERNETES_VERSION
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def problems(self, obj: Mapping[str, Any]) -> list[str]:
        """Every problem with ``obj``, each prefixed by its kind and name; [] when valid."""
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.split("/")[0] if "/" in api_version else ""
        meta = obj.get("metadata", {})
        where = f"{obj.get('kind')}/{meta.get('name') or meta.get('generateName', '') + '*'}"
        if group in CRD_GROUPS:
            return [f"{where}: {message}" for message in self._crd_problems(obj, api_version)]
        return [f"{where}: {message}" for message in self._core_problems(obj)]

    def check(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Raise :class:`InvalidManifests` listing every problem of every object."""
        found = [problem for obj in objects for problem in self.problems(obj)]
        if found:
            raise InvalidManifests(found)

    def _core_problems(self, obj: Mapping[str, Any]) -> list[str]:
        validator = self._core_validator(str(obj.get("apiVersion", "")), str(obj.get("kind")))
        if validator is None:
            return [f"no schema for this kind in Kubernetes {self.kubernetes_version}"]
        return _errors(validator, obj)

    def _core_validator(self, api_version: str, kind: str) -> Any:
        # kubernetes-validate's own validate() re-reads its large definitions file for every
        # object; build each kind's validator once from the same schema files instead.
        key = f"core:{api_version}/{kind}"
        if key not in self._cache:
            import jsonschema
            from kubernetes_validate import utils
            from referencing import Registry, Resource

            folder = f"kubernetes-json-schema/v{self.kubernetes_version}-local-strict"
            # rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1 (the package's file naming)
            name = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            try:
                schema = utils.schema_contents(f"{folder}/{kind.lower()}-{name}.json", "")
            except FileNotFoundError:
                return None
            if "definitions" not in self._cache:
                self._cache["definitions"] = Resource.from_contents(
                    utils.schema_contents(f"{folder}/_definitions.json", "")
                )
            registry = Resource.from_contents(schema) @ (self._cache["definitions"] @ Registry())
            self._cache[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._cache[key]

    def _crd_problems(self, obj: Mapping[str, Any], api_version: str) -> list[str]:
        validator = self._crd_validator(api_version, str(obj.get("kind", "")))
        if validator is None:
            return [f"no CRD schema for {api_version} in {self.schema_dir}"]
        return _errors(validator, obj)

    def _crd_validator(self, api_version: str, kind: str) -> Any:
        key = f"crd:{api_version}/{kind}"
        if key not in self._cache:
            import jsonschema

            group, version = api_version.split("/", 1)
            path = self.schema_dir / group / f"{kind.lower()}_{version}.json"
            if not path.is_file():
                return None
            schema = json.loads(path.read_text(encoding="utf-8"))
            cls = jsonschema.validators.validator_for(schema, jsonschema.Draft7Validator)
            self._cache[key] = cls(schema)
        return self._cache[key]
