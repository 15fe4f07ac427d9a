"""Tools that some tests run from virtual environments of their own, made with uv under
``.cache/<name>`` and kept: Apache Airflow 3 (it imports the DAG file that ``pipeline export``
writes) and checkov (it scans what ``render`` writes). Each pins many packages of its own, so
neither can share the project's venv.

``make test`` makes them before the tests run (``python tests/tool_venvs.py``), so that the
timed test stages measure tests and not installs; a test that finds one missing (pytest run by
hand) makes it then. Bytecode is compiled at install: with ``PYTHONDONTWRITEBYTECODE=1`` every
run would otherwise compile the tool from source first. Two makers at once are serialised by a
lock; a half-made environment is never used (``.complete`` is written last).

Usage: python tests/tool_venvs.py [NAME...]   (default: all)
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
TOOLS: dict[str, tuple[str, ...]] = {
    "airflow": ("apache-airflow>=3,<4",),
    "checkov": ("checkov>=3.2",),
}


class ToolUnavailable(RuntimeError):
    """The tool's environment could not be made (no uv, no package index, a failed install)."""


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        raise ToolUnavailable("uv is not installed (make install puts it in .venv)")
    return found


def tool_venv(name: str) -> Path:
    """The made environment of tool ``name`` (one of TOOLS), made first if missing."""
    venv = CACHE / name
    if (venv / ".complete").exists():
        return venv
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            _make(venv, TOOLS[name])
    return venv


def tool_for_test(name: str) -> Path:
    """:func:`tool_venv` for a test: where the tool cannot be made, the test skips, except in
    CI (``CI=true``), where it fails."""
    import os

    import pytest

    try:
        return tool_venv(name)
    except ToolUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _make(venv: Path, requirements: tuple[str, ...]) -> None:
    uv = _uv()
    shutil.rmtree(venv, ignore_errors=True)
    run = {"check": True, "capture_output": True, "text": True, "timeout": 1500}
    python = venv / "bin" / "python"
    try:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], **run)  # type: ignore[call-overload]
        subprocess.run(  # type: ignore[call-overload]
            [
                uv,
                "pip",
                "install",
                "-q",
                "--compile-bytecode",
                "--python",
                str(python),
                *requirements,
            ],
            **run,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(venv, ignore_errors=True)
        detail = getattr(exc, "stderr", None) or exc
        raise ToolUnavailable(
            f"cannot install {' '.join(requirements)} into {venv}: {detail}"
        ) from exc
    (venv / ".complete").touch()


def main(names: list[str]) -> int:
    for name in names or sorted(TOOLS):
        if name not in TOOLS:
            print(f"unknown tool {name!r}; tools are {', '.join(sorted(TOOLS))}", file=sys.stderr)
            return 2
        try:
            print(f"{name}: {tool_venv(name)}")
        except ToolUnavailable as exc:
            print(exc, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
