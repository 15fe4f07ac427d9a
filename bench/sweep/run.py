"""A sweep of 8 trials with 2 at a time, against the same 8 trainings one after another.

Three ways to train the example model's 8 sweep draws (the same parameters in each, from the
sweep's seed), each in a fresh ``modelyard init`` workspace:

- baseline: 8 ``modelyard train -p C=.. -p max_iter=..`` commands, one after another (what a
  user does without sweeps);
- ``modelyard train ctr --sweep --trials 8 --parallel 1``;
- ``modelyard train ctr --sweep --trials 8 --parallel 2``.

Run: ``.venv/bin/python bench/sweep/run.py [--trials 8] [--n-samples 20000]``. Prints wall
times and ratios to the baseline; asserts nothing. On a machine shared with other work read
the ratios, and the load average printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modelyard.config import init_workspace, load_workspace
from modelyard.registry import Registry
from modelyard.workflows.search import search_for


def _modelyard(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", *args, "-w", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"modelyard {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _workspace(parent: Path, name: str, n_samples: int) -> Path:
    root = parent / name
    init_workspace(root)
    model = root / "models" / "ctr" / "model.yaml"
    model.write_text(model.read_text().replace("n_samples: 20000", f"n_samples: {n_samples}"))
    # MLflow's schema is made here, before any clock starts, in every workspace alike.
    Registry.for_workspace(load_workspace(root)).tracking.experiment_id("ctr")
    return root


def _draws(root: Path, trials: int) -> list[dict[str, object]]:
    entry = load_workspace(root).model("ctr")
    spec = entry.spec.training.sweep
    assert spec is not None
    search = search_for(spec, trials, entry.spec.training.params)
    draws = []
    while (asked := search.ask()) is not None:
        draws.append(asked[1])
    return draws


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--n-samples", type=int, default=20000)
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = _workspace(base, "sequential", args.n_samples)
        draws = _draws(root, args.trials)
        start = time.perf_counter()
        for params in draws:
            pairs = [x for k, v in params.items() for x in ("-p", f"{k}={v}")]
            _modelyard(root, "train", "ctr", "-q", "--json", *pairs)
        rows.append(
            (f"{len(draws)} x modelyard train, one after another", time.perf_counter() - start)
        )
        for parallel in (1, 2):
            root = _workspace(base, f"sweep-{parallel}", args.n_samples)
            start = time.perf_counter()
            out = _modelyard(
                root,
                "train",
                "ctr",
                "--sweep",
                "--trials",
                str(args.trials),
                "--parallel",
                str(parallel),
                "--json",
            )
            took = time.perf_counter() - start
            result = json.loads(out)
            got = sorted(json.dumps(t["params"], sort_keys=True) for t in result["trials"])
            want = sorted(json.dumps(d, sort_keys=True) for d in draws)
            assert got == want, "the sweep drew other parameters than the baseline trained"
            rows.append((f"sweep --parallel {result['parallel']}", took))
    baseline = rows[0][1]
    load = os.getloadavg()[0]
    print(
        f"{args.trials} trials of the example model, n_samples={args.n_samples}, "
        f"{os.cpu_count()} cores, 1-minute load {load:.1f} at the end"
    )
    print(f"| {'way':<45} | {'wall s':>7} | {'vs baseline':>11} |")
    print(f"|{'-' * 47}|{'-' * 9}|{'-' * 13}|")
    for name, took in rows:
        print(f"| {name:<45} | {took:7.1f} | {baseline / took:10.2f}x |")


if __name__ == "__main__":
    main()
