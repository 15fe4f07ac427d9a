"""The lock of a runtime image: ``uv pip compile`` of its requirements, made once and kept.

A lock is reused while the requirements that made it are unchanged (its first line records
their hash), so a rebuild on another day installs the same versions; ``--upgrade`` resolves
again. Written atomically next to the Containerfile, it is part of the image's content hash.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from modelyard.errors import Unavailable

_HEADER = "# modelyard-lock-input: "


class LockError(Unavailable):
    """uv could not resolve the runtime's requirements (the index is unreachable, say)."""


def uv_binary() -> Path:
    """The uv executable: beside this interpreter (where ``pip install uv`` puts it), else
    on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return beside
    found = shutil.which("uv")
    if found is None:
        raise LockError("uv is not installed: pip install uv (it resolves and installs images)")
    return Path(found)


def _platform(python: str) -> list[str]:
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine().lower())
    arch = machine or platform.machine().lower() or "x86_64"
    return ["--python-version", python, "--python-platform", f"{arch}-unknown-linux-gnu"]


def compile_lock(
    requirements: tuple[str, ...],
    python: str,
    target: Path,
    constraints: Path | None = None,
    upgrade: bool = False,
) -> str:
    """The lock at ``target`` for ``requirements``, resolved for Linux and ``python``; the
    existing lock when it was made from the same inputs (and not ``upgrade``)."""
    source = "\n".join(requirements) + "\n"
    if constraints is not None:
        source += "# constraints\n" + constraints.read_text()
    key = hashlib.sha256(f"{python}\n{source}".encode()).hexdigest()
    if target.exists() and not upgrade:
        text = target.read_text()
        if text.startswith(_HEADER + key):
            return text
    target.parent.mkdir(parents=True, exist_ok=True)
    infile = target.with_suffix(".in")
    infile.write_text("\n".join(requirements) + "\n")
    command = [
        str(uv_binary()),
        "pip",
        "compile",
        "--quiet",
        "--no-header",
        "--no-annotate",
        *_platform(python),
        str(infile),
    ]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LockError(f"cannot run uv to lock {infile}: {exc}") from exc
    if done.returncode != 0:
        tail = " / ".join(done.stderr.strip().splitlines()[-4:])
        raise LockError(
            f"uv could not resolve {infile} for Python {python}: {tail}; check the runtime's "
            "packages in runtimes.yaml and that the package index is reachable"
        )
    text = f"{_HEADER}{key}\n{done.stdout}"
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.write_text(text)
    staging.replace(target)
    return text
