"""Render 500 models: time load_workspace + render, against a baseline of yaml.safe_dump of
the same dicts (the least any renderer writing YAML must spend).

Run: ``.venv/bin/python bench/render/run.py [N]``. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from modelyard.config import load_workspace
from modelyard.k8s import all_objects, render_workspace, to_documents

VARIANTS = [
    "",
    "scheduling: {numa: true}\nresources: {cpu: '2', memory: 4Gi}\n",
    "rollout: {enabled: false}\n",
    "autoscaling: {rps_per_replica: 20, cpu_percent: null}\n",
    "scheduling: {avoid: [previous-gen]}\n",
]


def make_workspace(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "modelyard.yaml").write_text(
        "name: bench\nnode_classes:\n  previous-gen: {values: [m4.large]}\n"
    )
    for i in range(count):
        folder = root / "models" / f"model-{i:04d}"
        folder.mkdir(parents=True)
        state = "production" if i % 4 else "development"
        schedule = "\ntraining: {schedule: '0 3 * * *'}" if i % 7 == 0 else ""
        (folder / "model.yaml").write_text(
            f"id: model-{i:04d}\nowner: {{team: t{i % 9}, dri: dri{i}@example.com}}\n"
            f"state: {state}{schedule}\n"
        )
        (folder / "deploy.yaml").write_text(VARIANTS[i % len(VARIANTS)] or "{}\n")
        (folder / "train.py").write_text("print('train')\n")


def main(count: int = 500) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        make_workspace(root, count)
        start = time.perf_counter()
        ws = load_workspace(root, env={})
        loaded = time.perf_counter()
        rendered = render_workspace(ws, versions=dict.fromkeys(ws.models, 1))
        objects = all_objects(rendered)
        done = time.perf_counter()
        text = to_documents(objects)
        dumped = time.perf_counter()
        baseline_start = time.perf_counter()
        yaml.safe_dump_all(objects, sort_keys=False)
        baseline = time.perf_counter() - baseline_start
    render_s = done - loaded
    print(f"models: {count}, objects: {len(objects)}, YAML: {len(text) / 1e6:.1f} MB")
    print(f"load_workspace:        {loaded - start:6.2f} s")
    print(f"render (dicts):        {render_s:6.2f} s")
    print(f"to YAML:               {dumped - done:6.2f} s")
    print(f"load + render + YAML:  {dumped - start:6.2f} s  (target: under 5 s)")
    print(f"baseline yaml.safe_dump of the same dicts: {baseline:6.2f} s")
    print(f"ratio render+YAML / baseline: {(dumped - loaded) / baseline:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
