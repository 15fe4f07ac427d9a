"""Output and exit codes of the CLI, in one place.

Exit codes: 0 success, 1 unexpected failure, 2 bad input (usage or config), 3 not found,
4 conflict with the current state, 5 unavailable (try again), 6 integrity (checksum) failure;
a failed training job exits with the job's own code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from modelyard.errors import (
    ConfigError,
    Conflict,
    IntegrityError,
    JobFailed,
    ModelyardError,
    NotFound,
    Unavailable,
)

EXIT_CODES: dict[type[ModelyardError], int] = {
    ConfigError: 2,
    NotFound: 3,
    Conflict: 4,
    Unavailable: 5,
    IntegrityError: 6,
}

console = Console()
err_console = Console(stderr=True)


def exit_code_for(error: ModelyardError) -> int:
    """The exit code of ``error`` (see the module docstring)."""
    if isinstance(error, JobFailed):
        return error.exit_code or 1
    for kind, code in EXIT_CODES.items():
        if isinstance(error, kind):
            return code
    return 1


def fail(error: ModelyardError) -> NoReturn:
    """Print ``error`` for a person and exit with its code."""
    err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(exit_code_for(error))


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn modelyard errors raised inside the block into a message and an exit code."""
    try:
        yield
    except ModelyardError as exc:
        fail(exc)


def print_json(value: Any) -> None:
    """Write ``value`` as JSON on stdout, for scripts."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def emit(as_json: bool, value: Any, human: Callable[[], None]) -> None:
    """JSON for scripts when ``as_json``, else the human form."""
    if as_json:
        print_json(value)
    else:
        human()
