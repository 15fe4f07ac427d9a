"""No test polls by hand: a loop that sleeps until something holds belongs in
``tests/waiting.py``'s ``wait_until``, which fails at its deadline. Hand-written loops drifted
(some passed silently at the deadline, some had none), so this scan keeps new ones out.

A loop is a poll when it sleeps (``time.sleep``, ``asyncio.sleep``) inside a ``while`` loop,
or inside a ``for`` loop that ``break``s out once something holds. Sleeps in the text of a
script a test runs are strings, not code, and are not counted. Pacing a load generator
(``Event.wait``) is not a poll either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ALLOWED = {TESTS / "waiting.py"}


def _is_sleep(node: ast.AST, sleep_names: set[str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr == "sleep" and isinstance(func.value, ast.Name)
    return isinstance(func, ast.Name) and func.id in sleep_names


def _imported_sleeps(tree: ast.Module) -> set[str]:
    """Local names of ``from time import sleep`` (or asyncio's, or ``as nap``)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "asyncio")
        for alias in node.names
        if alias.name == "sleep"
    }


def poll_loops(source: str) -> list[int]:
    """The line of every loop in ``source`` that sleeps until something holds."""
    tree = ast.parse(source)
    sleeps = _imported_sleeps(tree)
    found = []
    for loop in ast.walk(tree):
        if isinstance(loop, ast.While):
            polls = True
        elif isinstance(loop, ast.For | ast.AsyncFor):
            polls = any(isinstance(n, ast.Break) for n in ast.walk(loop))
        else:
            continue
        if polls and any(_is_sleep(n, sleeps) for n in ast.walk(loop)):
            found.append(loop.lineno)
    return found


def test_no_test_polls_by_hand() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        if path not in ALLOWED
        for line in poll_loops(path.read_text())
    ]
    assert offenders == [], (
        "hand-written poll loops (use waiting.wait_until, which fails at its deadline, or "
        f"wait on an event): {offenders}"
    )


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("import time\nwhile not done():\n    time.sleep(0.1)\n", [2]),
        ("import asyncio\nasync def f():\n    while x:\n        await asyncio.sleep(0)\n", [3]),
        (
            "from time import sleep as nap\nwhile True:\n    if ok():\n        break\n    nap(1)\n",
            [2],
        ),
        (
            "import time\nfor _ in range(50):\n    if ok():\n        break\n    time.sleep(0.1)\n",
            [2],
        ),
        ("import time\nfor row in rows:\n    send(row)\n    time.sleep(0.05)\n", []),
        ('SCRIPT = "while True:\\n    time.sleep(1)"\n', []),
        ("while not stop.is_set():\n    send()\n    stop.wait(0.05)\n", []),
    ],
    ids=[
        "while",
        "async while",
        "imported sleep",
        "for with break",
        "paced for",
        "a string",
        "event pacing",
    ],
)
def test_the_scan_finds_poll_loops_and_only_those(source: str, lines: list[int]) -> None:
    assert poll_loops(source) == lines
