"""The local backend's deployment workflows: deploy, up, down, rollout commands, rollback.

What the CLI (and the Python API) call. Each one commits its change to the state store first,
then makes it happen: a new deployment gets a supervisor process (see
:mod:`modelyard.backends.local.supervisor`); a new version of a served model becomes a pending
rollout that the supervisor drives; a user's rollout command goes through the same
:class:`~modelyard.backends.local.controller.RolloutController` as the supervisor, acting on the
server's admin API before it returns, so a rollback takes effect before the command ends.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from modelyard.backends.backend import Command, DeployResult, RollbackResult
from modelyard.backends.local.actuator import ServerActuator, cache_fetcher
from modelyard.backends.local.aliases import production_marker
from modelyard.backends.local.controller import NoRollout, RolloutController
from modelyard.backends.local.locks import rollout_lock, supervisor_lock
from modelyard.backends.local.records import Deployment, Revision, RolloutEvent
from modelyard.backends.local.sink_health import PredictionLogHealth, read_health
from modelyard.backends.local.state import StateStore
from modelyard.backends.revisions import RolloutInProgress
from modelyard.config import Workspace
from modelyard.config.ids import parse_model_id
from modelyard.errors import Conflict, IntegrityError, ModelyardError, Unavailable
from modelyard.rollout import (
    Event,
    RolloutPlan,
    RolloutState,
    Start,
    UserAbort,
    UserPause,
    UserPromote,
    UserResume,
    UserRollback,
    advance,
    new_rollout,
)
from modelyard.serving.admin.client import ServerUnreachable
from modelyard.workflows.serve import admin_token

SERVED_STATES = ("production", "staging")


class DeployFailed(ModelyardError):
    """The deployment's server could not be started; the supervisor gave up and said why."""


class RollbackRaced(Conflict):
    """Another command changed the serving revision while this rollback waited its turn."""


@dataclass(frozen=True)
class RolloutView:
    """Everything ``rollout status`` shows."""

    deployment: Deployment | None
    revision: int | None
    """The revision of the latest rollout."""
    state: RolloutState | None
    events: list[RolloutEvent]
    now: float
    active: Revision | None = None
    """The revision serving now (a rollback makes one without a rollout)."""
    supervisor_running: bool = True
    """Whether the deployment's supervisor holds its lock; ``False`` with a stored pid means it
    died (nothing restarts the server or drives the rollout until ``modelyard up``)."""
    prediction_log: PredictionLogHealth | None = None
    """The serving server's prediction-log counters (None when no server answers)."""


def store_for(workspace: Workspace) -> StateStore:
    """The workspace's state store."""
    return StateStore.for_workspace(workspace)


def _admin(workspace: Workspace, deployment: Deployment | None) -> ServerActuator | None:
    if deployment is None or deployment.port is None or deployment.status != "serving":
        return None
    url = f"http://127.0.0.1:{deployment.port}"
    return ServerActuator(
        url,
        deployment.model_id,
        admin_token(workspace),
        timeout=60.0,
        prepare=cache_fetcher(workspace, deployment.model_id),
    )


def controller_for(
    workspace: Workspace, model_id: str, *, hand_off_alias: bool = False
) -> RolloutController:
    """A controller acting on the model's running server (if any).

    ``hand_off_alias``: the registry alias moves are applied by another process (the
    steering commands, which do not import MLflow)."""
    store = store_for(workspace)
    admin = _admin(workspace, store.get_deployment(model_id))
    lock = rollout_lock(workspace.state_dir, model_id)
    marker = production_marker(workspace, model_id, hand_off=hand_off_alias)
    return RolloutController(store, model_id, lock, admin, on_promoted=marker)


# ---------------------------------------------------------------------- supervisor processes


def supervisor_running(workspace: Workspace, model_id: str) -> bool:
    return supervisor_lock(workspace.state_dir, model_id).held_elsewhere()


def start_supervisor(
    workspace: Workspace,
    model_id: str,
    *,
    env: Mapping[str, str] | None = None,
    poll: float = 0.5,
    max_start_failures: int | None = None,
) -> None:
    """Start the model's supervisor, detached, unless one runs already.

    ``max_start_failures``: consecutive failed starts before it gives up (its default: 5).
    """
    if supervisor_running(workspace, model_id):
        return
    logs = workspace.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "modelyard.backends.local.supervisor", str(workspace.root)]
    if max_start_failures is not None:
        command += ["--max-start-failures", str(max_start_failures)]
    with (logs / f"{model_id}-supervisor.log").open("ab") as log:
        subprocess.Popen(
            [*command, model_id, "--poll", str(poll)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    deadline = time.monotonic() + 30.0
    while not supervisor_running(workspace, model_id):
        if time.monotonic() > deadline:
            raise Unavailable(f"the supervisor of {model_id} did not start; see {logs}", 5.0)
        time.sleep(0.05)


def wait_serving(workspace: Workspace, model_id: str, timeout: float = 180.0) -> Deployment:
    """Block until the model's server is ready."""
    store = store_for(workspace)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = store.get_deployment(model_id)
        if found is not None and found.status == "serving":
            return found
        if not supervisor_running(workspace, model_id):
            _raise_if_failed(store, model_id)
            break
        time.sleep(0.1)
    logs = workspace.state_dir / "logs"
    raise Unavailable(f"the server of {model_id} is not serving; see {logs}", 5.0)


def _raise_if_failed(store: StateStore, model_id: str) -> None:
    """Raise the reason the supervisor recorded when it gave up on the model's server."""
    found = store.get_deployment(model_id)
    if found is None or found.status != "failed":
        return
    gave_up = [e for e in store.events(model_id, limit=20) if e.kind == "gave_up"]
    reason = gave_up[-1].detail.get("reason", "") if gave_up else "see its log"
    raise DeployFailed(
        f"the server of {model_id} could not be started: {reason}; the supervisor gave up "
        f"(see `modelyard history {model_id}`)"
    )


def _refuse_unverified(
    workspace: Workspace, store: StateStore, model_id: str, number: str, by: str | None
) -> None:
    """Verify a first deploy's artifact now: a checksum mismatch fails the deploy at once.

    The revision is recorded ``failed`` with the reason, and nothing starts.
    """
    from modelyard.registry import Registry

    try:
        Registry.for_workspace(workspace).fetch(model_id, int(number))
    except IntegrityError as exc:
        with store.transaction():
            failed = store.add_revision(model_id, number, outcome="failed", reason=str(exc), by=by)
            detail = {"version": number, "reason": str(exc)}
            store.append_event(model_id, failed.revision, "failed", detail)
        raise


# ---------------------------------------------------------------------- deploy / up / down


def deploy(
    workspace: Workspace,
    model_id: str,
    version: int | None = None,
    *,
    by: str | None = None,
    plan: RolloutPlan | None = None,
    env: Mapping[str, str] | None = None,
    wait: bool = True,
) -> DeployResult:
    """Serve ``version`` (newest by default): start the server, or roll the version out.

    ``plan`` overrides ``deploy.yaml``'s rollout section (tests and benchmarks).
    """
    from modelyard.registry import Registry

    entry = workspace.model(model_id)
    number = str(Registry.for_workspace(workspace).resolve(model_id, version).version)
    controller = controller_for(workspace, model_id)
    store = controller.store
    with controller.lock.hold():
        deployment = store.get_deployment(model_id)
        primary = deployment.primary_version if deployment else None
        revision: Revision | None
        if primary is None:
            _refuse_unverified(workspace, store, model_id, number, by)
            with store.transaction():
                # active once its server serves (the supervisor says so), failed if it cannot
                revision = store.add_revision(model_id, number, outcome="pending", by=by)
                store.append_event(model_id, revision.revision, "deployed", {"version": number})
                store.upsert_deployment(
                    replace(
                        deployment or Deployment(model_id, "starting"),
                        status="starting",
                        primary_version=number,
                    )
                )
            action: Literal["started", "rollout", "unchanged"] = "started"
        elif (running := controller.unfinished()) is not None:
            # whichever version is asked for, as on every backend (Revisions.deploy_action)
            raise RolloutInProgress(
                f"a rollout of {model_id} version {running[1].version} is in progress "
                f"({running[1].status}); promote, abort or roll it back first"
            )
        elif primary == number:
            revision, action = store.current_revision(model_id), "unchanged"
        else:
            rollout_plan = plan or RolloutPlan.from_config(entry.deploy.rollout)
            now = controller.clock.now()
            state = new_rollout(
                rollout_plan, model=model_id, version=number, current=primary, now=now
            )
            transition = advance(state, Start(), now)
            with store.transaction():
                revision = store.add_revision(model_id, number, outcome="pending", by=by)
                controller.commit(revision.revision, transition)
            action = "rollout"
    start_supervisor(workspace, model_id, env=env)
    found = wait_serving(workspace, model_id) if wait else store.get_deployment(model_id)
    url = f"http://127.0.0.1:{found.port}" if found and found.port else None
    return DeployResult(model_id, number, revision.revision if revision else None, action, url)


def up(workspace: Workspace, *, env: Mapping[str, str] | None = None) -> list[DeployResult]:
    """Start every deployment whose model.yaml state is production or staging."""
    results = []
    store = store_for(workspace)
    results.extend(_up_pools(workspace))
    for model_id, entry in sorted(workspace.models.items()):
        if entry.spec.state not in SERVED_STATES or entry.deploy.pool is not None:
            continue
        deployment = store.get_deployment(model_id)
        if deployment is not None and deployment.primary_version is not None:
            start_supervisor(workspace, model_id, env=env)
            found = wait_serving(workspace, model_id)
            url = f"http://127.0.0.1:{found.port}"
            current = store.current_revision(model_id)
            results.append(
                DeployResult(
                    model_id,
                    deployment.primary_version,
                    current.revision if current else None,
                    "unchanged",
                    url,
                )
            )
        else:
            results.append(deploy(workspace, model_id, env=env))
    return results


def _up_pools(workspace: Workspace) -> list[DeployResult]:
    """Start one server per pool that a served model names (see ``pools.py``)."""
    from modelyard.backends.local import pools

    served = [m for m, e in sorted(workspace.models.items()) if e.spec.state in SERVED_STATES]
    results = []
    for pool, model_ids in sorted(pools.pooled_pools(workspace, served).items()):
        run, started, versions = pools.start(workspace, pool)
        action: Literal["started", "unchanged"] = "started" if started else "unchanged"
        for model_id in model_ids:
            results.append(DeployResult(model_id, str(versions[model_id]), None, action, run.url))
    return results


def down(
    workspace: Workspace, model_ids: list[str] | None = None, timeout: float = 60.0
) -> list[str]:
    """Stop the supervisors (their servers drain first); returns the models stopped. Without
    model ids, the pool servers too (``pool:<name>``)."""
    import signal

    from modelyard.backends.local import pools

    stopped: list[str] = []
    if not model_ids:
        stopped.extend(
            f"pool:{p}" for p in sorted(workspace.settings.pools) if pools.stop(workspace, p)
        )
    for model_id in [parse_model_id(m) for m in model_ids or sorted(workspace.models)]:
        lock = supervisor_lock(workspace.state_dir, model_id)
        if not lock.held_elsewhere():
            continue
        pid = int(lock.path.read_text() or 0)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + timeout
        while lock.held_elsewhere() and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped.append(model_id)
    return stopped


# ---------------------------------------------------------------------- rollout commands


def rollout_command(
    workspace: Workspace, model_id: str, command: Command, *, by: str = ""
) -> RolloutState:
    """Promote, pause, resume or abort the model's rollout; acts before returning."""
    workspace.model(model_id)
    events: dict[Command, Event] = {
        "promote": UserPromote(by=by),
        "pause": UserPause(by=by),
        "resume": UserResume(by=by),
        "abort": UserAbort(by=by),
    }
    controller = controller_for(workspace, model_id, hand_off_alias=True)
    try:
        if controller.unfinished() is None:
            raise NoRollout(f"model {model_id!r} has no rollout in progress")
        return controller.apply(events[command])
    finally:
        if controller.admin is not None:
            controller.admin.close()


def rollback(workspace: Workspace, model_id: str, *, by: str = "") -> RollbackResult:
    """Back to the previous revision at once: the rollout in progress, or the last one done.

    Returns once the server answers with the previous version (when it runs).
    """
    workspace.model(model_id)
    controller = controller_for(workspace, model_id, hand_off_alias=True)
    store = controller.store
    try:
        seen = store.current_revision(model_id)
        running = controller.unfinished()
        if running is not None:
            state = controller.apply(UserRollback(by=by))
            current = store.current_revision(model_id)
            return RollbackResult(
                model_id,
                state.current or "",
                current.revision if current else 0,
                running[0],
                True,
            )
        with controller.lock.hold():
            current = store.current_revision(model_id)
            if seen is not None and current is not None and current.revision != seen.revision:
                raise RollbackRaced(
                    f"revision {current.revision} of {model_id!r} (version {current.version}) "
                    f"took effect while this rollback waited; nothing was changed: see "
                    "`modelyard history`, then roll back again if you still mean to"
                )
            with store.transaction():
                done = store.roll_back(model_id, by=by or None)  # NothingToRollBack: none
                made, old = done.made, done.rolled_back
                detail = {"version": made.version, "from": old.version, "by": by}
                store.append_event(model_id, made.revision, "rolled_back", detail)
                deployment = store.get_deployment(model_id) or Deployment(model_id, "stopped")
                store.upsert_deployment(
                    replace(
                        deployment,
                        primary_version=made.version,
                        canary_version=None,
                        canary_weight=0.0,
                        shadow_version=None,
                    )
                )
            if controller.on_promoted is not None:
                controller.on_promoted(made.version)
            if controller.admin is not None:
                # an unreachable server gets the routing from the supervisor when it is back
                with contextlib.suppress(ServerUnreachable):
                    controller.admin.promote(made.version)
            return RollbackResult(model_id, made.version, made.revision, old.revision, False)
    finally:
        if controller.admin is not None:
            controller.admin.close()


# ---------------------------------------------------------------------- views


def rollout_view(workspace: Workspace, model_id: str, events: int = 12) -> RolloutView:
    """The deployment, its latest rollout and the last ``events`` history entries."""
    workspace.model(model_id)
    store = store_for(workspace)
    record = store.load_rollout(model_id)
    state = RolloutState.from_dict(record.state) if record else None
    deployment = store.get_deployment(model_id)
    health = None
    if deployment is not None and deployment.port is not None and deployment.status == "serving":
        health = read_health(deployment.port, model_id)
    return RolloutView(
        deployment,
        record.revision if record else None,
        state,
        store.events(model_id, limit=events),
        time.time(),
        store.current_revision(model_id),
        supervisor_running(workspace, model_id),
        health,
    )


def history(workspace: Workspace, model_id: str) -> list[Revision]:
    """The model's revisions, oldest first."""
    workspace.model(model_id)
    return store_for(workspace).revisions(model_id)


def workspace_root(workspace: Workspace) -> Path:
    return workspace.root
