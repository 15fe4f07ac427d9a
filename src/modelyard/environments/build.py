"""``images build`` and ``images list``: a build context per runtime, built when it changed.

The context lives in ``.modelyard/images/<runtime>/`` (Containerfile, lock, modelyard's wheel,
uv). Files are replaced only when their bytes change, through a temp file and a rename, so a
build never reads half a file and an unchanged context keeps the builder's layer cache.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from modelyard.config import Runtime, Workspace
from modelyard.environments.builder import BuildRequest, ImageBuilder, build_command
from modelyard.environments.images import (
    CONTENT_LABEL,
    NOTEBOOK_REQUIREMENTS,
    RUNTIME_LABEL,
    ImageSpec,
    containerfile,
    content_hash,
    image_spec,
)
from modelyard.environments.index import ImageRecord, read_index, record_digest, record_image
from modelyard.environments.lock import compile_lock, uv_binary
from modelyard.environments.wheel import Wheel, build_wheel
from modelyard.errors import ConfigError


@dataclass(frozen=True)
class BuildContext:
    """A written build context and what identifies its image."""

    spec: ImageSpec
    request: BuildRequest
    content: str


@dataclass(frozen=True)
class ImageResult:
    """What ``images build`` did for one runtime."""

    runtime: str
    image: str
    status: str
    """``built``, ``up to date``, ``context written`` (no builder) or ``external`` (the
    runtime names its own ``image``)."""
    context: str
    size_bytes: int | None = None
    digest: str | None = None
    command: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class ImageRow:
    """One row of ``images list``."""

    runtime: str
    image: str
    size_bytes: int | None
    built: bool


def _put(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path`` unless it is already there, atomically."""
    if path.exists() and path.read_bytes() == data:
        return
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_bytes(data)
    staging.replace(path)


def _put_uv(target: Path) -> None:
    source = uv_binary()
    if target.exists() and target.stat().st_size == source.stat().st_size:
        return
    staging = target.with_name(f".uv.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    try:
        os.link(source, staging)
    except OSError:  # another file system: copy it
        shutil.copy2(source, staging)
    staging.replace(target)


def write_context(
    state_dir: Path,
    name: str,
    runtime: Runtime,
    registry_prefix: str,
    *,
    notebook: bool = False,
    upgrade: bool = False,
    wheel: Wheel | None = None,
) -> BuildContext:
    """Write the build context of runtime ``name`` and return what identifies its image."""
    spec = image_spec(name, runtime, registry_prefix, notebook=notebook)
    folder = state_dir / "images" / (name + ("-notebook" if notebook else ""))
    folder.mkdir(parents=True, exist_ok=True)
    lock = compile_lock(
        spec.requirements, spec.python, folder / "requirements.lock", upgrade=upgrade
    )
    notebook_lock = ""
    if notebook:
        notebook_lock = compile_lock(
            NOTEBOOK_REQUIREMENTS,
            spec.python,
            folder / "notebook.lock",
            constraints=folder / "requirements.lock",
            upgrade=upgrade,
        )
    wheel = wheel or build_wheel(spec.version)
    for stale in folder.glob("modelyard-*.whl"):
        if stale.name != spec.wheel_filename:
            stale.unlink()
    _put(folder / spec.wheel_filename, wheel.data)
    _put(folder / "Containerfile", containerfile(spec).encode())
    _put_uv(folder / "uv")
    content = content_hash(spec, lock, notebook_lock, wheel.sha256)
    labels = {CONTENT_LABEL: content, RUNTIME_LABEL: name}
    return BuildContext(spec, BuildRequest(folder, spec.tag, labels), content)


def _selected(ws: Workspace, names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in ws.runtimes]
    if unknown:
        known = ", ".join(sorted(ws.runtimes)) or "none"
        raise ConfigError(
            f"{ws.root / 'runtimes.yaml'}: no runtime named {', '.join(map(repr, unknown))} "
            f"(it has: {known}); name one of those or add it to runtimes.yaml"
        )
    return list(names) or sorted(ws.runtimes)


def build_images(
    ws: Workspace,
    names: Sequence[str],
    builder: ImageBuilder | None,
    *,
    push: bool = False,
    notebook: bool = False,
    upgrade: bool = False,
    on_line: Callable[[str, str], None] = lambda runtime, line: None,
    clock: Callable[[], float] = time.monotonic,
    wheel: Wheel | None = None,
) -> list[ImageResult]:
    """Build the images of ``names`` (every runtime when empty) that changed; push them to
    the workspace's registry with ``push``. ``wheel`` is modelyard's (the running sources'
    when None)."""
    registry = ws.settings.kubernetes.image_registry
    wheel = wheel or build_wheel()
    results = []
    for name in _selected(ws, names):
        runtime = ws.runtimes[name]
        if runtime.image:
            results.append(ImageResult(name, runtime.image, "external", ""))
            continue
        started = clock()
        ctx = write_context(
            ws.state_dir, name, runtime, registry, notebook=notebook, upgrade=upgrade, wheel=wheel
        )
        key = ctx.request.context.name
        if builder is None:
            command = " ".join(build_command("docker", ctx.request))
            results.append(
                ImageResult(
                    name, ctx.spec.tag, "context written", str(ctx.request.context), command=command
                )
            )
            continue
        image = builder.inspect(ctx.spec.tag)
        status = "up to date"
        if image is None or image.labels.get(CONTENT_LABEL) != ctx.content:
            image = builder.build(ctx.request, partial(on_line, name))
            status = "built"
        record = ImageRecord(
            key=key,
            tag=ctx.spec.tag,
            content=ctx.content,
            image_id=image.image_id,
            size_bytes=image.size_bytes,
            built_at=image.created or datetime.now(UTC).isoformat(),
        )
        record_image(ws.state_dir, record)
        digest = read_index(ws.state_dir)[key].digest
        if push and (digest is None or status == "built"):
            digest = builder.push(ctx.spec.tag)
            record_digest(ws.state_dir, key, digest)
        results.append(
            ImageResult(
                name,
                ctx.spec.tag,
                status,
                str(ctx.request.context),
                size_bytes=image.size_bytes,
                digest=digest,
                seconds=round(clock() - started, 3),
            )
        )
    return results


def list_images(ws: Workspace, builder: ImageBuilder | None) -> list[ImageRow]:
    """Each runtime's image: its tag (or its own ``image``), its size and whether it is in
    the local store (without a builder: whether the build record has it)."""
    registry = ws.settings.kubernetes.image_registry
    records = read_index(ws.state_dir)
    rows = []
    for name in sorted(ws.runtimes):
        runtime = ws.runtimes[name]
        variants = [False] + ([True] if f"{name}-notebook" in records else [])
        for notebook in variants:
            ref = runtime.image or image_spec(name, runtime, registry, notebook=notebook).tag
            record = records.get(name + ("-notebook" if notebook else ""))
            if builder is not None:
                image = builder.inspect(ref)
                size = image.size_bytes if image else None
                built = image is not None
            else:
                built = record is not None and record.tag == ref
                size = record.size_bytes if built and record else None
            label = f"{name} (notebook)" if notebook else name
            rows.append(ImageRow(label, ref, size, built))
    return rows
