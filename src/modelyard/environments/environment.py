"""Environments made for a runtime: the interpreter a local job runs in, the image a pod runs.

``local: inherit`` reuses modelyard's own interpreter (the quick start needs nothing but pip).
``local: venv`` builds a virtual environment with uv from the runtime's packages, cached under
``.modelyard/envs/<hash>`` and built atomically (a temp folder renamed into place), so a crash
mid-build never leaves a half-made environment that a later job would use. A pod's image is
named by :func:`image_for` (see ``images.py`` for its tag).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelyard.config import Runtime
from modelyard.environments.images import image_spec
from modelyard.errors import ModelyardError


class EnvironmentBuildError(ModelyardError):
    """The runtime's environment could not be built."""


@dataclass(frozen=True)
class LocalEnvironment:
    """Where a local job's Python is."""

    name: str
    python: Path
    built: bool


def _key(runtime: Runtime) -> str:
    body = json.dumps({"python": runtime.python, "packages": sorted(runtime.packages)})
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _uv() -> list[str]:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    return [found] if Path(found).exists() else [sys.executable, "-m", "uv"]


def local_environment(name: str, runtime: Runtime, envs_dir: Path) -> LocalEnvironment:
    """The environment of ``runtime`` on this machine, built on first use."""
    if runtime.local == "inherit":
        return LocalEnvironment(name, Path(sys.executable), built=False)
    target = envs_dir / f"{name}-{_key(runtime)}"
    python = target / "bin" / "python"
    if python.exists():
        return LocalEnvironment(name, python, built=False)
    envs_dir.mkdir(parents=True, exist_ok=True)
    staging = envs_dir / f".{target.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _run([*_uv(), "venv", "--python", runtime.python, str(staging)])
        if runtime.packages:
            _run(
                [
                    *_uv(),
                    "pip",
                    "install",
                    "--python",
                    str(staging / "bin" / "python"),
                    *runtime.packages,
                ]
            )
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return LocalEnvironment(name, python, built=True)


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800)
    except FileNotFoundError as exc:
        raise EnvironmentBuildError(
            f"cannot build the environment: {command[0]} not found"
        ) from exc
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-5:]
        raise EnvironmentBuildError(
            f"building the environment failed: {' '.join(command[:3])}: " + " / ".join(tail)
        ) from exc


def image_for(
    name: str,
    runtime: Runtime,
    registry_prefix: str,
    pinned: Mapping[str, str] | None = None,
    notebook: bool = False,
) -> str:
    """The container image of ``runtime`` on Kubernetes: its own ``image`` when set, else the
    tag ``modelyard images build`` gives it, or that image's pushed digest when ``pinned``
    (tag -> ``repo@sha256:...``, from the build record) knows it; with ``notebook``, the
    notebook image of ``images build --notebook``. Pure: nothing is built."""
    if runtime.image:
        return runtime.image
    tag = image_spec(name, runtime, registry_prefix, notebook=notebook).tag
    return (pinned or {}).get(tag, tag)
