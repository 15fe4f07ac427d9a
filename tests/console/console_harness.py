"""The records the console tests' fixtures hand to the tests."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.config import Workspace


@dataclass(frozen=True)
class Yard:
    workspace: Workspace
    bad_version: int
    reason: str
    """The rolled-back revision's reason in the history."""


@dataclass(frozen=True)
class Console:
    url: str
    token: str
