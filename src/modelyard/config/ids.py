"""The model id: one type, checked once, wherever an id comes in (a file, a command, a URL).

A model id names a folder under ``models/``, an MLflow experiment, a lock file under the state
folder, a Kubernetes object and a URL path segment, so it must be safe in all of them: a DNS
label (lowercase letters, digits and '-', starting with a letter, at most 42 characters, room
left for suffixes). ``parse_model_id`` is the one way text becomes a :class:`ModelId`; since
the pattern admits no '/', '.' or '\\', an id can never name a path outside its folder.
"""

from __future__ import annotations

import re
from typing import NewType

from modelyard.errors import ConfigError

ModelId = NewType("ModelId", str)
"""A model id that passed :func:`parse_model_id`."""

MODEL_ID_PATTERN = re.compile(r"^[a-z]([a-z0-9-]{0,40}[a-z0-9])?$")
MODEL_ID_MAX_CHARS = 42


class InvalidModelId(ConfigError):
    """Text that was meant as a model id is not one."""

    def __init__(self, text: str) -> None:
        shown = text if len(text) <= 60 else text[:57] + "..."
        super().__init__(
            f"{shown!r} is not a valid model id: use lowercase letters, digits and '-', "
            f"start with a letter, at most {MODEL_ID_MAX_CHARS} characters"
        )
        self.text = text


def parse_model_id(text: str) -> ModelId:
    """``text`` as a :class:`ModelId`, or :class:`InvalidModelId` saying what an id may be."""
    if not isinstance(text, str) or not MODEL_ID_PATTERN.fullmatch(text):
        raise InvalidModelId(str(text))
    return ModelId(text)
