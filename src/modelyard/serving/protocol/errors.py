"""The model server's errors and the one table that maps every error to an HTTP status
(and, from that status, to a gRPC status code: ``grpc_code_for``).

Handlers raise these; the middleware in ``app.py`` turns them into ``{"error": ...}`` bodies
with the status from ``status_for`` and, for refusals, a ``Retry-After`` header.

Who is at fault, client or model, is decided by one rule. The server checks every request
against the version's signature before the model sees it: JSON, names, shape, datatype,
finite values that fit the declared datatype, body size and row count. A request that fails a
check is the client's fault: a 4xx (400, or 413 for size), never counted toward the breaker or
the version's error rate, so no client can open the breaker or fail a canary by sending bad
values. A request that passes is valid by contract, so anything the model then raises is the
model's fault: ``InferenceError``, a 500, counted. The rule errs on the side of counting a
failure against the model: a canary must never pass its analysis because its failures were
blamed on inputs that the current version answers.
"""

from __future__ import annotations

import math

from modelyard.errors import (
    ConfigError,
    Conflict,
    IntegrityError,
    ModelyardError,
    NotFound,
    Unavailable,
)


class BadRequest(ConfigError):
    """The request body is wrong (bad JSON, shape, datatype, input name): fix it and resend."""


class PayloadTooLarge(BadRequest):
    """The request is over ``request_limits`` (body size or rows): split it and resend."""


class HeadersTooLarge(BadRequest):
    """The request's headers are over ``MAX_HEADER_BYTES``: send fewer or shorter headers."""


class Unauthorized(ModelyardError):
    """The admin API needs ``Authorization: Bearer <token>``."""


class Forbidden(ModelyardError):
    """The admin token given is wrong, or the admin API is disabled (no token configured)."""


class ModelNotFound(NotFound):
    """The model or version named in the path is not served here."""


class RateLimited(Unavailable):
    """The rate limit is reached: retry after ``retry_after`` seconds."""


class Shed(Unavailable):
    """The server refused the request to protect itself (breaker open, queue timeout)."""

    def __init__(self, message: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after)
        self.reason = reason


class NotReady(Unavailable):
    """The model is still warming up; retry shortly."""


class ModelLoadError(ModelyardError):
    """A model artifact could not be loaded (unknown flavor, missing file, framework error)."""


class InferenceError(ModelyardError):
    """The model raised while predicting; the cause is chained."""


_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (RateLimited, 429),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (HeadersTooLarge, 431),
    (ConfigError, 400),
    (Unavailable, 503),
    (IntegrityError, 500),
    (ModelLoadError, 500),
    (InferenceError, 500),
)
"""Most specific first: the first class an error is an instance of gives its status."""


def status_for(exc: BaseException) -> int:
    """The HTTP status of an error; 500 for anything unexpected."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


_GRPC_CODES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    431: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
"""HTTP status -> gRPC status code name, as Google's API design maps them (the OIP gRPC text
only says that errors are a ``google.rpc.Status``). Keyed by status rather than by class, so
that ``status_for`` stays the one place that classifies an error."""


def grpc_code_for(exc: BaseException) -> str:
    """The gRPC status code name (``grpc.StatusCode[...]``) of an error; INTERNAL for 5xx."""
    return grpc_code_for_status(status_for(exc))


def grpc_code_for_status(status: int) -> str:
    """The gRPC status code name of an HTTP status (``OK`` for 2xx)."""
    if 200 <= status < 300:
        return "OK"
    return _GRPC_CODES.get(status, "INTERNAL")


def retry_after_header(exc: BaseException) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) for errors that carry a retry hint."""
    if isinstance(exc, Unavailable):
        wait = exc.retry_after if exc.retry_after is not None else 1.0
        return {"retry-after": str(max(1, math.ceil(wait)))}
    return {}
