"""Output and the error edge of the CLI, in one place.

An error's exit code is its class's ``exit_code`` (the table is in ``modelyard/errors.py``):
0 success, 1 unexpected failure, 2 bad input (usage or config), 3 not found, 4 conflict with
the current state, 5 unavailable (try again), 6 integrity (checksum) failure, 7 refused by a
service, 8 a task failed, 9 stored state unusable; a failed training job exits with the job's
own code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperGroup

from modelyard.entry import describe, fallback_log, log_traceback
from modelyard.errors import ModelyardError

if TYPE_CHECKING:
    from rich.text import Text


class _LazyConsole:
    """A ``rich.console.Console`` made on first use: importing rich costs tens of ms, which
    ``--help`` and the steering commands need not pay before they print."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Any = None

    def real(self) -> Any:
        """The ``rich.console.Console`` itself, for rich objects that take one (``Live``,
        ``Progress``) and use it as a context manager."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, emoji=False)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


console: Any = _LazyConsole()
"""stdout's rich console (``rich.console.Console``)."""
err_console: Any = _LazyConsole(stderr=True)
"""stderr's rich console. No emoji codes on either console: ``root:x:0:0`` in a log tail must
stay as it is. Markup stays for the CLI's own strings; user data goes in as :func:`literal`."""


def say(line: str) -> None:
    """Print one plain line on stdout, as is (no markup, no wrapping): the one-line answers of
    the steering commands, which should not wait for rich's import (a rollback is an
    emergency)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def literal(value: object) -> Text:
    """``value`` as text that rich prints as is: no markup, no emoji codes, no highlighting."""
    from rich.text import Text

    return Text(str(value))


def fail(error: ModelyardError) -> NoReturn:
    """Print ``error`` for a person and exit with its class's code."""
    message = describe(error)
    from rich.text import Text

    err_console.print(
        "[bold red]error:[/] ", Text(message), sep="", highlight=False, soft_wrap=True
    )
    raise typer.Exit(error.exit_code)


def log_path_for(args: Sequence[str]) -> Path:
    """Where the CLI logs tracebacks: the workspace's ``.modelyard/logs/modelyard.log``.

    The workspace is the ``--workspace``/``-w`` folder of the command line, else the current
    folder (or the nearest one above with a ``modelyard.yaml``); outside any workspace, the
    system's temporary folder.
    """
    start = Path()
    for i, arg in enumerate(args):
        if arg in ("--workspace", "-w") and i + 1 < len(args):
            start = Path(args[i + 1])
        elif arg.startswith("--workspace="):
            start = Path(arg.partition("=")[2])
    try:
        from modelyard.config.workspace import STATE_DIR, find_root

        return find_root(start) / STATE_DIR / "logs" / "modelyard.log"
    except (ModelyardError, OSError):
        return fallback_log()


def report_unexpected(exc: BaseException, args: Sequence[str]) -> int:
    """Log ``exc`` with its traceback to the log file; tell the user in one line. Exit 1."""
    path = log_path_for(args)
    written = log_traceback(exc, path, f"modelyard {' '.join(args)}")
    where = f"; the traceback is in {path}" if written else ""
    from rich.text import Text

    err_console.print(
        "[bold red]error:[/] ",
        Text(f"unexpected {type(exc).__name__}: {exc}{where}"),
        sep="",
        highlight=False,
        soft_wrap=True,
    )
    return 1


class EdgeGroup(TyperGroup):
    """The CLI's one error edge: every command runs inside :meth:`invoke`.

    A :class:`ModelyardError` becomes its message and its class's exit code; any
    other exception is logged with its traceback and reported in one line (exit 1). Commands
    raise; none of them catches to print.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        ctx.meta["modelyard.args"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own ways to end a command (exit codes, usage errors)
        except ModelyardError as exc:
            fail(exc)
        except Exception as exc:
            args = ctx.meta.get("modelyard.args", [])
            raise typer.Exit(report_unexpected(exc, args)) from exc


def print_json(value: Any) -> None:
    """Write ``value`` as JSON on stdout, for scripts."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def emit(as_json: bool, value: Any, human: Callable[[], None]) -> None:
    """JSON for scripts when ``as_json``, else the human form."""
    if as_json:
        print_json(value)
    else:
        human()
