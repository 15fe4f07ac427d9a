"""A Tansu broker per test, on a free loopback port (the broker keeps topics in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.streams.tansu import TansuBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    with TansuBroker(tmp_path / "tansu.log").running() as running:
        yield running
