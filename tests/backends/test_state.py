"""The local state store: round trips, atomic transactions, and writers in two processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from modelyard.backends.local.state import (
    SCHEMA_VERSION,
    Deployment,
    RevisionNotFound,
    StateError,
    StateStore,
)
from modelyard.errors import NotFound
from modelyard.observe.usage import UsageSample


class Clock:
    """A clock one second later at every reading, so records written in turn are ordered."""

    def __init__(self) -> None:
        self.at = 1000.0

    def now(self) -> float:
        self.at += 1
        return self.at

    def monotonic(self) -> float:
        return self.now()


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / ".modelyard" / "state.db", clock=Clock())


def test_schema_is_created_once_and_versioned(tmp_path):
    store = StateStore.for_workspace(tmp_path)
    assert store.path == tmp_path / ".modelyard" / "state.db"
    StateStore.for_workspace(tmp_path)  # a second open finds the schema in place
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StateError, match="upgrade modelyard"):
        StateStore(path)


def test_deployments_round_trip(store):
    dep = Deployment("ctr", "serving", port=8100, pid=42, primary_version="3")
    saved = store.upsert_deployment(dep)
    assert saved == replace(dep, updated_at=saved.updated_at)
    assert saved.updated_at > 0
    assert store.get_deployment("ctr") == saved

    moved = store.upsert_deployment(replace(saved, canary_version="4", canary_weight=25.0))
    assert store.get_deployment("ctr") == moved
    assert (moved.canary_version, moved.canary_weight) == ("4", 25.0)
    store.upsert_deployment(Deployment("abc", "stopped"))
    assert [d.model_id for d in store.list_deployments()] == ["abc", "ctr"]
    assert store.get_deployment("nope") is None
    assert store.delete_deployment("abc")
    assert not store.delete_deployment("abc")


def test_revisions_number_and_supersede(store):
    first = store.add_revision("ctr", "1", outcome="active", by="ana")
    assert (first.revision, first.version, first.created_by, first.outcome) == (
        1,
        "1",
        "ana",
        "active",
    )
    second = store.add_revision("ctr", "2")
    assert (second.revision, second.outcome) == (2, "pending")
    assert second.created_by  # the login name
    assert store.current_revision("ctr") == first
    assert store.previous_revision("ctr") is None

    store.set_revision_outcome("ctr", 2, "active")
    assert store.current_revision("ctr").revision == 2
    assert store.previous_revision("ctr").revision == 1
    assert [r.outcome for r in store.revisions("ctr")] == ["superseded", "active"]

    third = store.add_revision("ctr", "3")
    failed = store.set_revision_outcome("ctr", third.revision, "rolled_back", "error_rate 0.08")
    assert (failed.outcome, failed.reason) == ("rolled_back", "error_rate 0.08")
    assert store.get_revision("ctr", 3) == failed
    assert store.current_revision("ctr").revision == 2
    assert store.previous_revision("ctr").revision == 1
    assert store.revisions("other") == []


def test_an_unknown_revision_is_not_found(store):
    with pytest.raises(RevisionNotFound, match="no revision 7") as info:
        store.set_revision_outcome("ctr", 7, "aborted")
    assert isinstance(info.value, NotFound)


def test_rollout_state_round_trips(store):
    state = {"format": 1, "phase": "canary", "step": 1, "base": None, "plan": {"steps": [5, 100]}}
    store.add_revision("ctr", "2")
    saved = store.save_rollout("ctr", 1, state)
    assert store.load_rollout("ctr") == saved
    assert saved.state == state
    assert not saved.finished
    assert [r.revision for r in store.unfinished_rollouts()] == [1]

    store.save_rollout("ctr", 1, {**state, "phase": "promoted"}, finished=True)
    assert store.load_rollout("ctr", 1).state["phase"] == "promoted"
    assert store.unfinished_rollouts() == []
    assert store.load_rollout("ctr", 9) is None
    assert store.load_rollout("other") is None


def test_events_in_order_and_by_revision(store):
    for revision, kind in [(1, "started"), (1, "promoted"), (2, "started"), (2, "analysis")]:
        store.append_event("ctr", revision, kind, {"weight": 5.0, "checks": [{"name": "x"}]})
    store.append_event("abc", 1, "started")
    assert [e.kind for e in store.events("ctr")] == ["started", "promoted", "started", "analysis"]
    assert [e.kind for e in store.events("ctr", 2)] == ["started", "analysis"]
    assert [e.kind for e in store.events("ctr", limit=2)] == ["started", "analysis"]
    last = store.events("ctr")[-1]
    assert last.detail == {"weight": 5.0, "checks": [{"name": "x"}]}
    assert store.events("abc")[0].detail == {}
    assert store.append_event("ctr", 2, "paused", at=5.0).at == 5.0


def test_usage_samples(store):
    store.record_usage(UsageSample("ctr", 10.0, 0.5, 100_000))
    store.record_usage(UsageSample("ctr", 20.0, 0.7, 120_000))
    store.record_usage(UsageSample("job:train-ctr", 15.0, 2.0, 1 << 30))
    assert [s.cpu_cores for s in store.usage("ctr")] == [0.5, 0.7]
    assert [s.memory_bytes for s in store.usage("ctr", since=15.0)] == [120_000]


def _half_a_step(store: StateStore) -> None:
    with store.transaction():
        store.add_revision("ctr", "2")
        store.save_rollout("ctr", 1, {"phase": "canary"})
        store.append_event("ctr", 1, "step", {"weight": 5})
        store.upsert_deployment(Deployment("ctr", "serving", "1", canary_version="2"))
        raise RuntimeError("crash between writes")


def test_a_failed_transaction_writes_nothing(store):
    store.upsert_deployment(Deployment("ctr", "serving", primary_version="1"))
    with pytest.raises(RuntimeError, match="crash"):
        _half_a_step(store)
    assert store.revisions("ctr") == []
    assert store.load_rollout("ctr") is None
    assert store.events("ctr") == []
    assert store.get_deployment("ctr").canary_version is None


def test_a_transaction_commits_all_its_writes_and_reads_its_own(store):
    with store.transaction():
        revision = store.add_revision("ctr", "2")
        store.save_rollout("ctr", revision.revision, {"phase": "loading"})
        with store.transaction():  # nested: joins the outer one
            store.append_event("ctr", revision.revision, "started")
        assert store.load_rollout("ctr") is not None
    assert len(store.events("ctr")) == 1
    assert store.current_revision("ctr") is None


def _writer(path: str, name: str, count: int) -> None:
    store = StateStore(path)
    for i in range(count):
        with store.transaction():
            revision = store.add_revision("ctr", f"{name}-{i}", by=name)
            store.append_event("ctr", revision.revision, "started", {"writer": name})
            store.save_rollout("ctr", revision.revision, {"writer": name, "i": i})


def test_two_processes_writing_at_once_do_not_corrupt(tmp_path):
    path = str(tmp_path / "state.db")
    StateStore(path)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(path, n, 40)) for n in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    store = StateStore(path)
    revisions = store.revisions("ctr")
    assert [r.revision for r in revisions] == list(range(1, 81))
    assert sorted(r.version for r in revisions if r.created_by == "a") == sorted(
        f"a-{i}" for i in range(40)
    )
    events = store.events("ctr")
    assert len(events) == 80
    for event in events:  # each event belongs to the revision written with it
        assert store.get_revision("ctr", event.revision).created_by == event.detail["writer"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
