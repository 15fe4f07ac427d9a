"""Which runtime serves a model: chosen from the framework table, not an if-chain.

The table is :mod:`modelyard.frameworks` (built-ins, then installed plug-ins, pyfunc last).
A model whose ``model.yaml`` names its framework gets that runtime; otherwise the first row
whose runtime serves one of the flavors in ``MLmodel`` wins. Runtime classes are imported on
first use, so choosing one imports only its framework.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from modelyard.errors import ConfigError
from modelyard.frameworks import ENTRY_POINT_GROUP, Framework, framework, frameworks
from modelyard.serving.options import FastLoadStore
from modelyard.serving.protocol.errors import ModelLoadError
from modelyard.serving.protocol.signature import MLModel, read_mlmodel
from modelyard.serving.runtimes.base import Runtime


class UnknownFramework(ConfigError):
    """A framework that no built-in runtime or installed plug-in serves."""


@cache
def _resolve(row: Framework) -> type[Runtime]:
    where = "built-in runtime" if row.builtin else f"entry point {ENTRY_POINT_GROUP}:{row.name}"
    module, _, attr = row.target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except Exception as exc:
        raise ModelLoadError(
            f"runtime {row.name!r} ({where} = {row.target!r}) cannot be imported: {exc!r}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Runtime)):
        raise ModelLoadError(
            f"runtime {row.name!r} ({where} = {row.target!r}) is not a subclass of "
            "modelyard.serving.runtimes.Runtime"
        )
    return cls


def runtime_class(name: str) -> type[Runtime]:
    """The runtime class registered under framework ``name``."""
    row = framework(name)
    if row is None:
        known = ", ".join(f.name for f in frameworks())
        raise UnknownFramework(
            f"no runtime serves framework {name!r}: known frameworks are {known}; install "
            f"the package that registers it under the {ENTRY_POINT_GROUP!r} entry points"
        )
    return _resolve(row)


def runtime_for(
    path: Path,
    method: str = "predict",
    *,
    allow_pickle: bool = True,
    fastload: FastLoadStore | None = None,
    framework_name: str | None = None,
) -> Runtime:
    """An unloaded runtime that suits the model at ``path``.

    ``framework_name`` (model.yaml's ``framework``) picks the runtime outright; without it the
    ``MLmodel`` flavors choose. ``allow_pickle=False``: the runtime refuses, at load, formats
    that run code when loaded. ``fastload``: where a runtime may keep a fast-load copy.
    """
    if framework_name is not None:
        cls = runtime_class(framework_name)
    else:
        cls = _by_flavor(read_mlmodel(path))
    return cls(method, allow_pickle=allow_pickle, fastload=fastload)


def _by_flavor(mlmodel: MLModel) -> type[Runtime]:
    """The first row that serves one of the model's flavors. A built-in's name is its MLflow
    flavor, so only the chosen built-in is imported; a plug-in's flavors are known once it is
    imported; pyfunc, which every MLflow model has, is the last resort."""
    *rows, fallback = frameworks()
    for row in rows:
        if row.builtin and row.name not in mlmodel.flavors:
            continue
        cls = _resolve(row)
        if cls.serves(mlmodel):
            return cls
    return _resolve(fallback)
