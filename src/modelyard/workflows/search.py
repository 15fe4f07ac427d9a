"""The searches a sweep draws its trials from: grid, random, and Optuna's TPE.

One small seam, :class:`Search`: ``ask()`` the parameters of the next trial (None when the
search has nothing more to try), ``tell()`` it how that trial scored. Grid and random are a
few lines each; TPE is Optuna's (a well-kept library, not ours), through its ask-and-tell
interface, imported only when asked for. Randomness comes from a seeded ``random.Random``, so
a sweep can be replayed and a test can pin its draws.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from random import Random
from typing import Any, Protocol

from modelyard.config.schema import Sweep, SweepParam
from modelyard.errors import ConfigError

Params = dict[str, object]


class SearchUnavailable(ConfigError):
    """The sweep asks for a search whose library is not installed."""


class Search(Protocol):
    """Where a sweep's trials come from."""

    def ask(self) -> tuple[int, Params] | None:
        """The next trial's number and parameters, or None when there is nothing more."""
        ...

    def tell(self, number: int, value: float | None) -> None:
        """How trial ``number`` scored (None: it failed or logged no metric)."""
        ...


def _typed(value: float, default: object, param: SweepParam) -> object:
    if param.integer or (isinstance(default, int) and not isinstance(default, bool)):
        return round(value)
    return value


class GridSearch:
    """Every combination of the values lists, in order, up to ``trials``."""

    def __init__(self, sweep: Sweep, trials: int) -> None:
        names = list(sweep.params)
        lists = [sweep.params[name].values or [] for name in names]
        self._combos = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*lists)]
        self._left = self._combos[:trials]
        self._number = 0

    @property
    def size(self) -> int:
        return len(self._combos)

    def ask(self) -> tuple[int, Params] | None:
        if not self._left:
            return None
        self._number += 1
        return self._number - 1, dict(self._left.pop(0))

    def tell(self, number: int, value: float | None) -> None:
        """Grid search does not learn."""


class RandomSearch:
    """Independent draws: a value from each list, a uniform (or log-uniform) point in each
    range."""

    def __init__(
        self, sweep: Sweep, trials: int, defaults: Mapping[str, object], rng: Random
    ) -> None:
        self._sweep, self._defaults, self._rng = sweep, defaults, rng
        self._left, self._number = trials, 0

    def _draw(self, name: str, param: SweepParam) -> object:
        if param.values is not None:
            return self._rng.choice(param.values)
        assert param.low is not None
        assert param.high is not None
        if param.log:
            point = math.exp(self._rng.uniform(math.log(param.low), math.log(param.high)))
        else:
            point = self._rng.uniform(param.low, param.high)
        return _typed(point, self._defaults.get(name), param)

    def ask(self) -> tuple[int, Params] | None:
        if self._left <= 0:
            return None
        self._left -= 1
        self._number += 1
        params = {name: self._draw(name, p) for name, p in self._sweep.params.items()}
        return self._number - 1, params

    def tell(self, number: int, value: float | None) -> None:
        """Random search does not learn."""


class TpeSearch:
    """Optuna's Tree-structured Parzen Estimator, by ask and tell."""

    def __init__(self, sweep: Sweep, trials: int, defaults: Mapping[str, object]) -> None:
        try:
            import optuna
        except ImportError as exc:
            raise SearchUnavailable(
                "training.sweep.search: tpe needs Optuna, which is not installed: "
                "pip install 'modelyard[sweep]' (or use search: random)"
            ) from exc
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._study = optuna.create_study(
            direction=sweep.direction, sampler=optuna.samplers.TPESampler(seed=sweep.seed)
        )
        self._distributions = {
            name: self._distribution(p, defaults.get(name)) for name, p in sweep.params.items()
        }
        self._trials: dict[int, Any] = {}
        self._left = trials

    def _distribution(self, param: SweepParam, default: object) -> Any:
        dist = self._optuna.distributions
        if param.values is not None:
            return dist.CategoricalDistribution(list(param.values))
        assert param.low is not None
        assert param.high is not None
        if param.integer or (isinstance(default, int) and not isinstance(default, bool)):
            return dist.IntDistribution(math.ceil(param.low), math.floor(param.high), log=param.log)
        return dist.FloatDistribution(param.low, param.high, log=param.log)

    def ask(self) -> tuple[int, Params] | None:
        if self._left <= 0:
            return None
        self._left -= 1
        trial = self._study.ask(self._distributions)
        self._trials[trial.number] = trial
        return trial.number, dict(trial.params)

    def tell(self, number: int, value: float | None) -> None:
        trial = self._trials.pop(number)
        if value is None or not math.isfinite(value):
            self._study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(trial, value)


def search_for(
    sweep: Sweep, trials: int, defaults: Mapping[str, object], rng: Random | None = None
) -> Search:
    """The search ``sweep.search`` names, for a budget of ``trials``."""
    if sweep.search == "grid":
        return GridSearch(sweep, trials)
    if sweep.search == "tpe":
        return TpeSearch(sweep, trials, defaults)
    return RandomSearch(sweep, trials, defaults, rng or Random(sweep.seed))
