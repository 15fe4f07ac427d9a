"""The root of every error modelyard raises, and the few bases that tell a caller what to do.

Each capability subclasses one of these bases; the CLI maps them to exit codes in one place and
the model server maps them to HTTP statuses in one table.
"""

from __future__ import annotations


class ModelyardError(Exception):
    """Base of all modelyard errors. ``str(err)`` is a complete message for a person."""


class ConfigError(ModelyardError):
    """A file or an argument the user wrote is wrong: fix the input and try again."""


class NotFound(ModelyardError):
    """Something named does not exist (a model, a version, an alias, a run)."""


class Conflict(ModelyardError):
    """The request clashes with the current state (a rollout already running, say)."""


class Unavailable(ModelyardError):
    """A dependency cannot serve now; trying again after ``retry_after`` seconds may work."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IntegrityError(ModelyardError):
    """An artifact's content does not match its recorded checksum: it was changed or damaged."""


class JobFailed(ModelyardError):
    """A job ran and failed; ``exit_code`` is what its process returned."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
