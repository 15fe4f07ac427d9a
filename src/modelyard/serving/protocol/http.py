"""HTTP answers as the data plane's front end and the admin API write them.

``Reply`` is an answer as raw ASGI wants it (the hot path builds no Starlette objects);
``json_response`` and ``error_response`` are the Starlette forms for the other routes. Every
error becomes ``{"error": ...}`` with its status from ``status_for`` (``errors.py``) and, for
refusals, ``Retry-After``; ``guarded`` catches every error at a route's edge.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import ModelyardError
from modelyard.serving.protocol.errors import retry_after_header, status_for

log = logging.getLogger(__name__)
JSON = "application/json"
Handler = Callable[[Request], Awaitable[Response]]
RawHeaders = list[tuple[bytes, bytes]]
_CONTENT_TYPE = (b"content-type", b"application/json")


class Reply(NamedTuple):
    """An HTTP answer as ASGI wants it: status, header pairs (no content-length), body."""

    status: int
    headers: RawHeaders
    body: bytes

    def response(self) -> Response:
        response = Response(self.body, self.status, media_type=JSON)
        response.raw_headers.extend(h for h in self.headers if h[0] != b"content-type")
        return response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type=JSON)


def error_reply(exc: BaseException, request_id: str | None = None) -> Reply:
    """The JSON answer to an error, with ``Retry-After`` for refusals."""
    status = status_for(exc)
    if status >= 500 and not isinstance(exc, ModelyardError):
        log.exception("unexpected error", exc_info=exc)
    message = str(exc) if isinstance(exc, ModelyardError) else f"internal error: {exc!r}"
    headers = [_CONTENT_TYPE]
    headers.extend((k.encode(), v.encode()) for k, v in retry_after_header(exc).items())
    if request_id is not None:
        headers.append((b"x-request-id", request_id.encode()))
    return Reply(status, headers, orjson.dumps({"error": message}))


def error_response(exc: BaseException) -> Response:
    return error_reply(exc).response()


def guarded(handler: Handler) -> Handler:
    """Catch every error at the edge and answer it as JSON."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            return error_response(exc)

    return wrapper
