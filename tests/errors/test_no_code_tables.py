"""No second table: outside ``modelyard/errors.py`` no module maps error classes to exit codes
or HTTP statuses (no dict or tuple of class and number, no ``isinstance`` chain returning a
number), none sets an exit code on a class, and nothing raises the bare root."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from error_classes import SRC, error_class_names, parsed

ERRORS_MODULE = SRC / "errors.py"


def _names(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Tuple):
        return {name for elt in node.elts for name in _names(elt)}
    return set()


def _is_int(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _numbers_in(body: list[ast.stmt]) -> bool:
    """Does this block return (or exit with, or store) a literal number?"""
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Return) and _is_int(node.value):
                return True
            exits = isinstance(node, ast.Call) and _names(node.func) & {"Exit", "exit"}
            if exits and any(_is_int(a) for a in node.args):
                return True
            if isinstance(node, ast.Assign) and _is_int(node.value):
                return True
    return False


def code_tables(tree: ast.Module, errors: frozenset[str]) -> Iterator[tuple[int, str]]:
    """(line, what) for every place in ``tree`` that maps an error class to a number."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is not None and _names(key) & errors and _is_int(value):
                    yield node.lineno, "a dict from error classes to numbers"
                    break
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
            kind, number = node.elts
            if _names(kind) & errors and _is_int(number):
                yield node.lineno, "a (class, number) pair"
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Call):
            call = node.test
            if (
                _names(call.func) == {"isinstance"}
                and len(call.args) == 2
                and _names(call.args[1]) & errors
                and _numbers_in(node.body)
            ):
                yield node.lineno, "an isinstance test that picks a number"
        elif isinstance(node, ast.ClassDef) and (
            node.name in errors or any(_names(b) & errors for b in node.bases)
        ):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                if isinstance(stmt, ast.AnnAssign):
                    targets = [stmt.target]
                if any(_names(t) & {"exit_code"} for t in targets):
                    yield stmt.lineno, f"an exit code set on {node.name}"
        elif (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and _names(node.exc.func) == {"ModelyardError"}
        ):
            yield node.lineno, "the bare root raised (derive from a base instead)"


def test_no_module_but_errors_py_maps_errors_to_codes() -> None:
    errors = error_class_names()
    found = [
        f"{path.relative_to(SRC.parent)}:{line}: {what}"
        for path, tree in parsed().items()
        if path != ERRORS_MODULE
        for line, what in code_tables(tree, errors)
    ]
    assert found == [], "exit codes and HTTP statuses live in modelyard/errors.py:\n" + "\n".join(
        found
    )


# The four tables this replaced, and the CLI's chain: the scan must find each shape.
OLD_SHAPES = {
    "cli": "EXIT_CODES = {ConfigError: 2, NotFound: 3}",
    "server process": "_EXIT = ((ConfigError, 2), (NotFound, 3), (IntegrityError, 6))",
    "server": "_STATUS = ((RateLimited, 429), (Unauthorized, 401))",
    "console": "STATUS: dict[type[ModelyardError], int] = {ConfigError: 400}",
    "chain": "def code(e):\n    if isinstance(e, JobFailed):\n        return 1\n    return 0",
    "exit": "if isinstance(e, (NotFound, Conflict)):\n    raise typer.Exit(3)",
    "class": "class Gone(NotFound):\n    exit_code = 10",
    "root": "raise ModelyardError('what now?')",
}


@pytest.mark.parametrize("shape", OLD_SHAPES)
def test_the_scan_finds_each_shape_of_table(shape: str) -> None:
    tree = ast.parse(OLD_SHAPES[shape])
    assert list(code_tables(tree, error_class_names())), shape


def test_the_scan_leaves_plain_error_handling_alone() -> None:
    code = (
        "try:\n    f()\nexcept NotFound:\n    pass\n"
        "if isinstance(e, Unavailable):\n    wait = e.retry_after\n"
        "class JobResult:\n    exit_code: int = 0\n"
    )
    assert list(code_tables(ast.parse(code), error_class_names())) == []


def test_the_scan_reads_every_module() -> None:
    assert ERRORS_MODULE in parsed()
    assert Path(SRC / "cli" / "output.py") in parsed()
