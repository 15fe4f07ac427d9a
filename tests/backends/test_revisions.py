"""The revision rules every backend shares, as a pure value (no store, no process)."""

from __future__ import annotations

import pytest

from modelyard.backends.revisions import (
    NothingToRollBack,
    RevisionNotFound,
    Revisions,
    RolloutInProgress,
)


def _served(*versions: str) -> Revisions:
    """Each version deployed and promoted in turn."""
    revs = Revisions("m")
    for at, version in enumerate(versions):
        done = revs.deployed(version, by="t", at=float(at))
        revs = done.revisions
        if done.action == "rollout":
            assert done.revision is not None
            revs = revs.with_outcome(done.revision.revision, "active")
    return revs


def test_one_active_revision_and_numbers_that_only_grow() -> None:
    revs = _served("1", "2", "3")
    assert [(r.revision, r.outcome) for r in revs.items] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "active"),
    ]
    assert revs.deployed("3", by="t", at=9.0).action == "unchanged"
    pending = revs.deployed("4", by="t", at=9.0).revisions
    for version in ("3", "4", "5"):
        with pytest.raises(RolloutInProgress, match="version 4 is in progress"):
            pending.deployed(version, by="t", at=10.0)


def test_a_rollback_goes_to_the_last_other_version_that_served() -> None:
    revs = _served("1", "2", "2", "3")  # the second "2" is unchanged: no revision
    done = revs.roll_back(by="ada", at=5.0)
    assert (done.made.revision, done.made.version, done.made.outcome) == (4, "2", "active")
    assert done.rolled_back.revision == 3
    after = done.revisions
    assert after.get(3) is not None
    assert after.get(3).outcome == "rolled_back"  # type: ignore[union-attr]
    assert after.rollback_target() is not None
    assert after.rollback_target().version == "1"  # type: ignore[union-attr]  # never "2" again
    assert [r.revision for r in after.changed_since(revs)] == [3, 4]  # what a store writes


def test_nothing_to_roll_back_to_and_unknown_revisions_are_refused() -> None:
    with pytest.raises(NothingToRollBack):
        Revisions("m").roll_back(by="t", at=0.0)
    with pytest.raises(NothingToRollBack):
        _served("1").roll_back(by="t", at=0.0)
    with pytest.raises(RevisionNotFound, match="no revision 7"):
        _served("1").with_outcome(7, "aborted")
