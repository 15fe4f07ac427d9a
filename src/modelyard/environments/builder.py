"""The image builder seam: a three-method ``ImageBuilder`` with a podman/buildah adapter and
an in-memory fake that behaves like them (tags, labels, sizes, digests).

The adapter passes the host's CA bundle to the build as a read-only volume (``-v``) and the
build runs on the host network, so uv inside the build reaches the index through a TLS proxy
exactly as the host does; nothing of either is baked into the image. Registry credentials are
podman's own auth file (``podman login``, ``REGISTRY_AUTH_FILE``), never an argument.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from modelyard.environments.images import CONTENT_LABEL
from modelyard.errors import ConfigError, ModelyardError

CA_BUNDLE_DIR = Path("/etc/ssl/certs")
BUILDERS = ("podman", "buildah")


class ImageBuildError(ModelyardError):
    """The image builder failed; the message carries the end of its output."""


@dataclass(frozen=True)
class LocalImage:
    """An image in the builder's local store."""

    ref: str
    image_id: str
    size_bytes: int
    created: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildRequest:
    """One build: a context folder with its Containerfile, the tag and the labels to set."""

    context: Path
    tag: str
    labels: dict[str, str]


class ImageBuilder(Protocol):
    """What ``images build`` needs of a builder."""

    name: str

    def inspect(self, ref: str) -> LocalImage | None:
        """The local image ``ref``, or None when there is none."""
        ...

    def build(self, request: BuildRequest, on_line: Callable[[str], None]) -> LocalImage:
        """Build ``request``, calling ``on_line`` with each line of output."""
        ...

    def push(self, ref: str) -> str:
        """Push ``ref`` to its registry; the pushed manifest's ``sha256:`` digest."""
        ...


def detect_builder(choice: str = "auto") -> ImageBuilder | None:
    """podman, else buildah, else None (write the context, print a command); ``choice`` names
    one of them, or ``none``."""
    if choice == "none":
        return None
    if choice not in ("auto", *BUILDERS):
        raise ConfigError(f"--builder {choice!r}: write one of auto, podman, buildah, none")
    for name in BUILDERS if choice == "auto" else (choice,):
        path = shutil.which(name)
        if path:
            return ContainerBuilder(name, path)
    if choice != "auto":
        raise ConfigError(f"--builder {choice}: {choice} is not installed on this machine")
    return None


def build_command(tool: str, request: BuildRequest) -> list[str]:
    """The build command line for ``tool`` (podman, buildah or docker)."""
    verb = ["buildx", "build"] if tool == "docker" else ["build"]
    command = [tool, *verb, "--network", "host", "-f", str(request.context / "Containerfile")]
    if tool != "docker":
        command += ["--layers"]
        if CA_BUNDLE_DIR.is_dir():
            command += ["-v", f"{CA_BUNDLE_DIR}:{CA_BUNDLE_DIR}:ro"]
    command += ["-t", request.tag]
    for key, value in sorted(request.labels.items()):
        command += ["--label", f"{key}={value}"]
    return [*command, str(request.context)]


_SIZE = re.compile(r"([\d.]+)\s*([kKMGT]?B)")
_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}


class ContainerBuilder:
    """podman or buildah on this machine."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self._path = path

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self._path, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ImageBuildError(f"{self.name} {args[0]} did not finish: {exc}") from exc

    def inspect(self, ref: str) -> LocalImage | None:
        if self.name == "podman":
            done = self._run("image", "inspect", ref)
            if done.returncode != 0:
                return None
            raw = json.loads(done.stdout)[0]
            return LocalImage(
                ref=ref,
                image_id=raw["Id"],
                size_bytes=int(raw["Size"]),
                created=raw["Created"],
                labels=dict(raw.get("Labels") or {}),
            )
        done = self._run("inspect", "--type", "image", ref)
        if done.returncode != 0:
            return None
        raw = json.loads(done.stdout)
        listed = json.loads(self._run("images", "--json", ref).stdout or "[]")
        match = _SIZE.match(listed[0]["size"]) if listed else None
        size = int(float(match.group(1)) * _UNITS[match.group(2)]) if match else 0
        config = raw.get("OCIv1", {})
        return LocalImage(
            ref=ref,
            image_id=raw["FromImageID"],
            size_bytes=size,
            created=config.get("created", ""),
            labels=dict(config.get("config", {}).get("Labels") or {}),
        )

    def build(self, request: BuildRequest, on_line: Callable[[str], None]) -> LocalImage:
        command = build_command(self.name, request)
        command[0] = self._path
        tail: list[str] = []
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                tail = [*tail[-19:], line.rstrip()]
                on_line(line.rstrip())
        if process.returncode != 0:
            raise ImageBuildError(
                f"{self.name} build of {request.tag} failed (exit {process.returncode}): "
                + " / ".join(tail[-6:])
            )
        image = self.inspect(request.tag)
        if image is None:
            raise ImageBuildError(f"{self.name} built {request.tag} but cannot find it")
        return image

    def push(self, ref: str) -> str:
        with tempfile.TemporaryDirectory() as scratch:
            digest_file = Path(scratch) / "digest"
            done = self._run("push", "--digestfile", str(digest_file), ref, timeout=1800)
            if done.returncode != 0:
                tail = " / ".join(done.stderr.strip().splitlines()[-4:])
                raise ImageBuildError(
                    f"pushing {ref} failed: {tail}; log in first (`{self.name} login "
                    f"{ref.split('/')[0]}`), the credentials stay in its auth file"
                )
            return digest_file.read_text().strip()


class FakeBuilder:
    """An in-memory builder for tests: builds are recorded, images get stable ids."""

    name = "fake"

    def __init__(self, size_bytes: int = 100_000_000) -> None:
        self.images: dict[str, LocalImage] = {}
        self.builds: list[BuildRequest] = []
        self.pushed: list[str] = []
        self._size = size_bytes

    def inspect(self, ref: str) -> LocalImage | None:
        return self.images.get(ref)

    def build(self, request: BuildRequest, on_line: Callable[[str], None]) -> LocalImage:
        self.builds.append(request)
        on_line(f"STEP 1/1: fake build of {request.tag}")
        content = request.labels.get(CONTENT_LABEL, "")
        image = LocalImage(
            ref=request.tag,
            image_id=f"fake{len(self.builds):04d}{content[:8]}",
            size_bytes=self._size,
            created=datetime.now(UTC).isoformat(),
            labels=dict(request.labels),
        )
        self.images[request.tag] = image
        return image

    def push(self, ref: str) -> str:
        self.pushed.append(ref)
        return "sha256:" + (self.images[ref].image_id.encode().hex() * 8)[:64]
