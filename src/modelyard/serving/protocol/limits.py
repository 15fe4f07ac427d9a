"""How large a request the server accepts, and reading a body within that bound.

``deploy.yaml``'s ``request_limits`` (body size, rows) are checked before any work that grows
with the request: the body size from ``Content-Length`` before the body is read, and while it
is read for chunked bodies; the row count from the parsed header (v2 ``shape``, v1 list
length) before any array is built. An over-limit body is read and thrown away in chunks (up to
``DRAIN_FACTOR`` times the limit), so that the client, still sending, gets its 413 instead of a
reset connection; beyond that the connection is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.config.bounds import DEFAULT_MAX_ROWS
from modelyard.serving.protocol.errors import PayloadTooLarge

if TYPE_CHECKING:
    from starlette.types import Receive

DRAIN_FACTOR = 4
"""An over-limit body up to this many times the limit is drained before the 413 is sent."""

OFF_LOOP_DECODE_BYTES = 64 * 1024
"""Bodies above this are decoded in a worker thread, so that the event loop keeps answering."""

MAX_REQUEST_ID_CHARS = 256
"""Longest request id (``x-request-id`` header or the OIP body's ``id``) the server accepts;
a longer one is refused with 400 rather than cut, since a cut id would no longer join with the
caller's outcomes."""

MAX_HEADER_BYTES = 32 * 1024
"""Most bytes of request headers (names and values together); more is answered 431."""


def headers_too_large(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The size of the headers when it is above ``MAX_HEADER_BYTES``, else None."""
    size = 0
    for key, value in headers:
        size += len(key) + len(value)
    return size if size > MAX_HEADER_BYTES else None


@dataclass(frozen=True)
class RequestLimits:
    """Largest request body (bytes) and most rows per inference request."""

    max_body_bytes: int = 16 * 2**20
    max_rows: int = DEFAULT_MAX_ROWS

    def too_large(self, body_bytes: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the request body is {body_bytes:,} bytes, above the limit of "
            f"{self.max_body_bytes:,} (deploy.yaml request_limits.max_body); "
            "send fewer rows per request"
        )


class BodyTooLarge(Exception):
    """Reading stopped: the body is above the limit (``size`` bytes seen or declared)."""

    def __init__(self, size: int, drained: bool) -> None:
        super().__init__(size)
        self.size = size
        self.drained = drained


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The ``Content-Length`` a request declares, when it declares a valid one."""
    for key, value in headers:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(receive: Receive, limit: int, declared: int | None = None) -> bytes | None:
    """The whole body, None when the client went away, or :class:`BodyTooLarge`."""
    if declared is not None and declared > limit:
        drained = declared <= limit * DRAIN_FACTOR and await _drain(receive, declared)
        raise BodyTooLarge(declared, drained)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        more = message.get("more_body", False)
        if size > limit:
            drained = not more or await _drain(receive, limit * DRAIN_FACTOR - size)
            raise BodyTooLarge(size, drained)
        chunks.append(chunk)
        if not more:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> bool:
    """Read and drop the rest of a body, up to ``budget`` bytes; True when it all came."""
    while budget >= 0:
        message = await receive()
        if message["type"] != "http.request":
            return False
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return budget >= 0
    return False
