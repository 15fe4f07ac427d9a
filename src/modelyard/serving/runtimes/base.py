"""The public runtime base class: what a framework adapter implements to be served.

A runtime loads one MLflow model directory and answers ``predict(batch)`` with an array whose
first axis matches the batch's rows. The server needs four things of it: ``load``,
``predict``, the ``signature`` it serves and, optionally, the rows it warms up with
(``warmup_inputs``). A subclass writes only what differs for its framework:

- ``flavors``: the ``MLmodel`` flavors it can load, most specific first;
- ``load_model(path, conf)``: the framework object, from the model directory and its
  flavor's configuration in ``MLmodel``;
- ``call(model_input)`` (optional): how to ask that object, when not ``model.<method>(rows)``;
- ``warmup_inputs()`` (optional): rows to warm up with, when the saved input example and the
  signature are not enough.

The base class reads ``MLmodel``, turns rows into a DataFrame for column signatures, keeps
late imports (pandas, PyArrow) from racing inference (``imports.GATE``) and turns every
framework exception into :class:`ModelLoadError` or :class:`InferenceError`, so that the
protocols answer them the same way for every framework.

With ``allow_pickle=False`` (``serving.allow_pickle: false`` in model.yaml) every format that
runs code when loaded is refused before it is opened (:class:`PickleRefused`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from modelyard.serving.options import FastLoadStore
from modelyard.serving.protocol.errors import InferenceError, ModelLoadError
from modelyard.serving.protocol.signature import MLModel, Signature, read_mlmodel
from modelyard.serving.runtimes import imports


@runtime_checkable
class ModelRuntime(Protocol):
    """One loaded model. ``predict`` is blocking; the server calls it from a worker thread."""

    def load(self, path: Path) -> None: ...

    def predict(self, batch: np.ndarray) -> np.ndarray: ...

    def unload(self) -> None: ...

    @property
    def signature(self) -> Signature: ...


class PickleRefused(ModelLoadError):
    """The model's format runs code when loaded, and the workspace refuses such formats."""

    def __init__(self, file: Path, fmt: str) -> None:
        super().__init__(
            f"{file}: refusing to load a {fmt} file: it can run any code when loaded, and "
            "model.yaml says serving.allow_pickle: false; register the model as skops "
            "(serialization_format='skops') or serve it as ONNX (serving.format: onnx), "
            "or allow pickles for this model"
        )
        self.file = file


class Runtime:
    """Base class of every framework runtime, built-in or from an installed package.

    ``method`` is the model method that answers (``predict``, ``predict_proba``);
    ``allow_pickle=False`` asks the runtime to refuse formats that run code when loaded;
    ``fastload`` is where a runtime may keep a fast-loading copy of a model it loaded the slow,
    safe way (only the scikit-learn runtime uses it).
    """

    flavors: ClassVar[tuple[str, ...]] = ()
    """``MLmodel`` flavors this runtime loads, most specific first."""

    def __init__(
        self,
        method: str = "predict",
        *,
        allow_pickle: bool = True,
        fastload: FastLoadStore | None = None,
    ) -> None:
        self.method = method
        self.allow_pickle = allow_pickle
        self.fastload = fastload if allow_pickle else None
        self.model: Any = None
        """The framework object ``load_model`` returned; None until loaded."""
        self.flavor = self.flavors[0] if self.flavors else ""
        """The flavor the last ``load`` read (one of ``flavors``)."""
        self._mlmodel: MLModel | None = None

    @classmethod
    def serves(cls, mlmodel: MLModel) -> bool:
        """Whether this runtime can load a model saved with these flavors."""
        return any(f in mlmodel.flavors for f in cls.flavors)

    # ------------------------------------------------------------------ what subclasses write

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        """The framework object of the model at ``path``; ``conf`` is its flavor's section of
        ``MLmodel``. Raise anything: it becomes a :class:`ModelLoadError` naming the path."""
        raise NotImplementedError(f"{type(self).__name__} does not implement load_model")

    def call(self, model_input: Any) -> Any:
        """The model's answer for ``model_input`` (rows, or a DataFrame for column
        signatures): ``model.<method>(model_input)`` unless overridden."""
        return getattr(self.model, self.method)(model_input)

    def warmup_inputs(self) -> np.ndarray | None:
        """Rows to warm the model up with, or None for the saved input example, else rows
        generated from the signature."""
        return None

    # ------------------------------------------------------------------ what the server calls

    @property
    def signature(self) -> Signature:
        if self._mlmodel is None:
            raise ModelLoadError(f"{type(self).__name__}: load() was not called")
        return self._mlmodel.signature

    @property
    def mlmodel(self) -> MLModel | None:
        return self._mlmodel

    def load(self, path: Path) -> None:
        self._mlmodel = read_mlmodel(path)
        self.flavor = next((f for f in self.flavors if f in self._mlmodel.flavors), self.flavor)
        conf = self._mlmodel.flavor(self.flavor) or {}
        if self._mlmodel.signature.columns is not None:
            imports.need_pandas()  # the rows become a DataFrame
        try:
            try:
                self.model = self.load_model(path, conf)
            except ImportError as exc:
                if exc.name is None or exc.name.partition(".")[0] != "pandas":
                    raise
                imports.need_pandas()  # the estimator itself imports pandas: let it
                self.model = self.load_model(path, conf)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"{path}: cannot load the {self.flavor} model: {exc}") from exc

    def unload(self) -> None:
        self.model = None

    def predict(self, batch: np.ndarray) -> np.ndarray:
        try:
            with imports.GATE.shared():  # no late import of pandas or pyarrow meanwhile
                return np.asarray(self.call(self._frame(batch)))
        except Exception as exc:
            raise InferenceError(f"{self.flavor} model raised: {exc!r}") from exc

    def _frame(self, batch: np.ndarray) -> Any:
        """Column-based models get a DataFrame with the signature's column names and types."""
        sig = self.signature
        if sig.columns is None:
            return batch
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]

        frame = pd.DataFrame(batch, columns=list(sig.columns))
        return frame.astype({s.name: s.dtype for s in sig.inputs if s.dtype is not None})
