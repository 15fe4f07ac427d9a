"""A small, pure mimic of how Argo Rollouts judges an analysis measurement, for the condition
forms modelyard emits (``modelyard.k8s.analysis.CONDITION_FORMS``).

Argo evaluates ``successCondition`` and ``failureCondition`` with the expr language, where the
Prometheus provider's ``result`` is the list of the vector's sample values (``[]`` for an empty
vector, ``NaN`` kept as NaN). Its verdict (``utils/evaluate/evaluate.go``, ``EvaluateResult``):

- no conditions: Successful;
- only a success condition: failed when it is false;
- only a failure condition: successful when it is false (the trap an empty result falls in);
- both: Failed when the failure condition holds, Inconclusive when neither does, else
  Successful; an expression that cannot be evaluated (``result[0]`` of ``[]``) is an Error.

The subset parsed here: numbers, ``true``/``false``, ``result``, ``result[N]``, ``len(x)``,
``isNaN(x)``, ``!``, ``&&``, ``||``, comparisons, parentheses. Anything else is refused, so a
new condition form cannot slip past these tests unjudged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Phase = Literal["Successful", "Failed", "Inconclusive", "Error"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:e[-+]?\d+)?)|(?P<op>&&|\|\||==|!=|<=|>=|[<>!()\[\]])"
    r"|(?P<name>[A-Za-z_]\w*))"
)


class ExprError(Exception):
    """The expression cannot be evaluated (Argo: the measurement is an Error)."""


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"outside the supported subset at {text[pos:]!r}")
        out.append(match.group(match.lastgroup or "op"))
        pos = match.end()
    return out


@dataclass
class _Parser:
    tokens: list[str]
    result: Any
    pos: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected!r}, got {token!r}")
        self.pos += 1
        return token

    # Lazy thunks keep && and || short-circuiting, as expr does.
    def parse_or(self) -> Callable[[], Any]:
        left = self.parse_and()
        while self.peek() == "||":
            self.take()
            right, first = self.parse_and(), left
            left = lambda first=first, right=right: bool(first()) or bool(right())  # noqa: E731
        return left

    def parse_and(self) -> Callable[[], Any]:
        left = self.parse_not()
        while self.peek() == "&&":
            self.take()
            right, first = self.parse_not(), left
            left = lambda first=first, right=right: bool(first()) and bool(right())  # noqa: E731
        return left

    def parse_not(self) -> Callable[[], Any]:
        if self.peek() == "!":
            self.take()
            inner = self.parse_not()
            return lambda: not inner()
        return self.parse_compare()

    def parse_compare(self) -> Callable[[], Any]:
        left = self.parse_primary()
        ops: dict[str, Callable[[Any, Any], bool]] = {
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        token = self.peek()
        if token in ops:
            self.take()
            right, op = self.parse_primary(), ops[token]
            return lambda: op(left(), right())
        return left

    def parse_primary(self) -> Callable[[], Any]:
        token = self.take()
        if token == "(":
            inner = self.parse_or()
            self.take(")")
            return inner
        if re.fullmatch(r"\d.*", token):
            number = float(token)
            return lambda: number
        if token in ("true", "false"):
            value = token == "true"
            return lambda: value
        if token in ("len", "isNaN"):
            self.take("(")
            arg = self.parse_or()
            self.take(")")
            if token == "len":
                return lambda: len(arg())
            return lambda: math.isnan(arg())
        if token == "result":
            if self.peek() == "[":
                self.take("[")
                index = int(self.take())
                self.take("]")
                return lambda: self._index(index)
            return lambda: self.result
        raise ValueError(f"{token!r} is outside the supported subset")

    def _index(self, index: int) -> Any:
        try:
            return self.result[index]
        except (IndexError, TypeError) as exc:
            raise ExprError(f"result[{index}] of {self.result!r}") from exc


def evaluate(condition: str, result: Any) -> bool:
    """The boolean value of ``condition`` for ``result``; ExprError when Argo would err."""
    parser = _Parser(_tokens(condition), result)
    thunk = parser.parse_or()
    if parser.peek() is not None:
        raise ValueError(f"trailing {parser.peek()!r} in {condition!r}")
    return bool(thunk())


def judge(metric: dict[str, Any], result: Sequence[float]) -> Phase:
    """Argo's verdict on one measurement of ``metric`` that returned ``result``."""
    success_text = metric.get("successCondition", "")
    failure_text = metric.get("failureCondition", "")
    try:
        success = evaluate(success_text, result) if success_text else False
        failure = evaluate(failure_text, result) if failure_text else False
    except ExprError:
        return "Error"
    if not success_text and not failure_text:
        return "Successful"
    if success_text and not failure_text:
        failure = not success
    if failure_text and not success_text:
        success = not failure
    if failure:
        return "Failed"
    if not success:
        return "Inconclusive"
    return "Successful"


def run_phase(metric: dict[str, Any], phases: Sequence[Phase]) -> Phase | None:
    """The phase of one metric of an AnalysisRun after ``phases`` (None: still running)."""
    failed = sum(p == "Failed" for p in phases)
    inconclusive = sum(p == "Inconclusive" for p in phases)
    errors = 0
    for phase in phases:  # consecutive errors; Argo's default limit is 4
        errors = errors + 1 if phase == "Error" else 0
        if errors > metric.get("consecutiveErrorLimit", 4):
            return "Error"
    if failed > metric.get("failureLimit", 0):
        return "Failed"
    if inconclusive > metric.get("inconclusiveLimit", 0):
        return "Inconclusive"
    count = metric.get("count")
    if count is not None and len(phases) >= count:
        return "Successful"
    return None


Prometheus = Callable[[str, str], list[float]]
"""(metric name, query) -> the result Argo's provider hands the conditions."""


def template_phase(template: dict[str, Any], prometheus: Prometheus, rounds: int) -> Phase | None:
    """Run every metric of ``template`` for up to ``rounds`` measurements; the run's phase.

    Like Argo, the worst metric decides: Failed or Error before Inconclusive before running,
    and the run is Successful only when every metric is.
    """
    verdicts: list[Phase | None] = []
    for metric in template["spec"]["metrics"]:
        query = metric["provider"]["prometheus"]["query"]
        phases: list[Phase] = []
        verdict: Phase | None = None
        for _ in range(rounds):
            phases.append(judge(metric, prometheus(metric["name"], query)))
            verdict = run_phase(metric, phases)
            if verdict is not None:
                break
        verdicts.append(verdict)
    for worst in ("Error", "Failed", "Inconclusive"):
        if worst in verdicts:
            return worst  # type: ignore[return-value]
    if None in verdicts:
        return None
    return "Successful"


def rollout_outcome(
    rollout: dict[str, Any], templates: dict[str, dict[str, Any]], prometheus: Prometheus
) -> Literal["promoted", "paused", "aborted"]:
    """Walk the canary steps as Argo does, with the background analysis measured once per
    step and each analysis step run to its verdict: what becomes of the canary."""
    canary = rollout["spec"]["strategy"]["canary"]
    background = templates[canary["analysis"]["templates"][0]["templateName"]]
    for seen, step in enumerate(canary["steps"], start=1):
        watched = template_phase(background, prometheus, seen)
        if watched in ("Failed", "Error"):
            return "aborted"
        if watched == "Inconclusive":
            return "paused"
        if "analysis" in step:
            gate = templates[step["analysis"]["templates"][0]["templateName"]]
            verdict = template_phase(gate, prometheus, 1)
            if verdict in ("Failed", "Error"):
                return "aborted"
            if verdict != "Successful":
                return "paused"
    return "promoted"
