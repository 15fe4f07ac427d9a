"""Specs to manifests: every object one model needs, as plain dicts, in a fixed order.

:func:`render_model` is pure (context, specs and the model folder's files in, dicts out);
:func:`render_workspace` is the one edge that reads the folders from disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.config import ModelEntry, Workspace
from modelyard.errors import ConfigError
from modelyard.k8s import analysis, monitoring, network, pool, serving, traffic, training
from modelyard.k8s.bundle import dataset_file, source_configmap, workspace_configmap
from modelyard.k8s.context import RenderContext
from modelyard.k8s.security import service_account

Manifest = dict[str, Any]
"""One Kubernetes object as a plain dict."""

SERVED_STATES = frozenset({"staging", "production"})
"""Model states that get serving objects (as ``modelyard up`` serves them locally)."""
RETIRED_STATES = frozenset({"deprecated"})
"""Model states that get no objects at all: applying prunes what they had."""
POOL_FOLDER_PREFIX = "_pool-"
"""``render --out`` folder of a pool's objects: ``_pool-<name>``."""
WORKSPACE_FOLDER = "_workspace"
"""``render --out`` folder of the objects the workspace's models share (the ServiceAccount)."""
SKIPPED_PARTS = frozenset({"__pycache__", ".ipynb_checkpoints"})


@dataclass(frozen=True)
class ModelManifests:
    """What one model renders to: the objects apply manages, and the training Job template."""

    model_id: str
    objects: tuple[Manifest, ...]
    job: Manifest | None


def serves(entry: ModelEntry) -> bool:
    return entry.spec.state in SERVED_STATES


def _serving_objects(ctx: RenderContext, entry: ModelEntry) -> list[Manifest]:
    if entry.deploy.pool is not None:  # its pool's objects serve it: see render_pools
        return pool.member_objects(ctx, entry)
    rollout_on = entry.deploy.rollout.enabled
    workload = serving.rollout(ctx, entry) if rollout_on else serving.deployment(ctx, entry)
    objects: list[Manifest | None] = [
        workspace_configmap(ctx, entry),
        network.server_policy(ctx, entry),
        *serving.services(ctx, entry),
        workload,
        serving.autoscaler(ctx, entry),
        serving.disruption_budget(ctx, entry),
        traffic.virtual_service(ctx, entry),
        *traffic.destination_rules(ctx, entry),
        *(analysis.analysis_templates(ctx, entry) if rollout_on else ()),
        monitoring.service_monitor(ctx, entry),
        monitoring.prometheus_rule(ctx, entry),
    ]
    return [obj for obj in objects if obj is not None]


def render_model(
    ctx: RenderContext, entry: ModelEntry, folder: Mapping[str, bytes] | None = None
) -> ModelManifests:
    """Every object of ``entry``; ``folder`` maps the files of ``models/<id>/`` (relative
    paths) to their bytes, for the training pods' ConfigMap (see :func:`read_folder`).

    Raises :class:`~modelyard.k8s.context.RenderError` (a ConfigError) for specs that the
    local backend accepts but Kubernetes cannot express, e.g. numa with a fractional CPU.
    """
    if entry.spec.state in RETIRED_STATES:
        return ModelManifests(entry.id, (), None)
    files = dict(folder or {})
    objects: list[Manifest] = [
        source_configmap(ctx, entry, files),
        network.training_policy(ctx, entry),
    ]
    if serves(entry):
        objects += _serving_objects(ctx, entry)
    cron = training.cronjob(ctx, entry, files)
    if cron is not None:
        objects.append(cron)
    return ModelManifests(entry.id, tuple(objects), training.job(ctx, entry, files))


def read_folder(entry: ModelEntry) -> dict[str, bytes]:
    """Every file of the model's folder (the edge that reads files): relative POSIX path ->
    bytes, leaving out hidden files, caches and the evaluation dataset (which training pods
    read from the artifact store)."""
    dataset = dataset_file(entry)
    out: dict[str, bytes] = {}
    try:
        for path in sorted(entry.dir.rglob("*")):
            relative = path.relative_to(entry.dir)
            if not path.is_file() or _skipped(relative) or relative.as_posix() == dataset:
                continue
            out[relative.as_posix()] = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"model {entry.id!r}: cannot read the model's folder {entry.dir}: {exc}"
        ) from exc
    return out


def _skipped(relative: Path) -> bool:
    return any(part.startswith(".") or part in SKIPPED_PARTS for part in relative.parts)


def shared_objects(ctx: RenderContext) -> ModelManifests:
    """What the workspace's pods share: the ServiceAccount they run as."""
    return ModelManifests(WORKSPACE_FOLDER, (service_account(ctx),), None)


def render_workspace(
    ws: Workspace, model_ids: Sequence[str] = (), versions: Mapping[str, int] | None = None
) -> list[ModelManifests]:
    """Render the models named (all of them when none is), sorted by id; ``versions`` pins
    the registry version a model's pods serve.

    Every model is rendered before an error is raised, and the error lists each problem.
    """
    ctx = RenderContext.of(ws, versions)
    entries = [ws.model(i) for i in model_ids] if model_ids else list(ws.models.values())
    out: list[ModelManifests] = []
    problems: list[ConfigError] = []
    for entry in sorted(entries, key=lambda e: e.id):
        try:
            out.append(render_model(ctx, entry, read_folder(entry)))
        except ConfigError as exc:
            problems.append(exc)
    for name in sorted({e.deploy.pool.name for e in entries if e.deploy.pool and serves(e)}):
        try:
            out.append(render_pool(ctx, ws, name))
        except ConfigError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigError(
            f"{len(problems)} models cannot be rendered:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
    return out


def render_pool(ctx: RenderContext, ws: Workspace, name: str) -> ModelManifests:
    """The objects of pool ``name``: one server for every served model that names it (all of
    the workspace's, whichever models were asked for: the pool's template names them all)."""
    members = tuple(
        sorted(
            (
                e
                for e in ws.models.values()
                if e.deploy.pool and e.deploy.pool.name == name and serves(e)
            ),
            key=lambda e: e.id,
        )
    )
    the_pool = pool.Pool(name, ws.settings.pools[name], members)
    pool.check(ctx, the_pool, list(ws.models))
    return ModelManifests(POOL_FOLDER_PREFIX + name, tuple(pool.pool_objects(ctx, the_pool)), None)


def all_objects(rendered: Iterable[ModelManifests]) -> list[Manifest]:
    """The objects ``apply`` manages, over every model."""
    return [obj for model in rendered for obj in model.objects]
