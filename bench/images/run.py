"""Image benchmark: a runtime image's size, its cold build, the no-op rebuild, the rebuild after
a one-line change to modelyard and after a package change; and a runtime's local environment
provisioned from modelyard's cache, cold with uv, and with plain ``pip install``.

One run makes a workspace whose ``sklearn-cpu`` runtime builds on the Debian base of the tests
(``scripts/make-base-image``) under ``localhost/modelyard-bench``. The cold build runs with
``--no-cache`` (no layer cache; uv's download cache, a build cache mount, stays warm: that is
what a build machine has). The one-line change is a comment appended to a copy of modelyard's
package folder, built into the wheel the image installs; the package change adds one small
package to the runtime. Ratios are to the same run's cold build, and to the same run's
``pip install``. Prints Markdown, writes ``bench/images/LATEST.md`` and
``bench/results/images.json``.
Usage: ``CONTAINERS_CONF=scripts/containers.conf .venv/bin/python bench/images/run.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PY = Path(sys.executable)
BASE = "localhost/modelyard-base:bookworm"
PACKAGES = ["scikit-learn>=1.5", "mlflow>=3.0"]
"""The example workspace's sklearn-cpu runtime."""


def timed(fn: Any) -> tuple[Any, float]:
    start = time.monotonic()
    value = fn()
    return value, time.monotonic() - start


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def workspace(work: Path, extra: list[str] | None = None) -> Path:
    from modelyard.config import init_workspace

    ws = work / "ws"
    if not ws.exists():
        init_workspace(ws)
        settings = ws / "modelyard.yaml"
        settings.write_text(
            settings.read_text().replace(
                "kubernetes:\n", "kubernetes:\n  image_registry: localhost/modelyard-bench\n"
            )
        )
    packages = json.dumps(PACKAGES + (extra or []))
    (ws / "runtimes.yaml").write_text(
        "runtimes:\n  sklearn-cpu:\n    python: '3.11'\n    framework: sklearn\n"
        f"    packages: {packages}\n    base: {BASE}\n"
    )
    return ws


def build(ws: Path, **kw: Any) -> Any:
    from modelyard.config import load_workspace
    from modelyard.environments.build import build_images
    from modelyard.environments.builder import detect_builder

    builder = detect_builder("podman")
    return build_images(load_workspace(ws), ["sklearn-cpu"], builder, **kw)[0]


def cold_build(ws: Path) -> float:
    from modelyard.config import load_workspace
    from modelyard.environments.build import write_context
    from modelyard.environments.builder import build_command

    lw = load_workspace(ws)
    ctx = write_context(
        lw.state_dir, "sklearn-cpu", lw.runtimes["sklearn-cpu"], "localhost/modelyard-bench"
    )
    command = build_command("podman", ctx.request)
    _, seconds = timed(lambda: run([*command[:2], "--no-cache", *command[2:]], timeout=1800))
    return seconds


def changed_wheel(work: Path) -> Any:
    from modelyard.environments.wheel import build_wheel, package_dir

    copy = work / "modelyard-src" / "modelyard"
    shutil.copytree(package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "runtimes" / "images.py"
    target.write_text(target.read_text() + "# a one-line change\n")
    return build_wheel(root=copy)


def sizes(tag: str, work: Path) -> tuple[int, int]:
    raw = json.loads(run(["podman", "image", "inspect", tag]).stdout)[0]
    target = work / "pushed"
    run(["podman", "push", "--quiet", "--compress", tag, f"dir:{target}"], timeout=900)
    pulled = sum(path.stat().st_size for path in target.iterdir())
    shutil.rmtree(target)
    return int(raw["Size"]), pulled


def environments(work: Path) -> dict[str, float]:
    """A runtime's local venv: modelyard's cache hit, cold with uv (empty uv cache), and a
    plain ``python -m venv`` + ``pip install`` of the same packages (pip's cache empty)."""
    from modelyard.config import Runtime
    from modelyard.environments import local_environment

    runtime = Runtime(packages=PACKAGES, local="venv")
    env = dict(os.environ, UV_CACHE_DIR=str(work / "uv-cache"))
    os.environ["UV_CACHE_DIR"] = env["UV_CACHE_DIR"]
    try:
        _, cold = timed(lambda: local_environment("sk", runtime, work / "envs"))
        _, cached = timed(lambda: local_environment("sk", runtime, work / "envs"))
    finally:
        del os.environ["UV_CACHE_DIR"]
    venv = work / "pip-venv"
    run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--no-cache-dir", *PACKAGES]
    _, plain = timed(lambda: run(pip, timeout=3600))
    return {"venv_cached_s": cached, "venv_cold_uv_s": cold, "pip_install_s": plain}


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))
    run([str(ROOT / "scripts" / "make-base-image"), BASE], timeout=900)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory(prefix="bench-images-") as scratch:
        work = Path(scratch)
        ws = workspace(work)
        cold = cold_build(ws)
        first, _ = timed(lambda: build(ws))  # records the cold image
        noop, noop_s = timed(lambda: build(ws))
        wheel = changed_wheel(work)
        code, code_s = timed(lambda: build(ws, wheel=wheel))
        ws = workspace(work, extra=["tabulate>=0.9"])
        package, package_s = timed(lambda: build(ws))
        unpacked, pulled = sizes(first.image, work)
        envs = environments(work)
    figures = {
        "image_unpacked_bytes": unpacked,
        "image_pulled_bytes": pulled,
        "cold_build_s": cold,
        "noop_build_s": noop_s,
        "noop_status": noop.status,
        "code_change_rebuild_s": code_s,
        "code_change_same_tag": code.image == first.image,
        "package_change_rebuild_s": package_s,
        "package_change_new_tag": package.image != first.image,
        **envs,
        "load_avg": load,
    }
    rows = [
        ("image size, unpacked (podman)", f"{unpacked / 1e6:.0f} MB", ""),
        ("image size, pulled (compressed layers)", f"{pulled / 1e6:.0f} MB", ""),
        ("cold build (no layer cache)", f"{cold:.1f} s", "1.00"),
        (f"build, nothing changed ({noop.status})", f"{noop_s:.2f} s", f"{noop_s / cold:.3f}"),
        ("rebuild, one-line change to modelyard", f"{code_s:.1f} s", f"{code_s / cold:.2f}"),
        ("rebuild, one package added", f"{package_s:.1f} s", f"{package_s / cold:.2f}"),
        (
            "runtime venv, modelyard's cache",
            f"{envs['venv_cached_s'] * 1000:.1f} ms",
            f"{envs['venv_cached_s'] / envs['pip_install_s']:.5f} of pip",
        ),
        (
            "runtime venv, cold (uv, empty cache)",
            f"{envs['venv_cold_uv_s']:.1f} s",
            f"{envs['venv_cold_uv_s'] / envs['pip_install_s']:.2f} of pip",
        ),
        ("plain venv + pip install (no cache)", f"{envs['pip_install_s']:.1f} s", "1.00 of pip"),
    ]
    lines = [
        "# bench/images: runtime image sklearn-cpu on the Debian base",
        "",
        f"load average at start: {load}",
        "",
        "| what | figure | ratio to cold build |",
        "|---|---|---|",
        *(f"| {what} | {figure} | {ratio} |" for what, figure, ratio in rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "bench" / "images" / "LATEST.md").write_text(text)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "images.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
