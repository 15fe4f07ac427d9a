"""The ``ModelRuntime`` seam and the built-in framework adapters behind it.

A runtime loads one MLflow model directory and answers ``predict(batch)`` with an array whose
first axis matches the batch's rows. The flavor in ``MLmodel`` picks the adapter: scikit-learn,
ONNX Runtime, PyTorch, XGBoost, LightGBM, else the MLflow pyfunc fallback (through
``modelyard.tracking``, the one module that imports mlflow). Frameworks import lazily.
With ``allow_pickle=False`` (``serving.allow_pickle: false`` in model.yaml) every format that
runs code when loaded is refused before it is opened (:class:`PickleRefused`).
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from modelyard.serving import imports
from modelyard.serving.errors import InferenceError, ModelLoadError
from modelyard.serving.signature import MLModel, Signature, read_mlmodel
from modelyard.serving.source import FastLoadStore

log = logging.getLogger(__name__)


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


class _Base:
    """Shared load/unload: read ``MLmodel``, keep the framework object in ``_model``."""

    flavor = ""

    def __init__(self, method: str = "predict", *, allow_pickle: bool = True) -> None:
        self.method = method
        self.allow_pickle = allow_pickle
        self._model: Any = None
        self._mlmodel: MLModel | None = None

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
        conf = self._mlmodel.flavor(self.flavor) or {}
        if self._mlmodel.signature.columns is not None:
            imports.need_pandas()  # the rows become a DataFrame
        try:
            try:
                self._model = self._load(path, conf)
            except ImportError as exc:
                if exc.name is None or exc.name.partition(".")[0] != "pandas":
                    raise
                imports.need_pandas()  # the estimator itself imports pandas: let it
                self._model = self._load(path, conf)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"{path}: cannot load the {self.flavor} model: {exc}") from exc

    def _load(self, path: Path, conf: dict[str, Any]) -> Any:
        raise NotImplementedError

    def unload(self) -> None:
        self._model = None

    def predict(self, batch: np.ndarray) -> np.ndarray:
        try:
            with imports.GATE.shared():  # no late import of pandas or pyarrow meanwhile
                return np.asarray(self._call(self._frame(batch)))
        except Exception as exc:
            raise InferenceError(f"{self.flavor} model raised: {exc!r}") from exc

    def _call(self, batch: Any) -> Any:
        return getattr(self._model, self.method)(batch)

    def _frame(self, batch: np.ndarray) -> Any:
        """Column-based models get a DataFrame with the signature's column names and types."""
        sig = self.signature
        if sig.columns is None:
            return batch
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]

        frame = pd.DataFrame(batch, columns=list(sig.columns))
        return frame.astype({s.name: s.dtype for s in sig.inputs if s.dtype is not None})


class SklearnRuntime(_Base):
    """scikit-learn estimators. A skops file (MLflow 3's default) is loaded with skops and its
    trusted-type list; where pickles are allowed, the estimator is then written back to the
    cache as a fast-load copy, which later servers with the same library versions load with
    ``pickle`` (the modules the estimator needs, not skops' import of much of scikit-learn:
    0.3-0.5 s and about 10 MiB a server). The copy is checksummed in the cache index; a copy
    that does not match is ignored and rewritten, never loaded."""

    flavor = "sklearn"

    def __init__(
        self,
        method: str = "predict",
        *,
        allow_pickle: bool = True,
        fastload: FastLoadStore | None = None,
    ) -> None:
        super().__init__(method, allow_pickle=allow_pickle)
        self.fastload = fastload if allow_pickle else None
        self.loaded_from = ""
        """What the last load read: "skops", "fastload", or the pickle format."""

    def _load(self, path: Path, conf: dict[str, Any]) -> Any:
        file = path / str(conf.get("pickled_model", "model.pkl"))
        fmt = str(conf.get("serialization_format", "cloudpickle"))
        if fmt != "skops" or self.fastload is None:
            self.loaded_from = fmt
            return _deserialize(file, conf, self.allow_pickle)
        key = _fastload_key()
        data = self.fastload.read(key)
        if data is not None:
            try:
                model = pickle.loads(data)  # our own copy, its checksum verified
            except Exception as exc:  # unreadable after all: load the skops file, write anew
                log.warning("%s: fast-load copy not loaded (%s); loading the skops file", path, exc)
            else:
                self.loaded_from = "fastload"
                return model
        model = _deserialize(file, conf, self.allow_pickle)
        self.loaded_from = "skops"
        try:
            self.fastload.write(key, pickle.dumps(model, protocol=5))
        except Exception as exc:  # a read-only cache, a full disk: the next start is slower
            log.info("%s: no fast-load copy written: %s", path, exc)
        return model


def _fastload_key() -> str:
    import sys

    import sklearn

    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"pickle-5 python-{py} scikit-learn-{sklearn.__version__} numpy-{np.__version__}"


def _deserialize(file: Path, conf: dict[str, Any], allow_pickle: bool = True) -> Any:
    """Read an estimator as MLflow wrote it: skops (MLflow 3's default), cloudpickle, pickle.

    The registry verified the file's checksum before this runs.
    """
    fmt = conf.get("serialization_format", "cloudpickle")
    if fmt == "skops":
        from modelyard.serving.skops_files import load_skops

        return load_skops(file, conf.get("skops_trusted_types"))
    if not allow_pickle:
        raise PickleRefused(file, fmt)
    with file.open("rb") as fh:
        if fmt == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(fh)
        return pickle.load(fh)


class OnnxRuntime(_Base):
    flavor = "onnx"

    def _load(self, path: Path, conf: dict[str, Any]) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(
            str(path / str(conf.get("data", "model.onnx"))),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._input = session.get_inputs()[0]
        return session

    def _call(self, batch: Any) -> Any:
        dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64}.get(self._input.type)
        feed = np.asarray(batch, dtype=dtype) if dtype is not None else batch
        outputs = self._model.run(None, {self._input.name: feed})
        # skl2onnx classifiers answer (label, probabilities); pick what the method asks for.
        if self.method == "predict_proba" and len(outputs) > 1:
            return _probabilities(outputs[1])
        return outputs[0]


def _probabilities(value: Any) -> np.ndarray:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        keys = list(value[0])
        return np.array([[row[k] for k in keys] for row in value])
    return np.asarray(value)


class PytorchRuntime(_Base):
    flavor = "pytorch"

    def _load(self, path: Path, conf: dict[str, Any]) -> Any:
        import torch  # type: ignore[import-not-found,unused-ignore]

        data = path / str(conf.get("model_data", "data"))
        if (data / "model.pt2").exists():
            # MLflow 3's default: a torch.export program (no pickled Python objects).
            return torch.export.load(str(data / "model.pt2")).module()
        if not self.allow_pickle:
            raise PickleRefused(data / "model.pth", "torch.save (pickle)")
        model = torch.load(data / "model.pth", weights_only=False)
        model.eval()
        return model

    def _call(self, batch: Any) -> Any:
        import torch  # type: ignore[import-not-found,unused-ignore]

        with torch.no_grad():
            return self._model(torch.as_tensor(np.asarray(batch, dtype=np.float32))).numpy()


class BoosterRuntime(_Base):
    """XGBoost and LightGBM models saved by MLflow with their sklearn wrapper class."""

    def __init__(
        self, method: str = "predict", flavor: str = "xgboost", *, allow_pickle: bool = True
    ) -> None:
        super().__init__(method, allow_pickle=allow_pickle)
        self.flavor = flavor

    def _load(self, path: Path, conf: dict[str, Any]) -> Any:
        import importlib

        module, _, cls_name = str(conf.get("model_class", "")).rpartition(".")
        data = path / str(
            conf.get("data", "model.xgb" if self.flavor == "xgboost" else "model.lgb")
        )
        if self.flavor == "lightgbm" and not module.startswith("lightgbm.sklearn"):
            import lightgbm  # type: ignore[import-not-found,unused-ignore]

            return lightgbm.Booster(model_file=str(data))
        model = getattr(importlib.import_module(module), cls_name)()
        if self.flavor == "xgboost":
            model.load_model(str(data))
            return model
        return _deserialize(data, conf, self.allow_pickle)


class PyfuncRuntime(_Base):
    """Fallback for any other flavor: MLflow's generic ``python_function`` loader."""

    flavor = "python_function"

    def _load(self, path: Path, conf: dict[str, Any]) -> Any:
        if not self.allow_pickle:
            raise PickleRefused(path, "MLflow pyfunc (cloudpickle)")
        from modelyard.tracking import load_pyfunc  # type: ignore[attr-defined,unused-ignore]

        return load_pyfunc(path)

    def _call(self, batch: Any) -> Any:
        return self._model.predict(batch)


def runtime_for(
    path: Path,
    method: str = "predict",
    *,
    allow_pickle: bool = True,
    fastload: FastLoadStore | None = None,
) -> ModelRuntime:
    """An unloaded runtime that suits the model at ``path``, chosen by its ``MLmodel`` flavors.

    ``allow_pickle=False``: the runtime refuses, at load, formats that run code when loaded.
    ``fastload``: where a scikit-learn runtime reads and writes its fast-load copy.
    """
    flavors = read_mlmodel(path).flavors
    if "sklearn" in flavors:
        return SklearnRuntime(method, allow_pickle=allow_pickle, fastload=fastload)
    if "onnx" in flavors:
        return OnnxRuntime(method, allow_pickle=allow_pickle)
    if "pytorch" in flavors:
        return PytorchRuntime(method, allow_pickle=allow_pickle)
    for flavor in ("xgboost", "lightgbm"):
        if flavor in flavors:
            return BoosterRuntime(method, flavor, allow_pickle=allow_pickle)
    return PyfuncRuntime(method, allow_pickle=allow_pickle)
