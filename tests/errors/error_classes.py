"""Every error class modelyard defines, found from the source (so a new module's errors are
never missed) and imported, for the tests of the one error edge."""

from __future__ import annotations

import ast
import importlib
import inspect
from functools import cache
from pathlib import Path

import modelyard
from modelyard.errors import ModelyardError, Unavailable

SRC = Path(modelyard.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _base_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


@cache
def parsed() -> dict[Path, ast.Module]:
    """Every module of the package, parsed."""
    return {path: ast.parse(path.read_text(), str(path)) for path in sorted(SRC.rglob("*.py"))}


@cache
def error_class_names() -> frozenset[str]:
    """Names of the classes that derive, by name, from ``ModelyardError`` (to a fixed point)."""
    names = {"ModelyardError"}
    classes = [
        node
        for tree in parsed().values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    ]
    while True:
        more = {c.name for c in classes if _base_names(c) & names} - names
        if not more:
            return frozenset(names)
        names |= more


@cache
def all_error_classes() -> tuple[type[ModelyardError], ...]:
    """Every ``ModelyardError`` subclass defined in modelyard, its modules imported."""
    names = error_class_names()
    for path, tree in parsed().items():
        defines = any(isinstance(n, ast.ClassDef) and n.name in names for n in ast.walk(tree))
        if defines:
            importlib.import_module(module_name(path))
    found: list[type[ModelyardError]] = []
    todo: list[type[ModelyardError]] = [ModelyardError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("modelyard") and cls not in found:
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return tuple(sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}"))


def instance_of(cls: type[ModelyardError]) -> ModelyardError:
    """An instance of ``cls``, through its own constructor with placeholder arguments where
    they are plain values; else (a constructor that takes a record) built around it."""
    try:
        return _constructed(cls)
    except (TypeError, AttributeError):
        error = cls.__new__(cls)
        Exception.__init__(error, "something went wrong")
        if isinstance(error, Unavailable):
            error.retry_after = None
        return error


def _constructed(cls: type[ModelyardError]) -> ModelyardError:
    if cls.__init__ is Exception.__init__:  # no constructor of its own: a message
        return cls("something went wrong")
    params = list(inspect.signature(cls).parameters.values())
    args = [
        7 if "int" in str(p.annotation) else "something went wrong"
        for p in params
        if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
    ]
    return cls(*args)
