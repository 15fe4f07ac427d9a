"""Reading a topic by assigned partitions: to its end, from stored offsets, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.errors import NotFound
from modelyard.streams import OffsetStore, read_topic
from modelyard.streams.tansu import TansuBroker


def test_a_read_from_the_stored_offsets_gets_only_what_is_new(broker: TansuBroker) -> None:
    broker.create_topic("events", partitions=3)
    broker.produce("events", [(f"k{i}".encode(), f"v{i}".encode()) for i in range(30)])
    first = list(read_topic(broker.endpoint, "events", {}, timeout_s=30))
    assert sorted(m.value for m in first) == sorted(f"v{i}".encode() for i in range(30))
    after = {}
    for m in first:
        after[m.partition] = max(after.get(m.partition, 0), m.offset + 1)
    broker.produce("events", [(f"k{i}".encode(), f"v{i}".encode()) for i in range(30, 37)])
    second = list(read_topic(broker.endpoint, "events", after, timeout_s=30))
    assert sorted(m.value for m in second) == sorted(f"v{i}".encode() for i in range(30, 37))
    assert list(read_topic(broker.endpoint, "events", {}, timeout_s=30)).__len__() == 37


def test_an_empty_topic_reads_as_nothing(broker: TansuBroker) -> None:
    broker.create_topic("quiet")
    assert list(read_topic(broker.endpoint, "quiet", {}, timeout_s=30)) == []


def test_a_missing_topic_is_named(broker: TansuBroker) -> None:
    with pytest.raises(NotFound, match="topic 'nope' does not exist"):
        list(read_topic(broker.endpoint, "nope", {}, timeout_s=30))


def test_offsets_are_kept_per_topic_and_partition(tmp_path: Path) -> None:
    store = OffsetStore(tmp_path / "offsets" / "train.parquet.json")
    assert store.load() == {}
    store.save({"preds": {0: 12, 2: 5}, "outs": {0: 3}})
    assert store.load() == {"preds": {0: 12, 2: 5}, "outs": {0: 3}}
    assert [p.name for p in store.path.parent.iterdir()] == ["train.parquet.json"]
