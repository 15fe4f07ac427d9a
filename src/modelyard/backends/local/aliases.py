"""Registry alias moves of the local backend, recorded first and applied by a process that
has MLflow at hand.

A promotion or rollback moves the registry's ``production`` alias (issue 8: the training
gate compares with it). The steering commands (``rollback``, ``rollout promote|abort``) must
not import MLflow (a rollback is a user's emergency, and MLflow's import alone is seconds), so
they only record the move in the state store (``pending_aliases``, the latest request per
model and alias wins) and hand it on: the deployment's supervisor, which runs with MLflow
imported, applies pending moves on each loop turn; with no supervisor running, a detached
helper process (``python -m modelyard.backends.local.aliases WORKSPACE MODEL``) applies
them. Processes that have imported MLflow anyway (the supervisor, ``deploy``) apply at once.
Applying holds the model's alias lock, so two appliers never undo each other's newer move.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from modelyard.backends.local.locks import FileLock, run_dir, supervisor_lock
from modelyard.backends.local.state import StateStore
from modelyard.config import Workspace

log = logging.getLogger(__name__)

PRODUCTION = "production"
"""The registry alias of the version serving all traffic (``registry.PRODUCTION_ALIAS``)."""


def alias_lock(state_dir: Path, model_id: str) -> FileLock:
    return FileLock(run_dir(state_dir) / f"{model_id}.alias.lock")


def apply_pending(workspace_root: Path, state_dir: Path, tracking: object | None,
                  model_id: str) -> int:  # fmt: skip
    """Apply ``model_id``'s pending alias moves to the registry; returns how many.

    ``tracking`` is a ``Registry`` (built here from the workspace when None: MLflow loads)."""
    store = StateStore(state_dir / "state.db")
    if not store.pending_aliases(model_id):
        return 0
    lock = alias_lock(state_dir, model_id)
    done = 0
    with lock.hold():
        pending = store.pending_aliases(model_id)
        if not pending:
            return 0
        registry = tracking
        if registry is None:
            from modelyard.config import load_workspace
            from modelyard.registry import Registry

            registry = Registry.for_workspace(load_workspace(workspace_root))
        for model, alias, version, at in pending:
            registry.set_alias(model, alias, int(version))  # type: ignore[attr-defined]
            store.alias_applied(model, alias, version, at)
            done += 1
    return done


def hand_off(workspace_root: Path, state_dir: Path, model_id: str) -> None:
    """Make sure someone applies ``model_id``'s pending moves: its running supervisor does on
    its next loop turn; else a detached helper process is started for it."""
    if supervisor_lock(state_dir, model_id).held_elsewhere():
        return
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{model_id}-aliases.log").open("ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "modelyard.backends.local.aliases", str(workspace_root),
             model_id],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )  # fmt: skip


def marker(
    workspace_root: Path, state_dir: Path, model_id: str, *, now: Callable[[], object] | None
) -> Callable[[str], None]:
    """What moves ``production`` to a new primary: recorded, then applied here at once when
    ``now`` gives a registry (a process with MLflow), else handed off."""

    def mark(version: str) -> None:
        StateStore(state_dir / "state.db").request_alias(model_id, PRODUCTION, str(version))
        if now is not None:
            apply_pending(workspace_root, state_dir, now(), model_id)
        else:
            hand_off(workspace_root, state_dir, model_id)

    return mark


def production_marker(
    workspace: Workspace, model_id: str, *, hand_off: bool = False
) -> Callable[[str], None]:
    """What moves the registry's ``production`` alias when ``model_id`` gets a new primary.

    The move is recorded in the state store, then applied here (this process builds a
    Registry: MLflow) or, with ``hand_off``, by the running supervisor or a detached helper,
    so that the caller never imports MLflow (this module).
    """
    registry: list[object] = []

    def registry_now() -> object:
        if not registry:
            from modelyard.registry import Registry

            registry.append(Registry.for_workspace(workspace))
        return registry[0]

    return marker(
        workspace.root, workspace.state_dir, model_id, now=None if hand_off else registry_now
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m modelyard.backends.local.aliases WORKSPACE MODEL", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from modelyard.config import load_workspace

    workspace = load_workspace(Path(args[0]))
    done = apply_pending(workspace.root, workspace.state_dir, None, args[1])
    log.info("%s: %d alias move(s) applied", args[1], done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
