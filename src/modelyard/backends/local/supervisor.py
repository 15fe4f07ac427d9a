"""The supervisor of one deployment: keeps its server alive and drives its rollout.

One supervisor process per deployment, started detached (its own session) by ``modelyard
deploy``/``up``. It holds the deployment's supervisor lock for its whole life, owns the model
server child (restarting it with exponential backoff when it dies, on the same port, with the
primary version; then re-applying the committed routing, so canary and shadow come back with
the same weights), and runs the rollout controller loop: read the server's stats, feed them to
the machine, commit, act. SIGTERM stops the server gracefully (it drains) and exits.

Run as ``python -m modelyard.backends.local.supervisor <workspace> <model-id>``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType

import httpx
import psutil

from modelyard.backends.local.actuator import ServerActuator, cache_fetcher
from modelyard.backends.local.aliases import apply_pending, production_marker
from modelyard.backends.local.controller import RolloutController
from modelyard.backends.local.locks import rollout_lock, supervisor_lock
from modelyard.backends.local.logs import describe, exit_reason
from modelyard.backends.local.process import (
    READY_PATH,
    LaunchedServer,
    ServerNotReady,
    ServerTemplate,
    TemplateFailed,
    WatchedServer,
    free_port,
)
from modelyard.backends.local.records import Deployment, Revision
from modelyard.backends.local.state import StateError, StateStore
from modelyard.clock import SYSTEM_CLOCK, Clock
from modelyard.config import ModelEntry, Workspace, load_workspace, memory_bytes, parse_model_id
from modelyard.errors import ModelyardError
from modelyard.jobs import ProcessTreeSampler
from modelyard.observe.usage import UsageSample, serving_subject
from modelyard.rollout import Metrics, ServerCrashed
from modelyard.serving.process.launch import read_spec, write_spec
from modelyard.workflows.serve import admin_token, ensure_cached, launch_spec, spec_path

log = logging.getLogger("modelyard.supervisor")

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0
"""Seconds a server must stay up before the restart backoff starts again from the bottom."""
MAX_START_FAILURES = 5
"""Consecutive failed starts (or deaths within STABLE_AFTER of a start) before giving up."""
LOG_TAIL_CHARS = 1500
MEMORY_KILL_SHARE = 0.9
"""A SIGKILL with the last RSS sample above this share of the memory limit counts as an OOM."""


def memory_limit_bytes(entry: ModelEntry) -> float:
    """The server's memory limit (``deploy.yaml``'s limit, else its request)."""
    res = entry.deploy.resources
    return float(memory_bytes(res.limits.memory or res.memory))


USAGE_EVERY = 10.0
"""Seconds between two samples of the server's CPU and memory in the usage history."""


usage_subject = serving_subject
"""The usage-history subject of a model's server (``server:<model_id>``)."""


AdoptedServer = WatchedServer
"""A server left running by an earlier supervisor (which died): watched by its pid."""


Server = LaunchedServer | WatchedServer


class Supervisor:
    """Keeps ``model_id``'s server up and its rollout moving, until told to stop."""

    def __init__(
        self,
        workspace: Workspace,
        model_id: str,
        poll: float = 0.5,
        max_start_failures: int = MAX_START_FAILURES,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.workspace = workspace
        self.clock = clock
        """Backoff, "stable after" and the usage cadence are measured on its monotonic
        reading; recorded times are its wall time."""
        self.model_id = model_id
        self.poll = poll
        self.store = StateStore.for_workspace(workspace)
        self.lock = supervisor_lock(workspace.state_dir, model_id)
        self.token = admin_token(workspace)
        self.stopping = False
        self.server: Server | None = None
        self.controller: RolloutController | None = None
        self._backoff = BACKOFF_START
        self._next_start = 0.0
        self._started_at = 0.0
        self._converged: tuple[object, ...] | None = None
        self._sampler: tuple[int, ProcessTreeSampler] | None = None
        self._next_usage = 0.0
        self._last_rss = 0
        """The server's latest RSS sample (bytes): a SIGKILL near the limit is put down to
        memory (the kernel's OOM killer sends SIGKILL and leaves no other trace here)."""
        self.max_start_failures = max_start_failures
        self._failures = 0
        """Consecutive failed starts and early deaths; reset once a server stays up."""
        self.gave_up = False
        self._failing: str | None = None
        """The error the last step failed with, logged once (None: the last step worked)."""
        self._step_wait = poll
        self.template: ServerTemplate | None = None
        """The pre-imported parent that forks this deployment's servers (no cold start)."""
        self.use_template = os.environ.get("MODELYARD_SERVER_TEMPLATE", "1") != "0"
        self._registry_obj: object | None = None
        self._grpc: int | None = None
        """The gRPC port of a ``grpc: true`` model, kept across its servers' restarts."""

    # ------------------------------------------------------------------ life

    def run(self) -> int:
        if not self.lock.acquire(timeout=0):
            log.info("another supervisor runs %s; leaving", self.model_id)
            return 0
        self.lock.write(str(os.getpid()))
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            self.server = self._adopt()
            while not self.stopping:
                time.sleep(self.step())
        finally:
            self._shutdown()
            self.lock.release()
        return 0

    def step(self) -> float:
        """One pass of the loop; returns the seconds to wait before the next.

        The loop is the edge: a failing step is logged, but a failure that repeats (a read-only
        or full ``state.db``) is logged once, with backoff (up to BACKOFF_MAX) until a step
        succeeds again, which is logged too.
        """
        try:
            self._once()
        except Exception as exc:
            said = f"{type(exc).__name__}: {exc}"
            if said != self._failing:
                if isinstance(exc, StateError):
                    log.error(
                        "supervisor of %s: %s; backing off until it works", self.model_id, said
                    )
                else:
                    log.exception("supervisor of %s: step failed; backing off", self.model_id)
                self._failing = said
                self._step_wait = self.poll
            self._step_wait = min(self._step_wait * 2, BACKOFF_MAX)
            return self._step_wait
        if self._failing is not None:
            log.info("supervisor of %s: working again after: %s", self.model_id, self._failing)
            self._failing = None
        return self.poll

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _deployment(self) -> Deployment:
        found = self.store.get_deployment(self.model_id)
        return found or Deployment(self.model_id, "starting")

    def _set(self, **changes: object) -> None:
        with self.store.transaction():
            self.store.upsert_deployment(replace(self._deployment(), **changes))  # type: ignore[arg-type]

    def _shutdown(self) -> None:
        if self.server is not None:
            self._set(status="stopping")
            self.server.stop(grace_s=40.0)
        self._set(status="failed" if self.gave_up else "stopped", pid=None)
        if self.template is not None:
            self.template.close()
        self._apply_aliases()
        if self.controller is not None and self.controller.admin is not None:
            self.controller.admin.close()

    # ------------------------------------------------------------------ server

    def _adopt(self) -> AdoptedServer | None:
        """The server an earlier supervisor left, if it is alive and answers."""
        deployment = self.store.get_deployment(self.model_id)
        if deployment is None or deployment.pid is None or deployment.port is None:
            return None
        server = AdoptedServer(deployment.pid, deployment.port, self.model_id)
        if not server.alive():
            return None
        try:
            if httpx.get(server.url + READY_PATH, timeout=2.0).status_code == 200:
                log.info("adopted the server of %s (pid %d)", self.model_id, server.pid)
                self._attach(server)
                self._first_start_served()
                if deployment.primary_version is not None:
                    self._prewarm(int(deployment.primary_version), deployment.port)
                return server
        except httpx.HTTPError:
            pass
        server.stop(grace_s=5.0)
        return None

    def _attach(self, server: Server) -> None:
        if self.controller is not None and self.controller.admin is not None:
            self.controller.admin.close()
        admin = ServerActuator(
            server.url,
            self.model_id,
            self.token,
            prepare=cache_fetcher(self.workspace, self.model_id),
        )
        lock = rollout_lock(self.workspace.state_dir, self.model_id)
        self.controller = RolloutController(
            self.store,
            self.model_id,
            lock,
            admin,
            on_promoted=production_marker(self.workspace, self.model_id),
        )
        self._converged = None

    def _launch(self, version: int, port: int) -> Server:
        """Start a lean server for ``version`` on ``port``: forked from the template (started
        on first use, warmed with this spec), else as a plain child process."""
        ensure_cached(self.workspace, self.model_id, version)  # Registry.fetch, here
        entry = self.workspace.model(self.model_id)
        grpc_port = self._grpc_port(entry)
        spec = launch_spec(self.workspace, entry, version, port=port, grpc_port=grpc_port)
        path = write_spec(spec, spec_path(self.workspace, f"{self.model_id}.server"))
        logs = self.workspace.state_dir / "logs"
        log_path = logs / f"{self.model_id}-server.log"
        if grpc_port is not None:
            log.info("%s: gRPC on 127.0.0.1:%d", self.model_id, grpc_port)
        if self.use_template:
            if self.template is None or not self.template.alive():
                self.template = ServerTemplate(path, logs / f"{self.model_id}-template.log")
            try:
                return self.template.spawn(path, port, self.model_id, log_path)
            except TemplateFailed as exc:
                log.warning("%s: %s; starting the server without it", self.model_id, exc)
                self.template = None
        server = LaunchedServer(path, port, self.model_id, log_path)
        server.start()
        return server

    def _grpc_port(self, entry: ModelEntry) -> int | None:
        """The gRPC port of a ``grpc: true`` model: the one its last server had (its launch
        spec says), so that callers keep their address across restarts; else a free one."""
        if not entry.deploy.grpc:
            return None
        if self._grpc is None:
            try:
                previous = read_spec(spec_path(self.workspace, f"{self.model_id}.server"))
                self._grpc = previous.grpc_port
            except ModelyardError:  # no spec yet, or an unreadable one: a fresh port
                self._grpc = None
            self._grpc = self._grpc or free_port()
        return self._grpc

    def _start_server(self) -> bool:
        deployment = self._deployment()
        if deployment.primary_version is None:
            raise RuntimeError(f"{self.model_id} has no primary version to serve")
        port = deployment.port or free_port()
        self._set(status="starting", port=port)
        started = self.clock.monotonic()
        try:
            server = self._launch(int(deployment.primary_version), port)
        except ModelyardError as exc:  # the version cannot be fetched or verified
            self._start_failed(str(exc), None)
            return False
        try:
            server.wait_ready(timeout_s=120.0)
        except ServerNotReady as exc:
            server.stop(grace_s=2.0)
            self._start_failed(str(exc), server.log_path)
            return False
        # both before "serving": whoever waits for it sees the revision active and the start
        self._first_start_served()
        self._event(
            "server_started",
            {"pid": server.pid, "port": port, "version": deployment.primary_version},
        )
        self._set(status="serving", pid=server.pid, port=port)
        self.server = server
        self._started_at = self.clock.monotonic()
        self._attach(server)
        log.info(
            "server of %s serving on %s (pid %s), ready %.2f s after its start",
            self.model_id,
            server.url,
            server.pid,
            self._started_at - started,
        )
        return True

    # ------------------------------------------------------------------ faults

    def _crash_counts(self, server: Server) -> None:
        """A crash during a rollout goes to the machine: the phase's interval starts again."""
        controller = self.controller
        if controller is None or controller.unfinished() is None:
            return
        how = f"it exited{server.exit_note()}"
        controller.apply(ServerCrashed(reason=f"the server (pid {server.pid}) died: {how}"))

    def _never_served(self) -> Revision | None:
        """The revision of a first deploy that has not served yet (pending, no rollout)."""
        revisions = self.store.revisions(self.model_id)
        last = revisions[-1] if revisions else None
        if last is None or last.outcome != "pending":
            return None
        if self.store.load_rollout(self.model_id, last.revision) is not None:
            return None
        return last if last.version == self._deployment().primary_version else None

    def _first_start_served(self) -> None:
        """A first deploy's revision becomes active once its server served: not before."""
        first = self._never_served()
        if first is None:
            return
        with self.store.transaction():
            self.store.set_revision_outcome(self.model_id, first.revision, "active")
            self.store.append_event(
                self.model_id, first.revision, "serving", {"version": first.version}
            )
        try:
            production_marker(self.workspace, self.model_id)(first.version)
        except ModelyardError as exc:  # it serves; the next promotion sets the alias
            log.warning("%s version %s serves, but: %s", self.model_id, first.version, exc)

    def _start_failed(self, why: str, log_path: Path | None) -> None:
        """Back off after a failed start; give up after too many, or at once on a first deploy.

        A version that never served is not retried: its artifact will not load any better.
        """
        self._failures += 1
        reason = why + _tail(log_path)
        first = self._never_served()
        if first is None and self._failures < self.max_start_failures:
            log.warning("%s: start %d failed: %s", self.model_id, self._failures, why)
            self._next_start = self.clock.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            self._set(status="restarting", pid=None)
            return
        self._give_up(reason, first)

    def _give_up(self, reason: str, first: Revision | None) -> None:
        """Record why the server cannot be kept up, then stop supervising."""
        failures = self._failures
        log.error("%s: giving up after %d failed start(s): %s", self.model_id, failures, reason)
        current = first or self.store.current_revision(self.model_id)
        with self.store.transaction():
            if first is not None:
                self.store.set_revision_outcome(self.model_id, first.revision, "failed", reason)
            if current is not None:
                detail = {"reason": reason, "start_failures": failures}
                self.store.append_event(self.model_id, current.revision, "gave_up", detail)
            changes: dict[str, object] = {"status": "failed", "pid": None}
            if first is not None:
                changes["primary_version"] = None  # never served: the next deploy is a first
            self._set(**changes)
        self.gave_up = True
        self.stopping = True

    def _apply_aliases(self) -> None:
        """Apply the registry alias moves a steering command recorded (it has no MLflow)."""
        try:
            apply_pending(self.workspace.root, self.workspace.state_dir, self._registry(),
                          self.model_id)  # fmt: skip
        except Exception:  # the loop is the edge: the move stays pending, next turn retries
            log.exception("%s: applying the pending registry alias failed", self.model_id)

    def _registry(self) -> object:
        if self._registry_obj is None:
            from modelyard.registry import Registry

            self._registry_obj = Registry.for_workspace(self.workspace)
        return self._registry_obj

    def _prewarm(self, version: int, port: int) -> None:
        """Start the template now (for an adopted server), so that the first restart of the
        server does not wait for the template's imports."""
        if not self.use_template or (self.template is not None and self.template.alive()):
            return
        try:
            ensure_cached(self.workspace, self.model_id, version)
            entry = self.workspace.model(self.model_id)
            grpc_port = self._grpc_port(entry)
            spec = launch_spec(self.workspace, entry, version, port=port, grpc_port=grpc_port)
            path = write_spec(spec, spec_path(self.workspace, f"{self.model_id}.server"))
            logs = self.workspace.state_dir / "logs"
            self.template = ServerTemplate(path, logs / f"{self.model_id}-template.log")
            self.template.start()
        except Exception:  # a template is an optimisation: without one, restarts are cold
            log.exception("%s: could not start the server template", self.model_id)
            self.template = None

    def keep_alive(self) -> bool:
        """Restart a dead server (with backoff); whether one is serving now."""
        if self.server is not None and self.server.alive():
            if self.clock.monotonic() - self._started_at > STABLE_AFTER:
                self._backoff = BACKOFF_START
                self._failures = 0
            return True
        if self.server is not None:
            log.warning("the server of %s died; restarting", self.model_id)
            self._record_exit(self.server)
            self._crash_counts(self.server)
            if self.clock.monotonic() - self._started_at <= STABLE_AFTER:
                self._failures += 1
            self.server = None
            self._next_start = self.clock.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            self._set(status="restarting", pid=None)
        if self.clock.monotonic() < self._next_start or self.stopping:
            return False
        return self._start_server()

    def _event(self, kind: str, detail: dict[str, object]) -> None:
        """Record a server event in the deployment's history (``modelyard logs``)."""
        try:
            current = self.store.current_revision(self.model_id)
            revision = current.revision if current is not None else 0
            self.store.append_event(self.model_id, revision, kind, detail)
        except ModelyardError as exc:  # the history is for people; serving goes on
            log.warning("%s: could not record %s: %s", self.model_id, kind, exc)

    def _record_exit(self, server: Server) -> None:
        """Say why the server ended: in its log (``logs --server``) and as an event."""
        code = server.returncode()
        reason = exit_reason(code)
        limit = memory_limit_bytes(self.workspace.model(self.model_id))
        memory = code == -signal.SIGKILL and self._last_rss >= MEMORY_KILL_SHARE * limit
        detail: dict[str, object] = {
            "pid": server.pid,
            "reason": reason,
            "memory": memory,
            "rss_bytes": self._last_rss,
            "version": self._deployment().primary_version,
        }
        self._event("server_exited", detail)
        if server.log_path is not None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock.now()))
            line = f"{stamp} [modelyard supervisor] {describe('server_exited', detail)}\n"
            with contextlib.suppress(OSError), server.log_path.open("a") as out:
                out.write(line)
        self._last_rss = 0

    # ------------------------------------------------------------------ rollout

    def _record_usage(self) -> None:
        """Sample the server's process tree into the usage history every USAGE_EVERY s."""
        server = self.server
        now = self.clock.monotonic()
        if server is None or server.pid is None or now < self._next_usage:
            return
        if self._sampler is None or self._sampler[0] != server.pid:
            try:
                self._sampler = (server.pid, ProcessTreeSampler(server.pid))
            except psutil.Error:
                return
            self._sampler[1].read()  # psutil's CPU figure needs a first reading to diff from
            self._next_usage = now + 1.0
            return
        cpu_percent, rss = self._sampler[1].read()
        self._last_rss = rss
        self.store.record_usage(
            UsageSample(usage_subject(self.model_id), self.clock.now(), cpu_percent / 100, rss)
        )
        self._next_usage = now + USAGE_EVERY

    def _once(self) -> None:
        if self.store.pending_aliases(self.model_id):
            self._apply_aliases()
        if not self.keep_alive():
            return
        self._record_usage()
        if self.controller is None:
            return
        controller = self.controller
        deployment = self._deployment()
        found = controller.current()
        key = (
            deployment.primary_version,
            found[0] if found else None,
            found[1].seq if found else None,
        )
        if key != self._converged:
            controller.converge()
            found = controller.current()
            self._converged = (
                deployment.primary_version,
                found[0] if found else None,
                found[1].seq if found else None,
            )
        if found is not None and not found[1].terminal and controller.admin is not None:
            state = controller.apply(Metrics(controller.admin.snapshot()))
            self._converged = (self._deployment().primary_version, found[0], state.seq)


def _tail(log_path: Path | None) -> str:
    """The end of the server's log (what it said before it died), for the recorded reason."""
    if log_path is None:
        return ""
    try:
        with log_path.open("rb") as handle:
            handle.seek(max(0, log_path.stat().st_size - LOG_TAIL_CHARS))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()][-6:]
    return ("; log tail: " + " | ".join(lines)) if lines else ""


def _model_id(text: str) -> str:
    try:
        return parse_model_id(text)
    except ModelyardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelyard.backends.local.supervisor")
    parser.add_argument("workspace", type=Path)
    parser.add_argument("model_id", type=_model_id)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--max-start-failures", type=int, default=MAX_START_FAILURES)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    workspace = load_workspace(args.workspace)
    return Supervisor(workspace, args.model_id, args.poll, args.max_start_failures).run()


if __name__ == "__main__":
    sys.exit(main())
