"""The build record: concurrent builds keep each other's entries; a digest keeps to its content."""

from __future__ import annotations

import threading
from pathlib import Path

from modelyard.environments.index import (
    ImageRecord,
    pinned_images,
    read_index,
    record_digest,
    record_image,
)


def _record(key: str, n: int, content: str = "c") -> ImageRecord:
    return ImageRecord(key, f"reg/{key}:3.11-{n:012d}", content, f"id{n}", n, "2026-12-05")


def test_concurrent_builds_of_different_runtimes_lose_nothing(tmp_path: Path) -> None:
    keys = [f"runtime-{i}" for i in range(8)]

    def build(key: str) -> None:
        for n in range(25):
            record_image(tmp_path, _record(key, n))

    threads = [threading.Thread(target=build, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = read_index(tmp_path)
    assert sorted(records) == keys
    assert all(record.size_bytes == 24 for record in records.values())
    assert not list((tmp_path / "images").glob(".*.tmp"))


def test_a_digest_is_kept_for_the_same_content_and_dropped_when_it_moves(tmp_path: Path) -> None:
    record_image(tmp_path, _record("sk", 1))
    record_digest(tmp_path, "sk", "sha256:" + "a" * 64)
    record_image(tmp_path, _record("sk", 1))  # up to date: same tag, same content
    assert pinned_images(tmp_path) == {"reg/sk:3.11-000000000001": "reg/sk@sha256:" + "a" * 64}

    record_image(tmp_path, _record("sk", 1, content="rebuilt after a code change"))

    assert pinned_images(tmp_path) == {}
    assert read_index(tmp_path)["sk"].digest is None
