"""The Backend seam: one lifecycle (train, deploy, rollout, rollback, status, history, usage)
that runs on this machine (:mod:`modelyard.backends.local`) or on a Kubernetes cluster
(:mod:`modelyard.backends.kubernetes`).

The CLI, the demo and every later capability talk to a :class:`Backend` and to the small
frozen records below, never to a supervisor or a cluster client directly. Each side ships an
in-memory double (:mod:`modelyard.backends.fake` and a Kubernetes backend over
:class:`~modelyard.k8s.cluster.InMemoryCluster`), so that code on top of the seam is tested
without processes or a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from modelyard.jobs import LineSink
    from modelyard.observe.usage import UsageSample
    from modelyard.workflows import TrainResult

BackendName = Literal["local", "kubernetes"]
BACKENDS: tuple[BackendName, ...] = ("local", "kubernetes")

Command = Literal["promote", "pause", "resume", "abort"]
"""A user's rollout command; every backend takes the same four."""

DeployAction = Literal["started", "rollout", "unchanged", "planned"]
"""started: the model was not served and now is; rollout: a new version is being rolled out;
unchanged: the version serves already; planned: a dry run, nothing was changed."""

RevisionOutcome = Literal["pending", "active", "superseded", "rolled_back", "aborted", "failed"]
"""pending: being rolled out (or started); active: serving; superseded: replaced by a later
active one; failed: its version could not be started, so it never served."""


@dataclass(frozen=True)
class TrainRun:
    """What a training did: the local workflow's full result, or the Job that ran it."""

    model_id: str
    backend: BackendName
    result: TrainResult | None = None
    """The local training's run, metrics, gate and version (None on Kubernetes)."""
    job: str | None = None
    """The Kubernetes Job that ran the training (None locally)."""


@dataclass(frozen=True)
class DeployResult:
    """What ``deploy`` did: started a server, started a rollout, found it served, or planned."""

    model_id: str
    version: str
    revision: int | None
    action: DeployAction
    url: str | None
    plan: tuple[str, ...] = ()
    """What was (or, in a dry run, would be) applied, one line per object (Kubernetes)."""
    objects: tuple[dict[str, Any], ...] = ()
    """The objects of a dry run, for printing."""


@dataclass(frozen=True)
class RollbackResult:
    """Where a rollback went: the version serving now, and the revision that recorded it."""

    model_id: str
    version: str
    revision: int
    rolled_back: int
    """The revision that was rolled back."""
    during_rollout: bool


@dataclass(frozen=True)
class Revision:
    """One attempt to serve a version: numbered per model, 1, 2, 3..."""

    model_id: str
    revision: int
    version: str
    created_by: str
    created_at: float
    outcome: RevisionOutcome
    reason: str = ""


@dataclass(frozen=True)
class RolloutStatus:
    """What serves a model now and how its latest rollout stands, on any backend."""

    model_id: str
    backend: BackendName
    serving: str | None
    """The version taking all traffic that the canary does not (the primary, or stable)."""
    canary: str | None = None
    canary_share: float = 0.0
    """Fraction (0-1) of live traffic the canary answers."""
    rollout_version: str | None = None
    """The version of the latest rollout, finished or not."""
    phase: str | None = None
    """The latest rollout's phase in the backend's words (e.g. ``canary``, ``Paused``)."""
    step: int | None = None
    """1-based step of the rollout's plan, when it is at one."""
    paused: bool = False
    finished: bool = True
    detail: Any = field(default=None, compare=False)
    """The backend's own, richer view (the local RolloutView; the live Rollout object)."""


@dataclass(frozen=True)
class DeploymentEvent:
    """One thing that happened to a model's deployment, on any backend: a server started or
    exited (with why: ``killed by signal 9 (SIGKILL)``, ``OOMKilled``), a rollout step or
    analysis, a rollback, a Kubernetes event of one of its pods."""

    at: float
    """Unix seconds."""
    kind: str
    """``server_started``, ``server_exited``, a rollout event's kind, or ``k8s:<reason>``."""
    message: str
    """One line for a person."""
    detail: dict[str, Any] = field(default_factory=dict, compare=False)
    """The event's fields (``memory: true`` on an exit put down to memory)."""


@dataclass(frozen=True)
class LogText:
    """The text of one log: a training run's, a server's, a pod's container."""

    source: str
    """What wrote it, for a heading (``run 3f2a…``, ``server of ctr``, ``pod ctr-7d9``)."""
    text: str
    path: str | None = None
    """The local file it came from (``logs --follow`` reads on from there), if any."""
    end: int = 0
    """Bytes of ``path`` read for ``text``: where ``--follow`` goes on reading."""


class Backend(Protocol):
    """Where a workspace's models are trained and served."""

    name: BackendName

    def train(
        self, model_id: str, params: Sequence[str] = (), *, on_line: LineSink | None = None
    ) -> TrainRun:
        """Run the model's training; raises JobFailed when it fails."""
        ...

    def deploy(
        self, model_id: str, version: int | None = None, *, by: str = "", dry_run: bool = False
    ) -> DeployResult:
        """Serve ``version`` (newest by default): start serving, or roll it out."""
        ...

    def up(self) -> list[DeployResult]:
        """Serve every model whose model.yaml state is production or staging."""
        ...

    def down(self, model_ids: Sequence[str] | None = None) -> list[str]:
        """Stop serving the models (all when none is named); returns those stopped."""
        ...

    def rollout(self, model_id: str, command: Command, *, by: str = "") -> RolloutStatus:
        """Promote, pause, resume or abort the model's rollout in progress."""
        ...

    def rollback(self, model_id: str, *, by: str = "") -> RollbackResult:
        """Back to the previous revision at once (the rollout in progress, or the last one)."""
        ...

    def status(self, model_id: str) -> RolloutStatus:
        """What serves the model now, and its latest rollout."""
        ...

    def history(self, model_id: str) -> list[Revision]:
        """The model's revisions, oldest first."""
        ...

    def usage(self, model_id: str, *, since: float | None = None) -> list[UsageSample]:
        """CPU and memory samples of the model's servers and training jobs, oldest first."""
        ...

    def events(self, model_id: str, *, since: float | None = None) -> list[DeploymentEvent]:
        """What happened to the model's deployment (starts, exits and why, rollout steps and
        analyses, rollbacks, evictions), oldest first."""
        ...

    def logs(
        self, model_id: str, *, run_id: str | None = None, tail_lines: int | None = 200
    ) -> list[LogText]:
        """The training run's log when ``run_id`` is given (kept after every process is
        gone), else the logs of the model's servers; the last ``tail_lines`` of each."""
        ...
