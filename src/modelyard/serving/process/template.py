"""A pre-imported parent that forks model servers: ``python -m modelyard.serving.process.template``.

Starting a model server is mostly imports (the serving stack, the model's framework). This
process pays them once: it imports the serving stack and, given a launch spec, loads that
model once (its framework, its estimator modules, skops) and drops it. Then it forks a
server per request; each child starts from the imported state, loads its model from the
verified cache and serves, so a restart costs the model load and warm-up, not a cold start.

Protocol (what ``modelyard.backends.local.process.ServerTemplate`` speaks): one JSON object
per line on stdin, ``{"spec": PATH, "log": PATH}``; one answer per line on stdout,
``{"pid": N}`` or ``{"error": "..."}``. Each child runs in its own session (its pid is its
process group, for signals), with its output appended to the log; the children outlive this
process. End of input ends the template. The template reaps its children.

Usage: ``python -m modelyard.serving.process.template [WARM_SPEC.json]``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

from modelyard.serving.process.arenas import limit_malloc_arenas


def warm(spec_path: Path | None) -> None:
    """Import what a server needs; with a spec, load (and drop) its model once."""
    import uvicorn

    from modelyard.serving.process.launch import cached_source, read_spec
    from modelyard.serving.runtimes.imports import refuse_pandas_for
    from modelyard.serving.runtimes.registry import runtime_for

    async def _nothing(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        return None

    # what uvicorn.run imports lazily: the protocol, loop and lifespan implementations
    uvicorn.Config(_nothing, lifespan="on", log_level="warning").load()
    if spec_path is None:
        return
    source = cached_source(read_spec(spec_path))
    # as the servers it forks would: a tensor model's stack is imported without pandas
    refuse_pandas_for(source.path)
    runtime = runtime_for(
        source.path, source.method, allow_pickle=source.allow_pickle, fastload=source.fastload
    )
    runtime.load(source.path)
    runtime.unload()


_LOGS: dict[int, str] = {}
"""Each forked server's log, so that its exit status can be written beside it."""


def exits_path(log: str | os.PathLike[str]) -> str:
    """Where the template records how the servers logging to ``log`` ended (JSON lines)."""
    return f"{os.fspath(log)}.exits"


def _record_exit(pid: int, status: int) -> None:
    # the supervisor is not these servers' parent, so only the template can say why one
    # ended (a `kill -9` shows as "killed by signal 9" in `modelyard logs --server`)
    log = _LOGS.pop(pid, None)
    if log is None:
        return
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status)
    with contextlib.suppress(OSError), open(exits_path(log), "a", encoding="utf-8") as out:
        out.write(json.dumps({"pid": pid, "returncode": code}) + "\n")


def _reap(signum: int = 0, frame: object = None) -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            _record_exit(pid, status)


def _child(spec: str, log: str) -> None:
    """In the forked child: become a session leader, log to ``log``, serve ``spec``."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        gc.unfreeze()
        from modelyard.serving.process.main import main

        code = main([spec])
    except BaseException:  # the child must never return into the template's loop
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _answer(body: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(body) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    """Serve fork requests until end of input (``modelyard.entry.run_main`` is its edge)."""
    from modelyard.entry import run_main

    return run_main(lambda: _serve_forks(argv), prog="modelyard.serving.template")


def _serve_forks(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0] in ("-h", "--help")):
        print(
            "usage: python -m modelyard.serving.process.template [WARM_SPEC.json]", file=sys.stderr
        )
        return 2
    # Forking a process whose native libraries hold threads (OpenBLAS) is what this is for;
    # the libraries re-create their pools in the child (pthread_atfork).
    warnings.filterwarnings("ignore", message=r".*fork\(\).*", category=DeprecationWarning)
    limit_malloc_arenas()  # the forked servers inherit the cap (see process.arenas)
    try:
        warm(Path(argv[0]) if argv else None)
    except Exception as exc:  # a model that will not load: the children will say why
        print(f"template: warm-up failed: {exc}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGCHLD, _reap)
    gc.collect()
    gc.freeze()  # keep the imported objects out of the children's collections (fewer COW pages)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            spec, log = str(request["spec"]), str(request["log"])
        except (ValueError, KeyError, TypeError) as exc:
            _answer({"error": f"bad request: {exc}"})
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        # SIGCHLD waits until the child's log is known, so a child that dies at once is
        # still recorded
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            _child(spec, log)
        _LOGS[pid] = log
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        _answer({"pid": pid})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
