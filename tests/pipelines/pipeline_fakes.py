"""Test doubles of the pipeline tests: steps that record their calls
instead of training."""

from __future__ import annotations

import threading

from modelyard.pipelines import StepContext, StepFailed

DAY = 86400.0
T0 = 1_780_000_000.0 - (1_780_000_000.0 % DAY)  # a UTC midnight


class RecordingSteps:
    """Five steps; ``gate`` fails when told to; ``train`` can be held until released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_gate = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, model_id: str) -> list[tuple[str, object]]:
        def step(name: str):  # type: ignore[no-untyped-def]
            def run(ctx: StepContext) -> str:
                self.calls.append(name)
                if name == "train":
                    self.entered.set()
                    assert self.release.wait(30)
                    ctx.outputs["version"] = str(len([c for c in self.calls if c == "train"]))
                if name == "gate" and self.fail_gate:
                    raise StepFailed("auc=0.61 against production version 1's 0.84")
                return f"{name} of version {ctx.outputs.get('version')}"

            return run

        return [(n, step(n)) for n in ("train", "evaluate", "gate", "register", "deploy")]
