"""Framework runtimes: the public :class:`Runtime` base class, one module per framework, and
the registry that picks one for a model (``registry``).

A runtime in another installed package registers under the ``modelyard.runtimes`` entry-point
group and is served without changing modelyard; see ``docs/serving.md`` ("Your own runtime").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._lazy import lazy_names

if TYPE_CHECKING:
    from modelyard.serving.runtimes.base import ModelRuntime, PickleRefused, Runtime
    from modelyard.serving.runtimes.registry import runtime_class, runtime_for

_WHERE = {
    "ModelRuntime": "base",
    "PickleRefused": "base",
    "Runtime": "base",
    "runtime_class": "registry",
    "runtime_for": "registry",
}
__all__ = ["ModelRuntime", "PickleRefused", "Runtime", "runtime_class", "runtime_for"]

__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
