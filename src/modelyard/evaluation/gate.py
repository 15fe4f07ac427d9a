"""The evaluation gate: the candidate and the version in production, on the same data.

Both versions are evaluated on one loaded copy of the model's evaluation dataset; the gate
passes when the candidate meets ``evaluation.gate``'s bounds and is no worse than production
by more than ``max_regression`` on each metric that names one. Its verdict, both versions'
figures and the dataset's checksum are recorded on the candidate version. A gate that cannot
run (no dataset, a model that fails to load or predict) fails closed, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from modelyard.config import Workspace
from modelyard.config.schema import Evaluation as EvaluationConfig
from modelyard.errors import ModelyardError, NotFound
from modelyard.evaluation.dataset import EvalDataset, dataset_path, load_dataset
from modelyard.evaluation.evaluate import Evaluation, evaluate_version
from modelyard.evaluation.metrics import regression
from modelyard.registry import Registry

PRODUCTION_ALIAS = "production"
GATE_TAG = "modelyard.gate"
VERDICT_TAG = "modelyard.gate.verdict"


@dataclass(frozen=True)
class GateVerdict:
    """What the gate decided about a candidate, and on which figures."""

    model_id: str
    candidate: int
    passed: bool
    reason: str
    production: int | None = None
    dataset_sha256: str | None = None
    candidate_metrics: Mapping[str, float] = field(default_factory=dict)
    production_metrics: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "candidate": self.candidate,
            "production": self.production,
            "passed": self.passed,
            "reason": self.reason,
            "dataset_sha256": self.dataset_sha256,
            "candidate_metrics": dict(self.candidate_metrics),
            "production_metrics": dict(self.production_metrics),
        }


def compare(
    config: EvaluationConfig,
    candidate: Mapping[str, float],
    production: tuple[int, Mapping[str, float]] | None,
) -> tuple[bool, str]:
    """Apply the gate's bounds and the per-metric ``max_regression`` (pure)."""
    gate = config.gate
    limits = dict(config.max_regression)
    problems: list[str] = []
    if gate is not None:
        value = candidate.get(gate.metric)
        if value is None:
            return False, f"the evaluation has no metric {gate.metric!r}"
        if gate.min is not None and value < gate.min:
            problems.append(f"{gate.metric}={value:.4g} < min {gate.min:g}")
        if gate.max is not None and value > gate.max:
            problems.append(f"{gate.metric}={value:.4g} > max {gate.max:g}")
        if gate.max_regression is not None:
            limits.setdefault(gate.metric, gate.max_regression)
    if production is not None:
        number, current = production
        for name, allowed in sorted(limits.items()):
            new, old = candidate.get(name), current.get(name)
            if new is None or old is None:
                problems.append(f"{name} is missing from the evaluation of one version")
                continue
            worse = regression(name, new, old)
            if worse > allowed:
                problems.append(
                    f"{name}={new:.4g} against production version {number}'s {old:.4g}: "
                    f"{worse:.4g} worse, max_regression {allowed:g}"
                )
    shown = gate.metric if gate is not None else next(iter(sorted(limits)), "auc")
    figure = f"{shown}={candidate.get(shown, float('nan')):.4g}"
    against = ""
    if production is not None and shown in production[1]:
        against = f" (production version {production[0]}: {production[1][shown]:.4g})"
    if problems:
        said = any("production version" in p for p in problems)
        return False, "; ".join(problems) + ("" if said else against)
    return True, f"{figure}{against} meets the gate"


def production_version(registry: Registry, model_id: str) -> int | None:
    """The version holding the ``production`` alias, or None before the first promotion."""
    try:
        return registry.resolve(model_id, alias=PRODUCTION_ALIAS).version
    except NotFound:
        return None


Evaluator = Callable[..., Evaluation]


def run_gate(
    workspace: Workspace,
    model_id: str,
    candidate: int,
    *,
    production: int | None = -1,
    evaluate: Evaluator = evaluate_version,
    record: bool = True,
) -> GateVerdict:
    """Evaluate ``candidate`` and production on the same data and decide; never raises for
    a model or dataset problem (the verdict fails closed with the reason).

    ``production`` -1 means the version holding the ``production`` alias; None: none.
    """
    registry = Registry.for_workspace(workspace)
    if production == -1:
        production = production_version(registry, model_id)
    if production == candidate:
        production = None
    verdict = _decide(workspace, model_id, candidate, production, evaluate)
    if record:
        registry.tracking.set_version_tags(
            model_id,
            candidate,
            {
                GATE_TAG: "passed" if verdict.passed else "failed",
                VERDICT_TAG: json.dumps(verdict.to_dict(), sort_keys=True)[:5000],
            },
        )
    return verdict


def _decide(
    workspace: Workspace,
    model_id: str,
    candidate: int,
    production: int | None,
    evaluate: Evaluator,
) -> GateVerdict:
    entry = workspace.model(model_id)
    config = entry.spec.evaluation
    try:
        path = dataset_path(workspace, entry)
    except ModelyardError as exc:
        return GateVerdict(model_id, candidate, False, f"the gate cannot run: {exc}", production)
    try:
        data: EvalDataset = load_dataset(path, config.label, config.features)
        new = evaluate(workspace, model_id, candidate, dataset=data)
    except ModelyardError as exc:
        why = f"the gate cannot run: candidate version {candidate}: {exc}"
        return GateVerdict(model_id, candidate, False, why, production)
    current: Evaluation | None = None
    if production is not None:
        try:
            current = evaluate(workspace, model_id, production, dataset=data)
        except ModelyardError as exc:
            why = f"the gate cannot run: production version {production}: {exc}"
            return GateVerdict(model_id, candidate, False, why, production, new.dataset_sha256)
    passed, reason = compare(
        config, new.metrics, (production, current.metrics) if current and production else None
    )
    return GateVerdict(
        model_id,
        candidate,
        passed,
        reason,
        production,
        new.dataset_sha256,
        new.metrics,
        current.metrics if current else {},
    )
