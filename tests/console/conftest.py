"""A workspace whose deployment rolled back, on real processes, and `modelyard ui` over it.

One supervised server serves version 1; a variant that fails 30 % of its calls is rolled out
under a steady client loop and rolled back by the analysis at its first step (the rollout
harness of tests/backends). Then `modelyard ui` runs as its own process on a loopback port.
Built once for the folder: starting processes is the slow part.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "backends"))

from console_harness import Console, Yard
from rollout_harness import FAST, MODEL, ClientLoop, register_base, wait_rollout

from modelyard.backends.local.operations import deploy, down
from modelyard.backends.local.state import StateStore
from modelyard.config import init_workspace, load_workspace
from modelyard.faults.models import register_variant
from modelyard.observe.prometheus import free_port
from modelyard.rollout import Phase
from modelyard.workflows.serve import admin_token


@pytest.fixture(scope="package")
def yard(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[Yard]:
    root = tmp_path_factory.mktemp("console") / "ws"
    init_workspace(root)
    db = Path(load_workspace(root).tracking_uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_template, db)
    workspace = load_workspace(root)
    register_base(workspace, root.parent)
    deploy(workspace, MODEL, 1)
    try:
        served = StateStore.for_workspace(root).get_deployment(MODEL)
        assert served is not None
        bad = register_variant(workspace, MODEL, 1, "errors", share=0.3)
        loop = ClientLoop(f"http://127.0.0.1:{served.port}").start()
        result = deploy(workspace, MODEL, bad, plan=replace(FAST, shadow=None))
        state = wait_rollout(workspace, result.revision)
        loop.stop()
        assert state.phase is Phase.ROLLED_BACK, state.outcome
        revision = StateStore.for_workspace(root).get_revision(MODEL, result.revision or 0)
        assert revision is not None
        yield Yard(workspace, bad, revision.reason)
    finally:
        down(workspace)


@pytest.fixture(scope="package")
def ui(yard: Yard) -> Iterator[Console]:
    """`modelyard ui` as a process, ready once /healthz answers (bounded wait)."""
    port = free_port()
    root = yard.workspace.root
    log = (root.parent / "ui.log").open("wb")
    command = [sys.executable, "-m", "modelyard", "ui", "--port", str(port), "-w", str(root)]
    command += ["--mlflow-url", "http://127.0.0.1:5000", "--grafana-url", "http://127.0.0.1:3000"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            assert process.poll() is None, (root.parent / "ui.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "modelyard ui did not answer in 120 s"
            time.sleep(0.1)
        yield Console(url, admin_token(yard.workspace))
    finally:
        process.terminate()
        process.wait(30)
        log.close()
