"""The Kubernetes backend behind the :class:`~modelyard.backends.backend.Backend` seam.

Deploying renders the model's objects with the version pinned in the pod template and
server-side applies them (field manager ``modelyard``); Argo Rollouts turns the new template
into the canary steps of ``deploy.yaml``. Rollout commands patch the ``Rollout`` the way Argo's
own CLI does (``spec.paused``, ``status.promoteFull``, ``status.abort``); a rollback is an
undo: the previous version pinned again and applied. Revisions are kept in a ConfigMap
(:mod:`.history`), usage comes from the metrics API (:mod:`.usage`), and the registry's
``production`` alias moves whenever a version takes all traffic. Every call goes through a
:class:`~modelyard.k8s.cluster.Cluster`, so the in-memory one runs the whole lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from modelyard.backends.backend import (
    BackendName,
    Command,
    DeploymentEvent,
    DeployResult,
    LogText,
    Revision,
    RollbackResult,
    RolloutStatus,
    TrainRun,
)
from modelyard.backends.kubernetes.history import history_key, history_object, read_history
from modelyard.backends.kubernetes.usage import samples_of
from modelyard.backends.revisions import Revisions, revision_events
from modelyard.clock import SYSTEM_CLOCK, Clock
from modelyard.config import Workspace
from modelyard.errors import Conflict, JobFailed, NotFound
from modelyard.k8s import Cluster, InMemoryCluster, ObjectKey, describe, desired_objects
from modelyard.k8s.apply import apply_workspace, execute, workspace_plan
from modelyard.k8s.cluster import MANAGED_KINDS
from modelyard.k8s.context import RenderContext

if TYPE_CHECKING:
    from modelyard.jobs import LineSink
    from modelyard.observe.usage import UsageSample
    from modelyard.registry import Registry

SERVED_STATES = ("production", "staging")
ARGO = "argoproj.io"


class NoRolloutHere(NotFound):
    """The model has no rollout in progress on the cluster."""


class KubernetesBackend:
    """A cluster reached through ``cluster`` (the kubeconfig's when not given)."""

    name: BackendName = "kubernetes"

    def __init__(
        self,
        workspace: Workspace,
        *,
        cluster: Cluster | None = None,
        registry: Registry | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.workspace = workspace
        self._cluster_given = cluster
        self._registry = registry
        self.clock = clock
        self.namespace = workspace.settings.kubernetes.namespace

    # ------------------------------------------------------------------ wiring

    @property
    def cluster(self) -> Cluster:
        if self._cluster_given is None:
            from modelyard.k8s.kube import KubeCluster

            self._cluster_given = KubeCluster(self.workspace.settings.kubernetes.context)
        return self._cluster_given

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from modelyard.registry import Registry

            self._registry = Registry.for_workspace(self.workspace)
        return self._registry

    def _history(self, model_id: str) -> Revisions:
        found = self.cluster.get(history_key(self.namespace, model_id))
        return Revisions(model_id, tuple(read_history(found)))

    def _save(self, revisions: Revisions) -> None:
        """Write the revisions to the history ConfigMap."""
        self.cluster.apply(history_object(self.namespace, revisions.model_id, revisions.items))

    def _promoted(self, revisions: Revisions) -> None:
        """The active revision serves all traffic: the registry's ``production`` alias moves."""
        active = revisions.active
        if active is not None:
            self.registry.mark_production(active.model_id, active.version)

    def _workload(self, model_id: str) -> tuple[ObjectKey, dict[str, Any]] | None:
        for group, kind in ((ARGO, "Rollout"), ("apps", "Deployment")):
            key = ObjectKey(group, kind, self.namespace, model_id)
            found = self.cluster.get(key)
            if found is not None:
                return key, found
        return None

    def _apply(self, model_id: str, version: str) -> tuple[str, ...]:
        versions = {**self._pool_pins(model_id), model_id: int(version)}
        the_plan = apply_workspace(self.cluster, self.workspace, [model_id], versions=versions)
        return tuple(describe(the_plan))

    def _pool_pins(self, model_id: str) -> dict[str, int]:
        """A pooled model renders with its pool, whose template names every model's version:
        the pool's other models keep their production version (render names any without)."""
        placement = self.workspace.model(model_id).deploy.pool
        if placement is None:
            return {}
        pins: dict[str, int] = {}
        for other, entry in self.workspace.models.items():
            if other != model_id and entry.deploy.pool and entry.deploy.pool.name == placement.name:
                production = self.registry.production(other)
                if production is not None:
                    pins[other] = int(production.version)
        return pins

    # ------------------------------------------------------------------ the seam

    def train(
        self, model_id: str, params: Sequence[str] = (), *, on_line: LineSink | None = None
    ) -> TrainRun:
        from modelyard.k8s import run_training_job
        from modelyard.workflows import parse_params

        parse_params(list(params), self.workspace.model(model_id).spec.training.params)
        overrides = {k.strip(): v for k, _, v in (p.partition("=") for p in params)}
        echo: Callable[[str], None] = on_line if on_line is not None else print
        code = run_training_job(
            self.workspace, model_id, overrides, cluster=self.cluster, echo=echo
        )
        if code != 0:
            raise JobFailed(f"the training Job of {model_id!r} failed (exit code {code})", code)
        return TrainRun(model_id, "kubernetes")

    def deploy(
        self, model_id: str, version: int | None = None, *, by: str = "", dry_run: bool = False
    ) -> DeployResult:
        self.workspace.model(model_id)
        if dry_run:
            return self._dry_run(model_id, version)
        number = str(self.registry.resolve(model_id, version).version)
        revisions = self._history(model_id)
        done = revisions.deployed(number, by=by, at=self.clock.now())
        made = done.revision.revision if done.revision is not None else None
        if done.action == "unchanged":
            return DeployResult(model_id, number, made, done.action, None)
        lines = self._apply(model_id, number)
        if done.action == "started":
            self._promoted(done.revisions)
        self._save(done.revisions)
        return DeployResult(model_id, number, made, done.action, None, plan=lines)

    def _dry_run(self, model_id: str, version: int | None) -> DeployResult:
        """The objects and the plan, against the cluster when one is reachable, else none.

        The pod template pins the version being deployed: the one given, else the newest
        registered (what ``deploy`` would roll out), so the dry run shows the same template.
        """
        from modelyard.errors import ConfigError
        from modelyard.k8s.apply import MissingSecret

        pinned: int | None = version
        if pinned is None:
            try:
                pinned = self.registry.resolve(model_id).version
            except NotFound as exc:
                raise NotFound(
                    f"no version of {model_id!r} is registered, so there is no version to "
                    "pin in the pod template; train it first, or name one: "
                    f"`modelyard deploy {model_id} N --dry-run`"
                ) from exc
        versions = {**self._pool_pins(model_id), model_id: pinned}
        against: Cluster
        notes: list[str] = []
        try:
            against = self.cluster
            the_plan = workspace_plan(against, self.workspace, [model_id], versions=versions)
            execute(against, the_plan, dry_run=True)
        except MissingSecret as exc:
            notes.append(f"apply would stop here: {exc}")
        except ConfigError:
            against = InMemoryCluster()
            the_plan = workspace_plan(against, self.workspace, [model_id], versions=versions)
            notes.append("no cluster configured: the plan is against an empty cluster")
        objects = desired_objects(self.workspace, [model_id], versions)
        lines = tuple(describe(the_plan)) + tuple(notes)
        return DeployResult(model_id, str(pinned), None, "planned", None, lines, tuple(objects))

    def up(self) -> list[DeployResult]:
        results = []
        for model_id, entry in sorted(self.workspace.models.items()):
            if entry.spec.state in SERVED_STATES:
                production = self.registry.production(model_id)
                results.append(self.deploy(model_id, production.version if production else None))
        return results

    def down(self, model_ids: Sequence[str] | None = None) -> list[str]:
        ctx = RenderContext.of(self.workspace)
        stopped = []
        for model_id in model_ids or sorted(self.workspace.models):
            selector = {**ctx.owner_selector(), "modelyard.dev/model": model_id}
            live = self.cluster.list_owned(MANAGED_KINDS, self.namespace, selector)
            for obj in reversed(live):
                self.cluster.delete(ObjectKey.of(obj))
            if live:
                stopped.append(model_id)
        return stopped

    def rollout(self, model_id: str, command: Command, *, by: str = "") -> RolloutStatus:
        self.workspace.model(model_id)
        revisions = self._history(model_id)
        pending = revisions.pending
        found = self._workload(model_id)
        if pending is None or found is None:
            raise NoRolloutHere(f"model {model_id!r} has no rollout in progress on the cluster")
        key, _ = found
        if key.kind != "Rollout":
            raise Conflict(
                f"{model_id} runs as a Deployment (rollout.enabled is false in deploy.yaml): "
                "a new version replaces the pods at once; there are no steps to steer"
            )
        if command == "promote":
            self.cluster.patch(key, {"status": {"promoteFull": True}}, subresource="status")
            revisions = revisions.with_outcome(pending.revision, "active")
            self._promoted(revisions)
        elif command == "pause":
            self.cluster.patch(key, {"spec": {"paused": True}})
        elif command == "resume":
            self.cluster.patch(key, {"spec": {"paused": False}})
        else:
            self.cluster.patch(key, {"status": {"abort": True}}, subresource="status")
            why = f"aborted by {by or 'a user'}"
            revisions = revisions.with_outcome(pending.revision, "aborted", why)
        self._save(revisions)
        return self.status(model_id)

    def rollback(self, model_id: str, *, by: str = "") -> RollbackResult:
        self.workspace.model(model_id)
        revisions = self._history(model_id)
        pending, active = revisions.pending, revisions.active
        if pending is not None and active is not None:
            why = f"rollback of revision {pending.revision} during its rollout"
            found = self._workload(model_id)
            if found is not None and found[0].kind == "Rollout":
                self.cluster.patch(found[0], {"status": {"abort": True}}, subresource="status")
            self._apply(model_id, active.version)  # undo: the stable version pinned again
            self._save(revisions.with_outcome(pending.revision, "rolled_back", why))
            return RollbackResult(model_id, active.version, active.revision, pending.revision, True)
        done = revisions.roll_back(by=by, at=self.clock.now())
        self._apply(model_id, done.made.version)
        self._promoted(done.revisions)
        self._save(done.revisions)
        made, old = done.made, done.rolled_back
        return RollbackResult(model_id, made.version, made.revision, old.revision, False)

    def status(self, model_id: str) -> RolloutStatus:
        self.workspace.model(model_id)
        revisions = self._history(model_id)
        found = self._workload(model_id)
        pending, active = revisions.pending, revisions.active
        live = found[1] if found else None
        state = (live or {}).get("status") or {}
        if pending is not None and _completed(live):
            # Argo finished the steps by itself: the new version is stable now
            revisions = revisions.with_outcome(pending.revision, "active")
            self._promoted(revisions)
            self._save(revisions)
            pending, active = None, revisions.active
        weight = ((state.get("canary") or {}).get("weights") or {}).get("canary") or {}
        step = state.get("currentStepIndex")
        latest = revisions.latest
        return RolloutStatus(
            model_id,
            "kubernetes",
            serving=active.version if active else None,
            canary=pending.version if pending else None,
            canary_share=float(weight.get("weight", 0)) / 100.0 if pending else 0.0,
            rollout_version=latest.version if latest else None,
            phase=state.get("phase") or (None if live is None else "applied"),
            step=int(step) + 1 if isinstance(step, int) and pending else None,
            paused=bool((live or {}).get("spec", {}).get("paused") or state.get("pauseConditions")),
            finished=pending is None,
            detail=live,
        )

    def history(self, model_id: str) -> list[Revision]:
        self.workspace.model(model_id)
        return list(self._history(model_id).items)

    def usage(self, model_id: str, *, since: float | None = None) -> list[UsageSample]:
        self.workspace.model(model_id)
        found = self.cluster.pod_metrics(self.namespace, {"modelyard.dev/model": model_id})
        samples = samples_of(model_id, found)
        return [s for s in samples if since is None or s.at >= since]

    def events(self, model_id: str, *, since: float | None = None) -> list[DeploymentEvent]:
        """The revisions' story (deploys, promotions, rollbacks: the history ConfigMap), the
        pods' restarts and why, and the Events of the pods and the model's workload."""
        from modelyard.backends.kubernetes.podlogs import pod_events

        self.workspace.model(model_id)
        found = revision_events(self._history(model_id))
        workload = self._workload(model_id)
        names = [workload[0].name] if workload is not None else []
        found.extend(pod_events(self.cluster, self.namespace, model_id, names))
        found.sort(key=lambda e: e.at)
        return [e for e in found if since is None or e.at >= since]

    def logs(
        self, model_id: str, *, run_id: str | None = None, tail_lines: int | None = 200
    ) -> list[LogText]:
        """A run's log from MLflow (the Job's pod logged it there), else the serving pods'."""
        from modelyard.backends.kubernetes.podlogs import pod_logs

        self.workspace.model(model_id)
        if run_id is not None:
            from modelyard.workflows.runlogs import run_log_text

            _, text = run_log_text(self.workspace, model_id, run_id)
            kept = "".join(text.splitlines(keepends=True)[-tail_lines:]) if tail_lines else text
            return [LogText(f"run {run_id}", kept)]
        return pod_logs(self.cluster, self.namespace, model_id, tail_lines)


def _completed(live: dict[str, Any] | None) -> bool:
    """Argo reports the rollout done: healthy, and the stable ReplicaSet is the current one."""
    if live is None or live.get("kind") != "Rollout":
        return False
    status = live.get("status") or {}
    stable, current = status.get("stableRS"), status.get("currentPodHash")
    return status.get("phase") == "Healthy" and bool(stable) and stable == current
