"""The rendered alert rules under ``promtool``: ``check rules`` accepts them, and
``test rules`` runs unit tests with input series for each alert firing and not firing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from observe_bed import promtool_binary

from modelyard.config import ModelEntry

NS = 'namespace="modelyard"'
SEL = f'{NS}, model="ctr", version="2", role="primary"'
POD = "ctr-5d8f7c9b4-abcde"
PODS = f'{NS}, pod="{POD}", container="server"'


def _requests(errors_per_min: int, ok_per_min: int) -> list[dict[str, str]]:
    return [
        {"series": f'modelyard_requests_total{{{SEL}, code="{code}"}}', "values": f"0+{n}x40"}
        for code, n in (("500", errors_per_min), ("200", ok_per_min))
    ]


def _latency(slow: bool) -> list[dict[str, str]]:
    # Every request in the (1 s, 2 s] bucket when slow, else in (0, 0.5 s].
    per_bucket = {"0.5": 0 if slow else 10, "1.0": 0 if slow else 10, "2.0": 10, "+Inf": 10}
    return [
        {
            "series": f'modelyard_request_duration_seconds_bucket{{{SEL}, le="{le}"}}',
            "values": f"0+{n}x40",
        }
        for le, n in per_bucket.items()
    ]


def _ready(value: int) -> list[dict[str, str]]:
    return [{"series": f"modelyard_model_ready{{{SEL}}}", "values": f"{value}x40"}]


def _cpu(cores: float) -> list[dict[str, str]]:
    return [
        {"series": f"container_cpu_usage_seconds_total{{{PODS}}}", "values": f"0+{cores * 60}x40"},
        {
            "series": f'kube_pod_container_resource_requests{{{PODS}, resource="cpu"}}',
            "values": "1x40",
        },
    ]


CASES = {
    "ModelyardHighErrorRate": (_requests(10, 90), _requests(0, 100), {}),
    "ModelyardHighLatency": (_latency(True), _latency(False), {}),
    "ModelyardUnavailable": (_ready(0), _ready(1), {}),
    "ModelyardPodCpuHot": (_cpu(0.95), _cpu(0.5), {"pod": POD}),
}
"""alert -> (input that fires it, input that does not, labels the alert takes from the series)"""


def _expected(rule: dict[str, Any], series_labels: dict[str, str]) -> dict[str, Any]:
    annotations = {
        key: value.replace("{{ $labels.pod }}", series_labels.get("pod", ""))
        for key, value in rule["annotations"].items()
    }
    return {"exp_labels": {**rule["labels"], **series_labels}, "exp_annotations": annotations}


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory: pytest.TempPathFactory, rendered: dict[str, Any]) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    spec = rendered["PrometheusRule"]["spec"]
    (folder / "rules.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    rules = {rule["alert"]: rule for rule in spec["groups"][0]["rules"]}
    assert set(rules) == set(CASES), "every rendered alert needs a firing and a quiet case"
    tests = []
    for alert, (firing, quiet, labels) in CASES.items():
        for series, expected in ((firing, [_expected(rules[alert], labels)]), (quiet, [])):
            tests.append(
                {
                    "interval": "1m",
                    "input_series": series,
                    "alert_rule_test": [
                        {"eval_time": "35m", "alertname": alert, "exp_alerts": expected}
                    ],
                }
            )
        # Held for less than its 'for': pending, not firing.
        tests.append(
            {
                "interval": "1m",
                "input_series": firing,
                "alert_rule_test": [{"eval_time": "2m", "alertname": alert, "exp_alerts": []}],
            }
        )
    unit = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (folder / "tests.yaml").write_text(yaml.safe_dump(unit, sort_keys=False), encoding="utf-8")
    return folder


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_binary(), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_promtool_check_rules_accepts_the_rendered_rules(rule_files: Path) -> None:
    done = _promtool("check", "rules", "rules.yaml", cwd=rule_files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 rules found" in done.stdout


def test_promtool_unit_tests_fire_and_stay_quiet(rule_files: Path, ctr: ModelEntry) -> None:
    done = _promtool("test", "rules", "tests.yaml", cwd=rule_files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_catch_a_wrong_expectation(rule_files: Path) -> None:
    """The harness can fail: expecting silence from the firing input is reported."""
    unit = yaml.safe_load((rule_files / "tests.yaml").read_text(encoding="utf-8"))
    unit["tests"][0]["alert_rule_test"][0]["exp_alerts"] = []
    (rule_files / "wrong.yaml").write_text(yaml.safe_dump(unit), encoding="utf-8")
    done = _promtool("test", "rules", "wrong.yaml", cwd=rule_files)
    assert done.returncode != 0
    assert "ModelyardHighErrorRate" in done.stdout + done.stderr
