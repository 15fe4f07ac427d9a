"""The offsets a dataset build has read up to, per topic and partition, in one JSON file.

A build reads each topic from the offsets stored for its dataset and, only once the dataset
file is written, stores where it stopped (temporary file, then rename), so a second build
reads only what is new and a failed build reads the same messages again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from modelyard.errors import ConfigError

Offsets = dict[str, dict[int, int]]
"""topic -> partition -> next offset to read."""


class OffsetStore:
    """Offsets of one dataset, in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Offsets:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{self.path}: stored Kafka offsets cannot be read ({exc}); delete the file "
                "to read the topics from their start"
            ) from exc
        return {topic: {int(p): int(o) for p, o in parts.items()} for topic, parts in raw.items()}

    def save(self, offsets: Offsets) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        body = {t: {str(p): o for p, o in sorted(parts.items())} for t, parts in offsets.items()}
        staging.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")
        staging.replace(self.path)
