"""Hostile input at the CLI: ids checked once (exit 2, nothing created), user data printed as is."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from modelyard.backends.local.locks import rollout_lock, supervisor_lock
from modelyard.cli import output
from modelyard.cli.app import app
from modelyard.cli.rollout_cmds import history
from modelyard.config.ids import InvalidModelId
from modelyard.errors import ModelyardError

BAD_IDS = ["../../../../tmp/x/y", "a/b", "ctr.lock", "CTR", "x-", ""]


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    "command",
    [
        ["down"],
        ["deploy"],
        ["rollback"],
        ["history"],
        ["rollout", "status"],
        ["rollout", "abort"],
        ["versions"],
        ["runs"],
        ["serve"],
        ["train"],
        ["render"],
    ],
)
def test_a_bad_id_exits_2_and_creates_nothing(
    workspace_dir: Path, tmp_path: Path, bad: str, command: list[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    before = _files(tmp_path)
    result = CliRunner().invoke(app, [*command, bad, "-w", str(workspace_dir)])
    assert result.exit_code == 2, (command, result.output)
    assert "notavalidmodelid" in "".join(result.output.split()).replace("│", "")
    assert _files(tmp_path) == before


def test_down_with_a_traversal_id_creates_no_lock_outside(
    workspace_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "x"
    result = CliRunner().invoke(
        app, ["down", "ctr", f"../../../../../../..{target}/y", "-w", str(workspace_dir)]
    )
    assert result.exit_code == 2, result.output
    assert not target.exists()
    assert not (workspace_dir / ".modelyard" / "run").exists()


def test_lock_paths_refuse_an_unchecked_id(tmp_path: Path) -> None:
    for make in (rollout_lock, supervisor_lock):
        with pytest.raises(InvalidModelId):
            make(tmp_path, "../escape")
    assert list(tmp_path.iterdir()) == []


def _capture(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    for name in ("console", "err_console"):
        fake = Console(file=buffer, width=200, emoji=False, color_system=None)
        monkeypatch.setattr(output, name, fake)
    return buffer


USER_DATA = "root:x:0:0 [bold]not markup[/bold] :smile:"


def test_error_messages_print_user_data_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = _capture(monkeypatch)
    with pytest.raises(Exception):  # typer.Exit
        output.fail(ModelyardError(f"job failed; log tail: {USER_DATA}"))
    assert USER_DATA in buffer.getvalue()


def test_the_consoles_apply_no_emoji_codes() -> None:
    for console in (output.console, output.err_console):
        with console.capture() as captured:
            console.print(output.literal(USER_DATA), "root:x:0:0")
        assert captured.get().count("root:x:0:0") == 2


def test_history_table_prints_reasons_literally(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard.backends.local.state import StateStore
    from modelyard.cli import rollout_cmds

    StateStore.for_workspace(workspace_dir).add_revision(
        "ctr", "1", outcome="aborted", reason=USER_DATA
    )
    buffer = _capture(monkeypatch)
    monkeypatch.setattr(rollout_cmds, "console", output.console)
    history("ctr", None, workspace_dir, False)
    text = "".join(buffer.getvalue().split())
    assert "".join(USER_DATA.split()) in text


def test_the_supervisor_refuses_a_bad_id_before_it_touches_anything(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "modelyard.backends.local.supervisor", str(tmp_path)]
    done = subprocess.run([*command, "../../x"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "not a valid model id" in done.stderr
    assert list(tmp_path.iterdir()) == []
