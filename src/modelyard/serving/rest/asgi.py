"""The hot inference routes as raw ASGI, in front of the Starlette app.

For a small model, Starlette's middleware stack, router and ``Request``/``Response`` objects
cost more per request than the model call itself. ``POST`` to the two inference routes is
therefore matched here with string operations and answered straight through ``send``;
everything else (other paths, other methods on these paths) goes to the Starlette app, whose
routes call the same handlers. The body is read within ``request_limits.max_body``: a larger
one is answered 413 before it is parsed (see ``limits.py``). Headers over ``MAX_HEADER_BYTES``
are answered 431 here, on every route, whichever HTTP parser uvicorn runs (httptools sets no
bound of its own).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from modelyard.serving.protocol.errors import HeadersTooLarge
from modelyard.serving.protocol.http import Reply, error_reply
from modelyard.serving.protocol.limits import (
    MAX_HEADER_BYTES,
    BodyTooLarge,
    declared_length,
    headers_too_large,
    read_body,
)
from modelyard.serving.rest.handlers import InferenceApi

_V1, _V2 = "/v1/models/", "/v2/models/"


def match_inference(path: str) -> tuple[bool, str, str | None] | None:
    """``(is_v2, model, version)`` for an inference path, else None (as Starlette matches it)."""
    if path.startswith(_V1) and path.endswith(":predict"):
        name = path[len(_V1) : -len(":predict")]
        return (False, name, None) if name and "/" not in name else None
    if path.startswith(_V2) and path.endswith("/infer"):
        parts = path[len(_V2) : -len("/infer")].split("/")
        if len(parts) == 1 and parts[0]:
            return True, parts[0], None
        if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
            return True, parts[0], parts[2]
    return None


class InferenceFirstApp(Starlette):
    """A Starlette app that answers the inference routes before its middleware stack (and
    oversized headers before anything): the hot path of a server and of a pool server.
    Subclasses say how one inference request is answered (:meth:`_infer`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (size := headers_too_large(scope["headers"])):
            exc = HeadersTooLarge(
                f"the request headers are {size:,} bytes, above the limit of "
                f"{MAX_HEADER_BYTES:,}; send fewer or shorter headers"
            )
            reply = error_reply(exc)
            reply.headers.append((b"connection", b"close"))
            await _send(send, reply)
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            route = match_inference(scope["path"])
            if route is not None:
                answer = await self._infer(route, scope, receive)
                if answer is not None:  # None: the client went away mid-body
                    await _send(send, answer)
                return
        await super().__call__(scope, receive, send)

    async def _infer(
        self, route: tuple[bool, str, str | None], scope: Scope, receive: Receive
    ) -> Reply | None:
        raise NotImplementedError


class ModelServerApp(InferenceFirstApp):
    """The one-model server's app: inference goes to its :class:`InferenceApi`."""

    def __init__(self, api: InferenceApi, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inference = api

    async def _infer(
        self, route: tuple[bool, str, str | None], scope: Scope, receive: Receive
    ) -> Reply | None:
        headers = scope["headers"]
        api = self.inference
        try:
            body = await read_body(receive, api.limits.max_body_bytes, declared_length(headers))
        except BodyTooLarge as exc:  # answered before anything is parsed
            return api.too_large(exc.size, close=not exc.drained)
        if body is None:
            return None
        is_v2, name, version = route
        if is_v2:
            return await api.infer_v2_raw(name, version, headers, body)
        return await api.predict_v1_raw(name, headers, body)


async def _send(send: Send, reply: Reply) -> None:
    out = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
    await send({"type": "http.response.start", "status": reply.status, "headers": out})
    await send({"type": "http.response.body", "body": reply.body})
