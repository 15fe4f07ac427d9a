"""The imports a model server defers or refuses, and the gate that makes them safe to do late.

Two libraries cost a replica far more than serving its model needs:

- **pandas.** scikit-learn imports it whenever it is installed (``sklearn.utils.fixes``:
  ``try: import pandas``): half a second and about 65 MiB per server, for a model that takes a
  tensor and never sees a DataFrame. A server whose first model is such a model answers
  ``import pandas`` with ImportError for its whole life (:func:`refuse_pandas`, a meta-path
  finder, so pandas stays absent from ``sys.modules``, as where it is not installed).
  A column-signature model loaded later (a canary), or a model whose load turns out to import
  pandas, calls :func:`need_pandas`: the refusal is lifted and pandas imported.
- **PyArrow.** About 37 MiB. The prediction log writes its Parquet files without it
  (``dataplane.parquet``), so a server never imports it; anything that must import it (or
  another module scikit-learn looks up) late does so through :func:`need`.

A module being imported sits half-initialised in ``sys.modules`` until its import ends, and
scikit-learn's input checks look pandas and pyarrow up there on every call
(``sklearn.utils._dataframe``: ``sys.modules["pyarrow"].Table``): a check on another thread
during the import fails (an AttributeError, a 500). So inference runs under
``GATE.shared()``, and a late import of either runs under ``GATE.alone()``, which waits for
the inference in flight and holds new inference back until the module is whole (once per
process, a few hundred milliseconds at most).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType


class ImportGate:
    """A readers-writer lock: inference shares it, a late import holds it alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._writer = True  # from here new readers wait
            while self._readers:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


GATE = ImportGate()
"""The process's gate: ``runtime`` predicts under ``shared()``; late imports take ``alone()``."""


class _RefusePandas:
    """A meta-path finder that answers ``import pandas`` (and its submodules) with ImportError."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(
                "pandas is refused in this model server (its model takes a tensor)",
                name=name,
            )


_REFUSAL = _RefusePandas()


def refuse_pandas() -> bool:
    """Refuse pandas in this process from now on, unless it is imported already; returns
    whether it is refused."""
    if "pandas" in sys.modules:
        return False
    if _REFUSAL not in sys.meta_path:
        sys.meta_path.insert(0, _REFUSAL)
    return True


def pandas_refused() -> bool:
    return _REFUSAL in sys.meta_path


def refuse_pandas_for(path: Path) -> bool:
    """Refuse pandas when the model at ``path`` is one that modelyard feeds arrays without
    pandas (scikit-learn or ONNX, with a tensor signature or none); returns whether it is
    refused. Call it in a server process before the model loads."""
    from modelyard.serving.protocol.errors import ModelLoadError
    from modelyard.serving.protocol.signature import read_mlmodel

    try:
        mlmodel = read_mlmodel(path)
    except ModelLoadError:
        return False  # the load will say what is wrong
    if mlmodel.signature.columns is not None or not ({"sklearn", "onnx"} & set(mlmodel.flavors)):
        return False
    return refuse_pandas()


def need(module: str) -> ModuleType:
    """``module``, imported under the gate when it is not imported yet."""
    found = sys.modules.get(module)
    if found is not None:
        return found
    with GATE.alone():
        return importlib.import_module(module)


def need_pandas() -> ModuleType:
    """pandas, with the refusal lifted (under the gate: other threads may be predicting)."""
    found = sys.modules.get("pandas")
    if found is not None:
        return found
    with GATE.alone():
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(_REFUSAL)
        return importlib.import_module("pandas")
