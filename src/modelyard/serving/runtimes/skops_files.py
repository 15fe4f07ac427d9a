"""Loading scikit-learn models saved as skops files, with an explicit trusted-type list.

MLflow 3 saves scikit-learn models with skops, which refuses any type it does not trust. Its
default list of trusted types is built when ``skops.io`` is first imported, by
``sklearn.utils.all_estimators()``: that imports every scikit-learn module (seconds, and
tens of MiB a process). The server does not use that list. It imports ``skops.io`` with the
estimator scan answered by an empty list, and passes ``load`` an explicit list instead:

- the types MLflow recorded at save time (``skops_trusted_types`` in ``MLmodel``), and
- each type named in the file that is a public scikit-learn estimator class (a concrete
  ``sklearn.base.BaseEstimator`` subclass that a public ``sklearn`` package exports),

which is the policy of skops' own default, checked on the types the file holds rather than on
all of them. Anything else (a function, a class from another package) is refused, as before.
The registry verified the file's checksum before this runs.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from modelyard.serving.protocol.errors import ModelLoadError

_IMPORT_LOCK = threading.Lock()


def skops_io() -> ModuleType:
    """``skops.io``, imported without its scan of every scikit-learn estimator."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    with _IMPORT_LOCK:
        import sklearn.utils

        scan = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = _no_estimators
        try:
            return importlib.import_module("skops.io")
        finally:
            sklearn.utils.all_estimators = scan


def _no_estimators(*args: object, **kwargs: object) -> list[tuple[str, type]]:
    return []


def trusted_estimators(type_names: Iterable[str]) -> list[str]:
    """The names among ``type_names`` that are public scikit-learn estimator classes: what
    ``all_estimators()`` would list (exported by a public ``sklearn`` package, not abstract)."""
    from sklearn.base import BaseEstimator

    trusted = []
    for name in type_names:
        module_name, _, class_name = name.rpartition(".")
        parts = module_name.split(".")
        if parts[0] != "sklearn" or class_name.startswith("_"):
            continue
        public = ".".join(itertools.takewhile(lambda part: not part.startswith("_"), parts))
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
            exported = getattr(importlib.import_module(public), class_name, None)
        except (ImportError, AttributeError):
            continue
        if (
            exported is cls
            and isinstance(cls, type)
            and issubclass(cls, BaseEstimator)
            and not inspect.isabstract(cls)
        ):
            trusted.append(name)
    return trusted


def load_skops(file: Path, recorded: Iterable[str] | None = None) -> Any:
    """Load the skops file ``file``, trusting ``recorded`` types and scikit-learn estimators."""
    sio = skops_io()
    try:
        found = sio.get_untrusted_types(file=file)
        trusted = [*(recorded or ()), *trusted_estimators(found)]
        return sio.load(file, trusted=trusted)
    except Exception as exc:
        raise ModelLoadError(f"{file}: refused or unreadable skops file: {exc}") from exc
