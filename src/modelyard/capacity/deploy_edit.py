"""Writing recommended requests into ``deploy.yaml``, changing nothing else in the file.

ruamel.yaml's round trip keeps comments, key order and quoting; only ``resources.cpu`` and
``resources.memory`` are set (the ``resources`` mapping is added when the file has none).
Quantities are written as Kubernetes writes them, rounded up: CPU to 5 millicores, memory to
whole MiB.
"""

from __future__ import annotations

import io
import math

from modelyard.errors import ConfigError

__all__ = ["cpu_quantity", "edit_resources", "memory_quantity"]


def cpu_quantity(cores: float) -> str:
    """``0.3412`` -> ``'345m'``; whole cores are written as ``'2'``."""
    millis = max(5, math.ceil(cores * 1000 / 5) * 5)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_quantity(memory_bytes: float) -> str:
    """``300.2 MiB`` -> ``'301Mi'``; whole GiB are written as ``'2Gi'``."""
    mib = max(1, math.ceil(memory_bytes / 2**20))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def edit_resources(text: str, cpu: str | None, memory: str | None, *, path: str) -> str:
    """``text`` of a deploy.yaml with its requests set to ``cpu`` and ``memory``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    # keep a written ``null`` as ``null`` (ruamel would drop it to an empty value)
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError(f"{path}: cannot be parsed as YAML: {exc}") from exc
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError(f"{path}:1: expected a mapping at the top of deploy.yaml")
    resources = doc.get("resources")
    if resources is None:
        resources = CommentedMap()
        doc.insert(0, "resources", resources)
    if not isinstance(resources, CommentedMap):
        raise ConfigError(f"{path}: resources: expected a mapping of cpu and memory")
    if cpu is not None:
        resources["cpu"] = cpu
    if memory is not None:
        resources["memory"] = memory
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()
