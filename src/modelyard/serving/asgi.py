"""The hot inference routes as raw ASGI, in front of the Starlette app.

For a small model, Starlette's middleware stack, router and ``Request``/``Response`` objects
cost more per request than the model call itself. ``POST`` to the two inference routes is
therefore matched here with string operations and answered straight through ``send``;
everything else (other paths, other methods on these paths) goes to the Starlette app, whose
routes call the same handlers.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from modelyard.serving.protocol import InferenceApi

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


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class ModelServerApp(Starlette):
    """The Starlette app with the inference routes answered before its middleware stack."""

    def __init__(self, api: InferenceApi, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inference = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = match_inference(scope["path"])
            if route is not None:
                await self._infer(route, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _infer(
        self, route: tuple[bool, str, str | None], scope: Scope, receive: Receive, send: Send
    ) -> None:
        body = await read_body(receive)
        if body is None:
            return
        is_v2, name, version = route
        headers = scope["headers"]
        if is_v2:
            reply = await self.inference.infer_v2_raw(name, version, headers, body)
        else:
            reply = await self.inference.predict_v1_raw(name, headers, body)
        out = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
        await send({"type": "http.response.start", "status": reply.status, "headers": out})
        await send({"type": "http.response.body", "body": reply.body})
