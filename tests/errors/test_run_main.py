"""``run_main``, the edge of every modelyard process: a modelyard error is one line on stderr
and its class's exit code; anything else is one line naming the log, where its traceback is,
and exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.entry import run_main
from modelyard.errors import ConfigError, TaskFailed, Unavailable


def _raise(exc: BaseException) -> int:
    raise exc


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_modelyard_error_is_one_line_and_its_class_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "logs" / "server.log"
    error = ConfigError("spec.json:3: port: expected a number\nspec.json:4: host: unknown key")
    error.__cause__ = KeyError("port")
    assert run_main(lambda: _raise(error), prog="modelyard.serving", log_file=log) == 2
    (line,) = _lines(capsys.readouterr().err)
    assert line.startswith("modelyard.serving: error: spec.json:3: port: expected a number; ")
    assert "spec.json:4: host: unknown key" in line  # every problem, still one line
    assert line.endswith(f"next: {ConfigError.next_step}")
    logged = log.read_text()
    assert "Traceback (most recent call last)" in logged
    assert "KeyError: 'port'" in logged  # the cause chain is kept for whoever debugs it


def test_an_unavailable_error_says_when_to_try_again(capsys: pytest.CaptureFixture[str]) -> None:
    error = Unavailable("the tracking server does not answer", 7.0)
    assert run_main(lambda: _raise(error), prog="p") == 5
    (line,) = _lines(capsys.readouterr().err)
    assert "the tracking server does not answer (try again in 7 s)" in line


def test_an_unexpected_exception_exits_1_with_its_traceback_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "supervisor.log"
    code = run_main(lambda: _raise(RuntimeError("the disk fell off")), prog="sup", log_file=log)
    assert code == 1
    (line,) = _lines(capsys.readouterr().err)
    assert line == f"sup: unexpected error RuntimeError: the disk fell off; see {log}"
    logged = log.read_text()
    assert "Traceback (most recent call last)" in logged
    assert "RuntimeError: the disk fell off" in logged
    assert " sup\n" in logged.splitlines(keepends=True)[0]  # a time-stamped header


def test_without_a_log_of_its_own_the_traceback_goes_to_the_fallback_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() reads TMPDIR again
    assert run_main(lambda: _raise(ValueError("bad")), prog="w") == 1
    (line,) = _lines(capsys.readouterr().err)
    assert line == f"w: unexpected error ValueError: bad; see {tmp_path / 'modelyard.log'}"
    assert "ValueError: bad" in (tmp_path / "modelyard.log").read_text()


def test_a_process_whose_stderr_is_its_log_gets_the_traceback_there(tmp_path: Path) -> None:
    log = tmp_path / "trainer.log"
    program = (
        "import sys; from modelyard.entry import run_main\n"
        "def boom():\n    raise LookupError('no such column')\n"
        "sys.exit(run_main(boom, prog='modelyard.trainer'))\n"
    )
    with log.open("w") as err:
        done = subprocess.run([sys.executable, "-c", program], stderr=err, check=False)
    assert done.returncode == 1
    lines = _lines(log.read_text())
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2] == "LookupError: no such column"
    assert lines[-1] == (
        "modelyard.trainer: unexpected error LookupError: no such column; "
        f"see the traceback above in {log}"
    )


def test_what_main_returns_is_the_exit_code_and_usage_errors_pass_through() -> None:
    assert run_main(lambda: 3, prog="p") == 3
    assert run_main(lambda: None, prog="p") == 0
    with pytest.raises(SystemExit) as usage:
        run_main(lambda: _raise(SystemExit(2)), prog="p")
    assert usage.value.code == 2


def test_ctrl_c_is_130_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(lambda: _raise(KeyboardInterrupt()), prog="p") == 130
    assert _lines(capsys.readouterr().err) == ["p: interrupted"]


def test_a_failed_task_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    error = TaskFailed("the image build failed; see .modelyard/logs/build.log")
    assert run_main(lambda: _raise(error), prog="p") == 8
    (line,) = _lines(capsys.readouterr().err)
    assert line.endswith(f"next: {TaskFailed.next_step}")
