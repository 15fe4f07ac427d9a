"""The console's ASGI app (Starlette, like the model server) and the function that serves it.

Pages are GETs and read only. An action (promote, abort, rollback) is a POST to
``/models/{id}/{action}`` with ``Authorization: Bearer <admin token>``: 401 without the right
token, 404 for a model that does not exist, 400 for a malformed id or an unknown action, 409
when the backend refuses (no rollout to promote). Handlers are plain functions; Starlette runs
them in its thread pool, since the backend and the registry block.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from modelyard.console.data import ConsoleData
from modelyard.console.pages import error_page, index_page, logs_page, model_page
from modelyard.errors import ModelyardError, Unavailable
from modelyard.serving.protocol.errors import status_for

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def build_app(data: ConsoleData, token: str) -> Starlette:
    """The console over ``data``; ``token`` is what an action's bearer must be."""

    def page(render: Callable[[Request], str]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                return HTMLResponse(render(request))
            except ModelyardError as exc:
                code = status_for(exc)
                if code == 500:
                    log.exception("console page %s", request.url.path)
                return HTMLResponse(error_page(data, code, str(exc)), status_code=code)

        return endpoint

    def act(request: Request) -> Response:
        if not _authorized(request, token):
            return JSONResponse(
                {"error": "this action needs the admin token: Authorization: Bearer <token>"},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        model_id, action = request.path_params["model_id"], request.path_params["action"]
        try:
            return JSONResponse(data.act(model_id, action, by="console"))
        except ModelyardError as exc:
            code = status_for(exc)
            if code == 500:
                log.exception("console action %s on %s", action, model_id)
            return JSONResponse({"error": str(exc)}, status_code=code)

    routes = [
        Route("/", page(lambda _r: index_page(data)), methods=["GET"]),
        Route(
            "/models/{model_id}",
            page(lambda r: model_page(data, r.path_params["model_id"])),
            methods=["GET"],
        ),
        Route(
            "/models/{model_id}/logs",
            page(
                lambda r: logs_page(
                    data,
                    r.path_params["model_id"],
                    r.query_params.get("run"),
                    r.query_params.get("version"),
                )
            ),
            methods=["GET"],
        ),
        Route("/models/{model_id}/{action}", act, methods=["POST"]),
        Route("/healthz", lambda _r: JSONResponse({"ok": True}), methods=["GET"]),
    ]
    return Starlette(routes=routes)


class PortInUse(Unavailable):
    """The console's address is taken (another console, or any server)."""


def serve(data: ConsoleData, token: str, host: str = "127.0.0.1", port: int = 8300) -> None:
    """Serve the console until interrupted; PortInUse when ``host:port`` cannot be bound."""
    import socket

    import uvicorn

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}; pick --port") from exc
    uvicorn.run(build_app(data, token), host=host, port=port, log_level="warning")
