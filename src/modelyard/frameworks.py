"""The framework table: every framework a model can name, and the runtime class that serves it.

One table for the whole house: ``model.yaml``'s ``framework`` is checked against it, and the
model server picks a runtime from it (``modelyard.serving.runtimes.registry``). The built-in
runtimes are listed here by import path, so that reading the table imports no framework and
no server code; a runtime in another installed package joins the table through the
``modelyard.runtimes`` entry-point group::

    [project.entry-points."modelyard.runtimes"]
    toy = "toy_runtime:ToyRuntime"

The entry point's name is the framework name a ``model.yaml`` writes; its value is a subclass
of :class:`modelyard.serving.runtimes.Runtime`. A plug-in cannot replace a built-in name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "modelyard.runtimes"


@dataclass(frozen=True)
class Framework:
    """One row of the table."""

    name: str
    """What ``model.yaml`` writes as ``framework``."""
    target: str
    """``module:Class`` of its runtime."""
    builtin: bool = True
    """Shipped with modelyard, rather than registered by an installed package."""


# Order matters only for models whose MLmodel holds several flavors: the first row whose
# runtime serves one of them wins, and pyfunc (every MLflow model has it) comes last.
BUILTIN: tuple[Framework, ...] = (
    Framework("sklearn", "modelyard.serving.runtimes.sklearn:SklearnRuntime"),
    Framework("onnx", "modelyard.serving.runtimes.onnx:OnnxRuntime"),
    Framework("pytorch", "modelyard.serving.runtimes.pytorch:PytorchRuntime"),
    Framework("xgboost", "modelyard.serving.runtimes.boosters:XGBoostRuntime"),
    Framework("lightgbm", "modelyard.serving.runtimes.boosters:LightGBMRuntime"),
    Framework("pyfunc", "modelyard.serving.runtimes.pyfunc:PyfuncRuntime"),
)


@lru_cache(maxsize=1)
def frameworks() -> tuple[Framework, ...]:
    """The built-in rows, then one per installed plug-in (by name), pyfunc kept last."""
    names = {f.name for f in BUILTIN}
    plugins = sorted(
        (
            Framework(ep.name, ep.value, builtin=False)
            for ep in entry_points(group=ENTRY_POINT_GROUP)
            if ep.name not in names
        ),
        key=lambda f: f.name,
    )
    return (*BUILTIN[:-1], *plugins, BUILTIN[-1])


def framework_names() -> tuple[str, ...]:
    """Every name a ``model.yaml`` may write as ``framework``."""
    return tuple(f.name for f in frameworks())


def framework(name: str) -> Framework | None:
    """The row named ``name``, if there is one."""
    return next((f for f in frameworks() if f.name == name), None)
