"""The plan from deploy.yaml's rollout section, its validation, and the public API."""

from __future__ import annotations

import ast
import pathlib

import pytest

import modelyard.rollout
from modelyard.config import Rollout
from modelyard.errors import ConfigError
from modelyard.rollout import PlanError, RolloutPlan, Thresholds


def test_plan_from_config():
    config = Rollout.model_validate(
        {
            "shadow": "2m",
            "steps": [10, 100],
            "interval": "1m",
            "analysis": {"max_error_rate": 0.02, "min_requests": 10},
        }
    )
    plan = RolloutPlan.from_config(config, max_inconclusive=2)
    assert plan.steps == (10.0, 100.0)
    assert (plan.shadow, plan.interval, plan.max_inconclusive) == (120.0, 60.0, 2)
    assert plan.thresholds == Thresholds(0.02, 1.5, 0.05, 10)
    assert plan.duration == 120 + 2 * 60


def test_plan_from_config_without_shadow_or_rollout():
    config = Rollout.model_validate({"shadow": None, "enabled": False})
    plan = RolloutPlan.from_config(config)
    assert (plan.shadow, plan.progressive, plan.duration) == (None, False, 0.0)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"steps": ()}, "weights"),
        ({"steps": (0.0, 100.0)}, "weights"),
        ({"steps": (50.0, 25.0, 100.0)}, "increase"),
        ({"steps": (5.0, 50.0)}, "end at 100"),
        ({"interval": 0.0}, "interval"),
        ({"shadow": 0.0}, "shadow"),
        ({"max_inconclusive": -1}, "max_inconclusive"),
        ({"on_inconclusive": "shrug"}, "on_inconclusive"),
        ({"load_timeout": 0.0}, "load_timeout"),
    ],
)
def test_incoherent_plans_are_refused(changes, match):
    with pytest.raises(PlanError, match=match) as info:
        RolloutPlan(**changes)
    assert isinstance(info.value, ConfigError)


def test_plan_round_trips():
    plan = RolloutPlan(shadow=None, on_inconclusive="advance")
    assert RolloutPlan.from_dict(plan.to_dict()) == plan


def test_public_api_is_pinned():
    assert sorted(modelyard.rollout.__all__) == sorted(
        [
            "ERROR_RATE",
            "LATENCY_P90_RATIO",
            "SHADOW_DIVERGENCE",
            "SHADOW_ERROR_RATE",
            "TERMINAL",
            "Action",
            "CheckResult",
            "Event",
            "LoadFailed",
            "LoadVersion",
            "Metrics",
            "MetricsSnapshot",
            "Outcome",
            "Phase",
            "PlanError",
            "Promote",
            "RecordEvent",
            "Role",
            "RolloutConflict",
            "RolloutMachine",
            "RolloutPlan",
            "RolloutState",
            "RolloutStateError",
            "ServerCrashed",
            "Routing",
            "SetCanaryWeight",
            "SetShadow",
            "ShadowStats",
            "Start",
            "Thresholds",
            "Tick",
            "Transition",
            "Unload",
            "UserAbort",
            "UserPause",
            "UserPromote",
            "UserResume",
            "UserRollback",
            "Verdict",
            "VersionLoaded",
            "VersionStats",
            "action_to_dict",
            "advance",
            "analyse_canary",
            "analyse_shadow",
            "new_rollout",
            "overall",
            "reconcile",
        ]
    )


ALLOWED = (
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "itertools",
    "typing",
    "modelyard.errors",
    "modelyard.clock",  # the Clock protocol: the machine is given a clock, reads none itself
    "modelyard.config",
    "modelyard.rollout",
)


def test_the_package_imports_nothing_impure():
    package = pathlib.Path(modelyard.rollout.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.startswith(ALLOWED), f"{module.name} imports {name}"
