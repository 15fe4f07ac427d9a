"""The searches a sweep draws from, the sweep's config checks and the machine's bound on
parallel trials: pure, no processes."""

from __future__ import annotations

import sys
from pathlib import Path
from random import Random

import pytest
from pydantic import ValidationError

from modelyard.config import init_workspace, load_workspace
from modelyard.config.issues import InvalidConfig
from modelyard.config.schema import Sweep
from modelyard.jobs.slots import Machine, fit
from modelyard.workflows.search import SearchUnavailable, search_for
from modelyard.workflows.sweeps import NoSweep, Trial, rank, sweep

DEFAULTS = {"C": 1.0, "max_iter": 200, "n_samples": 20000}


def _draw_all(search: object) -> list[dict[str, object]]:
    drawn = []
    while (asked := search.ask()) is not None:  # type: ignore[attr-defined]
        number, params = asked
        drawn.append(params)
        search.tell(number, 0.5)  # type: ignore[attr-defined]
    return drawn


def test_grid_tries_every_combination_up_to_the_budget() -> None:
    spec = Sweep.model_validate(
        {
            "params": {"C": {"values": [0.1, 1.0]}, "max_iter": {"values": [50, 100, 200]}},
            "search": "grid",
        }
    )
    assert len(_draw_all(search_for(spec, 100, DEFAULTS))) == 6
    assert _draw_all(search_for(spec, 4, DEFAULTS)) == [
        {"C": 0.1, "max_iter": 50},
        {"C": 0.1, "max_iter": 100},
        {"C": 0.1, "max_iter": 200},
        {"C": 1.0, "max_iter": 50},
    ]


def test_random_draws_stay_in_range_typed_like_the_defaults_and_repeat_by_seed() -> None:
    spec = Sweep.model_validate(
        {
            "params": {
                "C": {"low": 0.01, "high": 10, "log": True},
                "max_iter": {"low": 10, "high": 300},
            }
        }
    )
    first = _draw_all(search_for(spec, 50, DEFAULTS, Random(3)))
    assert len(first) == 50
    assert all(0.01 <= p["C"] <= 10 and isinstance(p["C"], float) for p in first)
    assert all(10 <= p["max_iter"] <= 300 and isinstance(p["max_iter"], int) for p in first)
    # log scale: about half the draws below the geometric middle (0.316), not ~3 %
    assert 10 < sum(p["C"] < 0.316 for p in first) < 40
    assert _draw_all(search_for(spec, 50, DEFAULTS, Random(3))) == first


def test_tpe_learns_towards_the_better_region() -> None:
    spec = Sweep.model_validate(
        {
            "params": {"C": {"low": 0.0, "high": 10.0}},
            "search": "tpe",
            "direction": "minimize",
            "seed": 1,
        }
    )
    search = search_for(spec, 40, DEFAULTS)
    drawn = []
    while (asked := search.ask()) is not None:
        number, params = asked
        drawn.append(params["C"])
        search.tell(number, abs(float(params["C"]) - 2.0))  # best at C=2
    late = drawn[-15:]
    assert sum(abs(c - 2.0) < 1.5 for c in late) >= 10, late


def test_tpe_without_optuna_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    spec = Sweep.model_validate({"params": {"C": {"low": 0.1, "high": 1}}, "search": "tpe"})
    with pytest.raises(SearchUnavailable, match=r"pip install 'modelyard\[sweep\]'"):
        search_for(spec, 4, DEFAULTS)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"params": {"C": {"low": 0.1, "high": 1}}, "search": "grid"},
            "grid search needs a values",
        ),
        ({"params": {"C": {"low": 1, "high": 0.1}}}, "low < high"),
        ({"params": {"C": {"low": 0, "high": 1, "log": True}}}, "log range needs low > 0"),
        ({"params": {"C": {"values": [1], "low": 0, "high": 1}}}, "either values"),
        ({"params": {"C": {}}}, "either values"),
        ({"params": {}}, "at least 1"),
        ({"params": {"C": {"values": [1]}}, "direction": "up"}, "maximize"),
    ],
)
def test_bad_sweeps_are_refused(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Sweep.model_validate(doc)


def test_a_swept_param_needs_a_default_and_the_error_names_file_and_line(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    model = root / "models" / "ctr" / "model.yaml"
    model.write_text(model.read_text().replace("max_iter: {values", "maxiter: {values"))
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root)
    text = str(caught.value)
    assert f"{model}:" in text
    assert "maxiter" in text
    assert "not in training.params" in text


def test_sweep_on_a_model_without_one_says_how_to_add_it(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    model = root / "models" / "ctr" / "model.yaml"
    text = model.read_text()
    start = text.index("  sweep:")
    end = text.index("evaluation:")
    model.write_text(text[:start] + text[end:])
    with pytest.raises(NoSweep, match=r"training\.sweep is not set"):
        sweep(load_workspace(root), "ctr")
    assert not (root / ".modelyard" / "mlflow.db").exists()  # nothing was started


@pytest.mark.parametrize(
    ("requested", "cores", "memory_gib", "expected", "bound_by"),
    [
        (2, 2.0, 8, 2, None),
        (8, 2.0, 8, 2, "cpu"),
        (8, 16.0, 3, 3, "memory"),
        (4, 0.5, 64, 1, "cpu"),  # a trial bigger than the machine still runs, alone
    ],
)
def test_parallel_trials_never_ask_for_more_than_the_machine_holds(
    requested: int, cores: float, memory_gib: int, expected: int, bound_by: str | None
) -> None:
    machine = Machine(cpu_cores=cores, available_memory_bytes=memory_gib * 2**30)
    slots = fit(requested, cpu_cores=1.0, memory_bytes=2**30, machine=machine)
    assert (slots.count, slots.bound_by) == (expected, bound_by)


def test_ranking_puts_the_best_first_and_failures_last() -> None:
    trials = [
        Trial(0, {}, "finished", 0.7),
        Trial(1, {}, "failed", None, error="exited with code 1"),
        Trial(2, {}, "finished", 0.9),
        Trial(3, {}, "finished", 0.8),
    ]
    assert [t.number for t in rank(trials, "maximize")] == [2, 3, 0, 1]
    assert [t.number for t in rank(trials, "minimize")] == [0, 3, 2, 1]
