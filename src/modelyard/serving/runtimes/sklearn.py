"""scikit-learn: skops files (MLflow 3's default), cloudpickle and pickle, with a fast-load copy.

``deserialize`` reads an estimator the way MLflow wrote it; the boosters' scikit-learn
wrappers use it too.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.serving.options import FastLoadStore
from modelyard.serving.runtimes.base import PickleRefused, Runtime

log = logging.getLogger(__name__)


class SklearnRuntime(Runtime):
    """scikit-learn estimators. A skops file (MLflow 3's default) is loaded with skops and its
    trusted-type list; where pickles are allowed, the estimator is then written back to the
    cache as a fast-load copy, which later servers with the same library versions load with
    ``pickle`` (the modules the estimator needs, not skops' import of much of scikit-learn:
    0.3-0.5 s and about 10 MiB a server). The copy is checksummed in the cache index; a copy
    that does not match is ignored and rewritten, never loaded."""

    flavors = ("sklearn",)

    def __init__(
        self,
        method: str = "predict",
        *,
        allow_pickle: bool = True,
        fastload: FastLoadStore | None = None,
    ) -> None:
        super().__init__(method, allow_pickle=allow_pickle, fastload=fastload)
        self.loaded_from = ""
        """What the last load read: "skops", "fastload", or the pickle format."""

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        file = path / str(conf.get("pickled_model", "model.pkl"))
        fmt = str(conf.get("serialization_format", "cloudpickle"))
        if fmt != "skops" or self.fastload is None:
            self.loaded_from = fmt
            return deserialize(file, conf, self.allow_pickle)
        key = fastload_key()
        data = self.fastload.read(key)
        if data is not None:
            try:
                model = pickle.loads(data)  # our own copy, its checksum verified
            except Exception as exc:  # unreadable after all: load the skops file, write anew
                log.warning("%s: fast-load copy not loaded (%s); loading the skops file", path, exc)
            else:
                self.loaded_from = "fastload"
                return model
        model = deserialize(file, conf, self.allow_pickle)
        self.loaded_from = "skops"
        try:
            self.fastload.write(key, pickle.dumps(model, protocol=5))
        except Exception as exc:  # a read-only cache, a full disk: the next start is slower
            log.info("%s: no fast-load copy written: %s", path, exc)
        return model


def fastload_key() -> str:
    import sys

    import sklearn

    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"pickle-5 python-{py} scikit-learn-{sklearn.__version__} numpy-{np.__version__}"


def deserialize(file: Path, conf: dict[str, Any], allow_pickle: bool = True) -> Any:
    """Read an estimator as MLflow wrote it: skops (MLflow 3's default), cloudpickle, pickle.

    The registry verified the file's checksum before this runs.
    """
    fmt = conf.get("serialization_format", "cloudpickle")
    if fmt == "skops":
        from modelyard.serving.runtimes.skops_files import load_skops

        return load_skops(file, conf.get("skops_trusted_types"))
    if not allow_pickle:
        raise PickleRefused(file, fmt)
    with file.open("rb") as fh:
        if fmt == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(fh)
        return pickle.load(fh)
