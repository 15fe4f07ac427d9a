"""Rollout benchmark: how fast a rollback takes effect, and what a bad canary costs.

On one supervised local deployment (loopback), it measures:

1. rollback latency: the time a rollback call takes (the body of ``modelyard rollback``) and the
   time from its return to the first answer from the previous version, during a canary step
   and after a completed rollout; against the floor of one bare admin weight change;
2. the share of requests a bad canary (a version failing 30 % of its calls, first step 5 %)
   affects under a steady client loop before the analysis rolls it back.

Usage: ``.venv/bin/python bench/rollout/run.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "backends"))

from rollout_harness import FAST, MODEL, ClientLoop, register_base, wait_rollout

from modelyard.backends.local.operations import deploy, down, rollback, rollout_command
from modelyard.backends.local.state import StateStore
from modelyard.config import init_workspace, load_workspace
from modelyard.faults.models import register_variant
from modelyard.rollout import Thresholds
from modelyard.workflows.serve import admin_token

ROW = {"instances": [[0.1] * 8]}


def _answered_by(client: httpx.Client, version: str, limit: float = 5.0) -> float:
    """Seconds until a request is answered by ``version`` (polling as fast as answers come)."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        reply = client.post(f"/v1/models/{MODEL}:predict", json=ROW)
        if reply.headers.get("x-model-version") == version:
            return time.perf_counter() - start
    return float("nan")


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms, max {max(values) * 1000:7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="modelyard-bench-")) / "ws"
    init_workspace(root)
    ws = load_workspace(root)
    register_base(ws, root.parent)
    first = deploy(ws, MODEL, 1)
    url = first.url or ""
    slow = replace(FAST, shadow=None, steps=(50.0, 100.0), interval=600.0)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            token = {"authorization": f"Bearer {admin_token(ws)}"}
            during, during_effect, after, after_effect, floor = [], [], [], [], []
            for _ in range(args.repeat):
                version = register_variant(ws, MODEL, 1, "clone")
                store = StateStore.for_workspace(root)
                current = store.get_deployment(MODEL).primary_version or ""  # type: ignore[union-attr]
                result = deploy(ws, MODEL, version, plan=slow)
                wait_rollout(ws, result.revision, phase="canary")
                started = time.perf_counter()
                client.put(
                    f"/admin/models/{MODEL}/traffic", json={"canary_share": 0.5}, headers=token
                )
                floor.append(time.perf_counter() - started)
                started = time.perf_counter()
                rollback(ws, MODEL, by="bench")
                during.append(time.perf_counter() - started)
                during_effect.append(_answered_by(client, current))

                version = register_variant(ws, MODEL, 1, "clone")
                result = deploy(ws, MODEL, version, plan=slow)
                wait_rollout(ws, result.revision, phase="canary")
                rollout_command(ws, MODEL, "promote", by="bench")
                started = time.perf_counter()
                done = rollback(ws, MODEL, by="bench")
                after.append(time.perf_counter() - started)
                after_effect.append(_answered_by(client, done.version))
        print("rollback latency (loopback, sklearn model, 2-core box)")
        print(f"  baseline: one admin weight change        {_ms(floor)}")
        print(f"  during a canary step: command            {_ms(during)}")
        print(f"                        return -> in effect {_ms(during_effect)}")
        print(f"  after a completed rollout: command       {_ms(after)}")
        print(f"                        return -> in effect {_ms(after_effect)}")

        bad = register_variant(ws, MODEL, 1, "errors", share=0.3)
        plan = replace(
            FAST,
            shadow=None,
            steps=(5.0, 25.0, 50.0, 100.0),
            interval=3.0,
            thresholds=Thresholds(max_latency_p90_ratio=20.0, min_requests=20),
        )
        loop = ClientLoop(url).start()
        time.sleep(1.0)
        before = loop.total
        result = deploy(ws, MODEL, bad, plan=plan)
        state = wait_rollout(ws, result.revision)
        during_rollout = loop.total - before
        failed = len(loop.failures)
        time.sleep(1.0)
        loop.stop()
        check = state.outcome.failed_check if state.outcome else None
        print("bad canary (fails 30 % of its calls; first step 5 %, interval 3 s)")
        print(f"  outcome: {state.phase.value}: {state.outcome.reason if state.outcome else '-'}")
        if check is not None:
            print(f"  failed check: {check.describe()}")
        share = failed / during_rollout if during_rollout else float("nan")
        print(
            f"  requests from deploy to rollback: {during_rollout}, failed: {failed} "
            f"({share:.2%} of them); failed in the second after the rollback: "
            f"{len(loop.failures) - failed}"
        )
    finally:
        down(ws)
    return 0


if __name__ == "__main__":
    sys.exit(main())
