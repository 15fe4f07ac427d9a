"""The one error edge of every modelyard process: run its ``main``, turn what escapes into one
line on stderr and an exit code.

Seven processes start from their own ``main`` (the supervisor, the alias helper, the pipeline
scheduler, the server template, the watchdog, the trainer, the model server), and each used to
handle failure its own way; the CLI has its own edge (``cli/output.py``) built from the same
parts. :func:`run_main` is the one way now: a :class:`~modelyard.errors.ModelyardError` becomes
its message and the exit code its class carries (see ``errors.py``); anything else is a bug,
so its traceback goes to the log file and the line says where (exit 1). ``SystemExit`` (a
usage error from argparse) passes through as it is.

Only the standard library and ``modelyard.errors`` are imported here: the watchdog runs with
``python -I -S`` and the model server must start fast.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

from modelyard.errors import ModelyardError, Unavailable

INTERRUPTED = 130
"""The exit code of a process stopped by Ctrl-C, as shells report it (128 + SIGINT)."""


def describe(exc: ModelyardError) -> str:
    """The message of ``exc`` for a person, with the wait an ``Unavailable`` asks for."""
    message = str(exc)
    if isinstance(exc, Unavailable) and exc.retry_after:
        message += f" (try again in {exc.retry_after:g} s)"
    return message


def one_line(text: str) -> str:
    """``text`` on one line: a multi-line message (every problem of a config file) joined."""
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def log_traceback(exc: BaseException, path: Path, header: str) -> bool:
    """Append ``exc``'s traceback, under a time-stamped ``header``, to ``path``; False when
    the file cannot be written (the caller then says so instead of naming it)."""
    import traceback  # only on a failure: a process's start does not pay for it

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {header}\n")
            log.write("".join(traceback.format_exception(exc)))
    except OSError:
        return False
    return True


def fallback_log() -> Path:
    """Where a traceback goes when its process has no log of its own."""
    import tempfile  # only on this path: the server's start does not pay for it

    return Path(tempfile.gettempdir()) / "modelyard.log"


def _stderr_file() -> Path | None:
    """The file stderr writes to, when it is one (a detached process's log), else None."""
    try:
        if not stat.S_ISREG(os.fstat(sys.stderr.fileno()).st_mode):
            return None
        return Path(os.readlink(f"/proc/self/fd/{sys.stderr.fileno()}"))
    except (OSError, ValueError, AttributeError):  # no fd (a test's capture), no /proc
        return None


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: the exit code still tells
        pass


def _log_unexpected(exc: BaseException, prog: str, log_file: Path | None) -> str:
    """Write the traceback where it belongs; the words that tell the reader where it is."""
    import traceback

    if log_file is None and (own := _stderr_file()) is not None:
        # stderr is this process's log already: the traceback goes there, above the line
        _say("".join(traceback.format_exception(exc)).rstrip())
        return f"see the traceback above in {own}"
    target = log_file or fallback_log()
    if log_traceback(exc, target, prog):
        return f"see {target}"
    return f"and its traceback could not be written to {target}"


def run_main(main: Callable[[], int | None], *, prog: str, log_file: Path | None = None) -> int:
    """Run ``main`` and return the process's exit code; never raises but ``SystemExit``.

    ``log_file`` receives tracebacks; without it they go to stderr when stderr is a file (a
    detached process's log), else to :func:`fallback_log`. stderr gets one line either way.
    """
    try:
        code = main()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _say(f"{prog}: interrupted")
        return INTERRUPTED
    except ModelyardError as exc:
        if log_file is not None:  # the cause chain is for whoever debugs it, not the line
            log_traceback(exc, log_file, prog)
        _say(f"{prog}: error: {one_line(describe(exc))}; next: {exc.next_step}")
        return exc.exit_code
    except Exception as exc:
        where = _log_unexpected(exc, prog, log_file)
        _say(f"{prog}: unexpected error {type(exc).__name__}: {one_line(str(exc))}; {where}")
        return 1
    return code or 0
