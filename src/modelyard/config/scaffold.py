"""``modelyard init``: lay out a new workspace with one example model.

The templates ship inside the package; nothing is downloaded.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from modelyard.config.example_data import EXAMPLE_DATASET, write_example_dataset
from modelyard.errors import Conflict

TEMPLATE = "workspace"


def _files(node: Traversable, prefix: Path) -> list[tuple[Path, bytes]]:
    out: list[tuple[Path, bytes]] = []
    for child in node.iterdir():
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            out.extend(_files(child, prefix / child.name))
        else:
            out.append((prefix / child.name, child.read_bytes()))
    return out


def init_workspace(target: Path) -> list[Path]:
    """Write the example workspace into ``target``; refuse to overwrite any file.

    Returns the paths written. Either every file is written or none is.
    """
    root = resources.files("modelyard.config").joinpath("templates", TEMPLATE)
    files = sorted(_files(root, Path()))
    clashes = [rel for rel, _ in files if (target / rel).exists()]
    if (target / EXAMPLE_DATASET).exists():
        clashes.append(EXAMPLE_DATASET)
    if clashes:
        raise Conflict(
            f"{target} already has {', '.join(str(c) for c in clashes)}; "
            "pick an empty folder or remove those files"
        )
    written: list[Path] = []
    try:
        for rel, content in files:
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written.append(path)
        dataset = write_example_dataset(target)
        if dataset is not None:
            written.append(dataset)
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written
