"""Every error's exit code and HTTP status are attributes of its class (``modelyard/errors.py``),
and every reader (the CLI, ``run_main``, the model server and the console's ``status_for``)
reads them there; every error derives from one base that says what to do."""

from __future__ import annotations

import pytest
import typer
from error_classes import all_error_classes, error_class_names, instance_of

from modelyard.cli.output import fail
from modelyard.entry import run_main
from modelyard.errors import (
    BASES,
    ConfigError,
    Conflict,
    IntegrityError,
    JobFailed,
    ModelyardError,
    NotFound,
    Refused,
    StorageError,
    TaskFailed,
    Unavailable,
)
from modelyard.serving.protocol.errors import (
    BadRequest,
    Forbidden,
    HeadersTooLarge,
    InferenceError,
    ModelLoadError,
    ModelNotFound,
    NotReady,
    PayloadTooLarge,
    RateLimited,
    Shed,
    Unauthorized,
    status_for,
)

ERRORS = all_error_classes()
IDS = [f"{c.__module__}.{c.__qualname__}" for c in ERRORS]

# The contract a user and a load balancer rely on: README's exit codes, the protocol's statuses.
BASE_CODES = {
    ConfigError: (2, 400),
    NotFound: (3, 404),
    Conflict: (4, 409),
    Unavailable: (5, 503),
    IntegrityError: (6, 500),
    Refused: (7, 500),
    TaskFailed: (8, 500),
    StorageError: (9, 500),
}
SERVER_STATUS = {
    BadRequest: 400,
    PayloadTooLarge: 413,
    HeadersTooLarge: 431,
    Unauthorized: 401,
    Forbidden: 403,
    ModelNotFound: 404,
    RateLimited: 429,
    Shed: 503,
    NotReady: 503,
    ModelLoadError: 500,
    InferenceError: 500,
}


def test_the_source_scan_finds_every_error_class() -> None:
    assert len(ERRORS) > 60
    assert {c.__name__ for c in ERRORS} == set(error_class_names())


def test_the_bases_are_the_only_direct_children_of_the_root() -> None:
    assert set(BASES) == set(BASE_CODES)
    direct = {c for c in ERRORS if ModelyardError in c.__bases__}
    assert direct == set(BASES), "derive from a base in modelyard/errors.py, not from the root"


@pytest.mark.parametrize("cls", ERRORS, ids=IDS)
def test_every_error_has_one_base_that_says_what_to_do(cls: type[ModelyardError]) -> None:
    if cls is ModelyardError:
        return
    bases = [b for b in BASES if issubclass(cls, b)]
    assert len(bases) == 1, f"{cls.__name__} derives from {bases}: one base says what to do"
    assert bases[0].next_step
    assert bases[0].__doc__
    exit_code, http_status = BASE_CODES[bases[0]]
    assert cls.exit_code == exit_code
    assert cls.http_status == SERVER_STATUS.get(cls, http_status)


@pytest.mark.parametrize("cls", ERRORS, ids=IDS)
def test_every_reader_takes_the_code_from_the_class(
    cls: type[ModelyardError], capsys: pytest.CaptureFixture[str]
) -> None:
    error = instance_of(cls)

    def raises() -> int:
        raise error

    assert run_main(raises, prog="test") == error.exit_code
    with pytest.raises(typer.Exit) as cli:
        fail(error)
    assert cli.value.exit_code == error.exit_code
    assert status_for(error) == cls.http_status
    capsys.readouterr()


def test_a_failed_job_exits_with_its_own_code() -> None:
    assert JobFailed("the script failed", 3).exit_code == 3
    assert JobFailed("killed for memory", 137).exit_code == 137
    assert JobFailed("no code", 0).exit_code == 1  # a failure never exits 0
    assert JobFailed("signalled", -9).exit_code == 1


def test_anything_else_is_a_500() -> None:
    assert status_for(RuntimeError("a bug")) == 500
    assert ModelyardError.exit_code == 1
