"""The root of every error modelyard raises, the few bases that tell a caller what to do, and
the exit code and HTTP status of each.

Every error modelyard raises derives from exactly one base below, never from the root
directly: the base is the answer to "what do I do now?", so it decides how the error leaves
a process. ``exit_code`` and ``http_status`` are class attributes, read in one place each:
``run_main`` (``modelyard.entry``) and the CLI's edge read ``exit_code``; the model server
and the console read ``http_status`` through ``serving.protocol.errors.status_for``. A
subclass overrides them only where the protocol has a finer answer (429 for a rate limit,
413 for a body too large). No other module maps error classes to codes.

======================  ====  ====  =====================================================
base                    exit  HTTP  what to do
======================  ====  ====  =====================================================
(anything unexpected)   1     500   a bug: read the traceback in the log the line names
ConfigError             2     400   fix the file or argument named, run again
NotFound                3     404   name something that exists
Conflict                4     409   let the other operation finish, or resolve the state
Unavailable             5     503   try again (after ``retry_after`` seconds)
IntegrityError          6     500   fetch or register the artifact again
Refused                 7     500   the other side said no for good: change what it names
TaskFailed              8     500   read why (and the log named), fix the cause, rerun
StorageError            9     500   repair, restore or upgrade the stored state named
======================  ====  ====  =====================================================

A failed job (``JobFailed``) exits with the job's own code.
"""

from __future__ import annotations


class ModelyardError(Exception):
    """Base of all modelyard errors. ``str(err)`` is a complete message for a person.

    Raise a subclass of one of the bases below, never this class itself: the root's codes are
    those of an unexpected failure."""

    exit_code: int = 1
    """What a process exits with when this error ends it (0 is never one)."""
    http_status: int = 500
    """The HTTP status of a response that reports this error."""
    next_step: str = "this is a bug: report it with the log"
    """What the person reading the error should do now, in a few words."""


class ConfigError(ModelyardError):
    """A file or an argument the user wrote is wrong: fix the input and try again."""

    exit_code = 2
    http_status = 400
    next_step = "fix the input named and run it again"


class NotFound(ModelyardError):
    """Something named does not exist (a model, a version, an alias, a run)."""

    exit_code = 3
    http_status = 404
    next_step = "name one that exists"


class Conflict(ModelyardError):
    """The request clashes with the current state (a rollout already running, say)."""

    exit_code = 4
    http_status = 409
    next_step = "let the other operation finish, or change the state it names, then retry"


class Unavailable(ModelyardError):
    """A dependency cannot serve now; trying again after ``retry_after`` seconds may work."""

    exit_code = 5
    http_status = 503
    next_step = "try again later"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IntegrityError(ModelyardError):
    """An artifact's content does not match its recorded checksum: it was changed or damaged."""

    exit_code = 6
    http_status = 500
    next_step = "fetch the artifact again, or register the model again"


class Refused(ModelyardError):
    """A service (the Kubernetes API, MLflow, an admin API) refused the request for good:
    asking again unchanged will not help; change what the message names (a value, a
    permission, a token)."""

    exit_code = 7
    http_status = 500
    next_step = "change what the refusal names (value, permission or token); retrying won't help"


class TaskFailed(ModelyardError):
    """Work that modelyard ran failed: a job, a build, an evaluation, a pipeline step, a
    model's load or prediction. The message says why and names the log: fix the cause (the
    script, the model, the recipe) and run it again."""

    exit_code = 8
    http_status = 500
    next_step = "read why in the message and the log it names, fix the cause, run it again"


class JobFailed(TaskFailed):
    """A job ran and failed; ``exit_code`` is what its process returned (the CLI exits with
    it, so a script's own code reaches the shell)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        # a failure never exits 0, and a shell sees only 1..255
        self.exit_code = exit_code if 0 < exit_code < 256 else 1


class StorageError(ModelyardError):
    """State that modelyard keeps on disk (``state.db``, ``pipelines.db``, a stored rollout)
    cannot be read or written: damaged, written by a newer release, or on a full or read-only
    disk. Free the disk, fix its permissions, restore the file named, or upgrade modelyard."""

    exit_code = 9
    http_status = 500
    next_step = "free the disk, fix permissions, restore the file named, or upgrade modelyard"


BASES: tuple[type[ModelyardError], ...] = (
    ConfigError,
    NotFound,
    Conflict,
    Unavailable,
    IntegrityError,
    Refused,
    TaskFailed,
    StorageError,
)
"""The direct subclasses of the root: every other error derives from one of them."""
