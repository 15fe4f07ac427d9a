"""Specs to manifests: every object one model needs, as plain dicts, in a fixed order.

:func:`render_model` is pure (context, specs and the training script's text in, dicts out);
:func:`render_workspace` is the one edge that reads the scripts from disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.config import ModelEntry, Workspace
from modelyard.errors import ConfigError
from modelyard.k8s import monitoring, network, serving, traffic, training
from modelyard.k8s.bundle import workspace_configmap
from modelyard.k8s.context import RenderContext

Manifest = dict[str, Any]
"""One Kubernetes object as a plain dict."""

SERVED_STATES = frozenset({"staging", "production"})
"""Model states that get serving objects (as ``modelyard up`` serves them locally)."""
RETIRED_STATES = frozenset({"deprecated"})
"""Model states that get no objects at all: applying prunes what they had."""


@dataclass(frozen=True)
class ModelManifests:
    """What one model renders to: the objects apply manages, and the training Job template."""

    model_id: str
    objects: tuple[Manifest, ...]
    job: Manifest | None


def serves(entry: ModelEntry) -> bool:
    return entry.spec.state in SERVED_STATES


def _serving_objects(ctx: RenderContext, entry: ModelEntry) -> list[Manifest]:
    rollout_on = entry.deploy.rollout.enabled
    workload = serving.rollout(ctx, entry) if rollout_on else serving.deployment(ctx, entry)
    objects: list[Manifest | None] = [
        network.server_policy(ctx, entry),
        *serving.services(ctx, entry),
        workload,
        serving.autoscaler(ctx, entry),
        serving.disruption_budget(ctx, entry),
        traffic.virtual_service(ctx, entry),
        *traffic.destination_rules(ctx, entry),
        traffic.analysis_template(ctx, entry) if rollout_on else None,
        monitoring.service_monitor(ctx, entry),
        monitoring.prometheus_rule(ctx, entry),
    ]
    return [obj for obj in objects if obj is not None]


def render_model(ctx: RenderContext, entry: ModelEntry, script: str = "") -> ModelManifests:
    """Every object of ``entry``; ``script`` is the training script's text (for the ConfigMap).

    Raises :class:`~modelyard.k8s.context.RenderError` (a ConfigError) for specs that the
    local backend accepts but Kubernetes cannot express, e.g. numa with a fractional CPU.
    """
    if entry.spec.state in RETIRED_STATES:
        return ModelManifests(entry.id, (), None)
    objects: list[Manifest] = [
        workspace_configmap(ctx, entry, script),
        network.training_policy(ctx, entry),
    ]
    if serves(entry):
        objects += _serving_objects(ctx, entry)
    cron = training.cronjob(ctx, entry)
    if cron is not None:
        objects.append(cron)
    return ModelManifests(entry.id, tuple(objects), training.job(ctx, entry))


def read_script(entry: ModelEntry) -> str:
    """The training script's text (the edge that reads a file)."""
    try:
        return entry.entrypoint.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"model {entry.id!r}: {entry.dir / 'model.yaml'}: training.entrypoint: "
            f"cannot read {entry.entrypoint}: {exc}"
        ) from exc


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
            out.append(render_model(ctx, entry, read_script(entry)))
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


def all_objects(rendered: Iterable[ModelManifests]) -> list[Manifest]:
    """The objects ``apply`` manages, over every model."""
    return [obj for model in rendered for obj in model.objects]
