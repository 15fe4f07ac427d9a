"""Shipping a freshly trained version through the held-out gate (``train --deploy``).

There is one gate, :func:`modelyard.evaluation.run_gate`: it evaluates the candidate and the
version holding the ``production`` alias on the same dataset and records its verdict on the
candidate. A refused candidate is not handed to the backend at all, so nothing is rolled out
and no revision is recorded; the refusal is a :class:`GateRefused` (a ``Conflict``: exit code
4), whose message names both versions' figures and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.backends.backend import Backend, DeployResult
from modelyard.errors import Conflict

if TYPE_CHECKING:
    from modelyard.config import Workspace
    from modelyard.evaluation import GateVerdict


class GateRefused(Conflict):
    """The evaluation gate refused the candidate: it was registered, not rolled out."""

    def __init__(self, verdict: GateVerdict) -> None:
        self.verdict = verdict
        super().__init__(
            f"version {verdict.candidate} of {verdict.model_id!r} was not deployed: the "
            f"evaluation gate refused it: {verdict.reason}. It stays registered; see "
            f"`modelyard versions {verdict.model_id} --json` for both versions' figures, or "
            f"deploy it anyway with `modelyard deploy {verdict.model_id} --version "
            f"{verdict.candidate}`"
        )


@dataclass(frozen=True)
class GatedDeploy:
    """A candidate that passed the gate, and what the backend did with it."""

    verdict: GateVerdict
    deployed: DeployResult


def deploy_if_gated(
    backend: Backend, workspace: Workspace, model_id: str, version: int, *, by: str = ""
) -> GatedDeploy:
    """Run the gate on ``version``; deploy it through ``backend`` only if it passes.

    Raises :class:`GateRefused` (with the verdict) when the gate refuses or cannot run.
    """
    from modelyard.evaluation import run_gate

    verdict = run_gate(workspace, model_id, version)
    if not verdict.passed:
        raise GateRefused(verdict)
    return GatedDeploy(verdict, backend.deploy(model_id, version, by=by))
