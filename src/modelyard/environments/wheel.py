"""A reproducible wheel of the running modelyard, made from its package folder.

The image installs modelyard from this wheel (``--no-deps``: the image's lock holds what it
needs in a pod). Building it here instead of with a PEP 517 backend keeps it byte-for-byte
the same for the same sources (fixed timestamps, sorted entries), so an unchanged modelyard
never invalidates the image's layer cache, and it works from a source tree and from an
installed copy alike.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class Wheel:
    """A built wheel: its file name, its bytes and their sha256."""

    filename: str
    data: bytes
    sha256: str


def package_dir() -> Path:
    """The folder of the running modelyard package."""
    return Path(__file__).resolve().parents[1]


def running_version() -> str:
    """modelyard's version as installed (the package's own ``__version__`` matches it; read
    from the metadata so that this layer does not import the package's lazy API)."""
    try:
        return version("modelyard")
    except PackageNotFoundError:  # pragma: no cover - run from a bare source tree
        return "0+unknown"


def _package_files(root: Path) -> list[Path]:
    files = [
        path
        for path in root.rglob("*")
        if path.is_file()
        and not _SKIP_DIRS.intersection(path.relative_to(root).parts)
        and not path.name.endswith(_SKIP_SUFFIXES)
    ]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def build_wheel(version: str | None = None, root: Path | None = None) -> Wheel:
    """A ``py3-none-any`` wheel of the package folder ``root`` (the running one by default)."""
    version = version or running_version()
    root = root or package_dir()
    dist_info = f"modelyard-{version}.dist-info"
    entries: list[tuple[str, bytes]] = [
        (f"modelyard/{path.relative_to(root).as_posix()}", path.read_bytes())
        for path in _package_files(root)
    ]
    entries += [
        (
            f"{dist_info}/METADATA",
            f"Metadata-Version: 2.1\nName: modelyard\nVersion: {version}\n"
            "Requires-Python: >=3.11\n".encode(),
        ),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: modelyard.environments.wheel\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (f"{dist_info}/entry_points.txt", b"[console_scripts]\nmodelyard = modelyard.cli:main\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    data = buffer.getvalue()
    return Wheel(
        filename=f"modelyard-{version}-py3-none-any.whl",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )
