"""Manifests as YAML: multi-document text, and a kustomize-friendly folder per model.

Layout of ``render --out DIR``::

    DIR/kustomization.yaml          # resources: every model folder
    DIR/<id>/kustomization.yaml     # resources: the model's object files
    DIR/<id>/<kind>-<name>.yaml     # one object per file
    DIR/<id>/training-job.yaml      # the training Job template, not in the kustomization

Output is deterministic: the same specs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from modelyard.k8s.render import Manifest, ModelManifests

JOB_FILE = "training-job.yaml"
KUSTOMIZATION = "kustomization.yaml"

_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[misc, valid-type]
    """Safe dumper that writes multi-line strings (scripts, files) as literal blocks, and
    never anchors or aliases: a shared dict (a selector, a probe) is written out in full
    wherever it appears, as kubectl, kustomize and every reviewer expect."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(obj: Any) -> str:
    """One YAML document, keys in the order they were built."""
    text: str = yaml.dump(
        obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 16
    )
    return text


def to_documents(objects: Iterable[Manifest]) -> str:
    """A multi-document YAML stream."""
    return "".join(f"---\n{to_yaml(obj)}" for obj in objects)


def file_name(obj: Manifest) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def model_files(model: ModelManifests, namespace: str) -> dict[str, str]:
    """File name -> content of one model's folder."""
    files = {file_name(obj): to_yaml(obj) for obj in model.objects}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": list(files),
    }
    files[KUSTOMIZATION] = to_yaml(kustomization)
    if model.job is not None:
        files[JOB_FILE] = to_yaml(model.job)
    return files


def write_tree(rendered: Sequence[ModelManifests], out: Path, namespace: str) -> list[Path]:
    """Write one folder per model under ``out`` and a top kustomization; return the paths.

    Files of a model folder that are no longer rendered are removed, so the folder stays an
    exact picture of the specs; other folders are left alone.
    """
    written: list[Path] = []
    folders = []
    for model in rendered:
        folder = out / model.model_id
        folder.mkdir(parents=True, exist_ok=True)
        files = model_files(model, namespace)
        for stale in folder.glob("*.yaml"):
            if stale.name not in files:
                stale.unlink()
        for name, content in files.items():
            path = folder / name
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                path.write_text(content, encoding="utf-8")
            written.append(path)
        folders.append(model.model_id)
    top = out / KUSTOMIZATION
    existing = _existing_resources(top)
    resources = sorted(set(existing) | set(folders))
    top.write_text(
        to_yaml(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            }
        ),
        encoding="utf-8",
    )
    written.append(top)
    return written


def _existing_resources(top: Path) -> list[str]:
    # Rendering a few models must not drop the others from the top kustomization.
    if not top.exists():
        return []
    data = yaml.safe_load(top.read_text(encoding="utf-8")) or {}
    return [r for r in data.get("resources", []) if (top.parent / r).is_dir()]
