"""Every modelyard process starts through ``run_main``: each ``main`` calls it, and each
process, started as it is started for real and made to fail, prints one line and exits with
the failure's code (its traceback, for a bug, in the log the line names)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from error_classes import SRC, module_name, parsed

import modelyard.jobs.watchdog

CLI_MAIN = SRC / "cli" / "app.py"  # the CLI's edge is its EdgeGroup (cli/output.py)


def _mains() -> dict[str, ast.FunctionDef]:
    return {
        module_name(path): node
        for path, tree in parsed().items()
        if path != CLI_MAIN
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "main"
    }


def test_every_process_main_goes_through_run_main() -> None:
    mains = _mains()
    assert set(mains) >= {
        "modelyard.backends.local.supervisor",
        "modelyard.backends.local.aliases",
        "modelyard.pipelines.daemon",
        "modelyard.serving.process.template",
        "modelyard.jobs.watchdog",
        "modelyard.workflows.trainer",
        "modelyard.serving.process.main",
    }
    bare = [
        name
        for name, main in mains.items()
        if not any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "run_main"
            for n in ast.walk(main)
        )
    ]
    assert bare == [], f"these mains do not go through modelyard.entry.run_main: {bare}"


def _run(command: list[str], tmp_path: Path, stdin: bytes = b"") -> tuple[int, list[str]]:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    return done.returncode, [line for line in done.stderr.decode().splitlines() if line.strip()]


NO_WORKSPACE = "no modelyard.yaml in"


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("modelyard.backends.local.supervisor", ["nowhere", "ctr"]),
        ("modelyard.backends.local.aliases", ["nowhere", "ctr"]),
        ("modelyard.pipelines.daemon", ["nowhere"]),
        ("modelyard.serving", ["nowhere.json"]),
    ],
)
def test_a_config_error_is_one_line_and_exit_2(
    module: str, args: list[str], tmp_path: Path
) -> None:
    code, lines = _run([sys.executable, "-m", module, *args], tmp_path)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert ": error: " in lines[0]
    assert "nowhere" in lines[0]
    assert lines[0].endswith("next: fix the input named and run it again")


def _unexpected(lines: list[str], prog: str, tmp_path: Path, what: str) -> None:
    log = tmp_path / "modelyard.log"  # no log of its own here: stderr is a pipe
    assert lines == [f"{prog}: unexpected error {what}; see {log}"]
    assert "Traceback (most recent call last)" in log.read_text()


def test_the_trainer_reports_a_bug_in_one_line(tmp_path: Path) -> None:
    program = (
        "import sys, pathlib; from modelyard.workflows.trainer import run_and_exit; "
        "run_and_exit(pathlib.Path(sys.argv[1]))"
    )
    code, lines = _run([sys.executable, "-c", program, "missing.json"], tmp_path)
    assert code == 1
    missing = "FileNotFoundError: [Errno 2] No such file or directory: 'missing.json'"
    _unexpected(lines, "modelyard.trainer", tmp_path, missing)


def test_the_watchdog_reports_a_bug_in_one_line(tmp_path: Path) -> None:
    script = modelyard.jobs.watchdog.__file__
    code, lines = _run([sys.executable, "-I", "-S", script, "not-a-pgid", "1"], tmp_path)
    assert code == 1
    what = "ValueError: invalid literal for int() with base 10: 'not-a-pgid'"
    _unexpected(lines, "modelyard.watchdog", tmp_path, what)


def test_the_server_template_reports_a_bug_in_one_line(tmp_path: Path) -> None:
    template = [sys.executable, "-m", "modelyard.serving.process.template"]
    code, lines = _run(template, tmp_path, stdin=b"\xff not a request\n")  # not UTF-8
    assert code == 1
    what = (
        "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    )
    _unexpected(lines, "modelyard.serving.template", tmp_path, what)
