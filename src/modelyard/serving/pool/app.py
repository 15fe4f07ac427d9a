"""``create_pool_app``: one ASGI app that serves every model of a pool, by the path's name.

The inference routes are matched before Starlette, as in the one-model app (``rest.asgi``):
the body is read within that model's request limits, the model is acquired (loaded if it is
not, within the pool's load timeout) and its own ``InferenceApi`` answers. Metadata, model
readiness and the per-model admin API go through Starlette routes that acquire the model the
same way. ``GET /admin/pool`` (admin token) lists the models, whether each is loaded, its
measured memory, last use, loads and evictions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope

from modelyard.serving.pool.pool import SERVER_VERSION, ModelPool, PoolMember
from modelyard.serving.protocol.errors import (
    Forbidden,
    ModelNotFound,
    NotReady,
    Unauthorized,
)
from modelyard.serving.protocol.http import Reply, error_reply, guarded, json_response
from modelyard.serving.protocol.limits import (
    BodyTooLarge,
    declared_length,
    read_body,
)
from modelyard.serving.rest.asgi import InferenceFirstApp

MemberHandler = Callable[[PoolMember, Request], Awaitable[Response]]


class PoolApp(InferenceFirstApp):
    """The pool's app: inference goes to the named model's member, loaded on first use."""

    def __init__(self, pool: ModelPool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool = pool

    async def _infer(
        self, route: tuple[bool, str, str | None], scope: Scope, receive: Receive
    ) -> Reply | None:
        is_v2, name, version = route
        member = self.pool.members.get(name)
        if member is None:
            return error_reply(ModelNotFound(f"model {name!r} is not in pool {self.pool.name!r}"))
        headers = scope["headers"]
        api = member.api
        try:
            body = await read_body(receive, api.limits.max_body_bytes, declared_length(headers))
        except BodyTooLarge as exc:
            return api.too_large(exc.size, close=not exc.drained)
        if body is None:
            return None
        try:
            member = await self.pool.acquire(name)
        except Exception as exc:
            if isinstance(exc, NotReady):  # counted as shed, as a one-model server's warm-up is
                api.metrics.shed.labels(name, "loading").inc()
            return error_reply(exc)
        try:
            if is_v2:
                return await api.infer_v2_raw(name, version, headers, body)
            return await api.predict_v1_raw(name, headers, body)
        finally:
            self.pool.release(member)


def create_pool_app(pool: ModelPool, admin_token: str | None) -> PoolApp:
    """The ASGI app of ``pool``; pinned models load in the background at start."""
    metrics = pool.metrics

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(pool.load_pinned())
        app.state.pinned_loaded = task
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await pool.close()

    def on_model(handler: MemberHandler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            member = await pool.acquire(request.path_params["name"])
            try:
                return await handler(member, request)
            finally:
                pool.release(member)

        return guarded(route)

    async def server_metadata(request: Request) -> Response:
        return json_response({"name": "modelyard", "version": SERVER_VERSION, "extensions": []})

    async def live(request: Request) -> Response:
        return json_response({"live": True})

    async def ready(request: Request) -> Response:
        # the pool is ready once its pinned models are; the others load on their first use
        done = app.state.pinned_loaded.done()
        return json_response({"ready": done}, 200 if done else 400)

    async def metrics_route(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    async def pool_stats(request: Request) -> Response:
        _authorize(request, admin_token)
        return json_response(pool.describe())

    m, mv = "/v2/models/{name}", "/v2/models/{name}/versions/{version}"
    admin_m = "/admin/models/{name}"
    routes = [
        Route("/v2", server_metadata),
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route(m, on_model(lambda mb, r: mb.api.model_metadata(r))),
        Route(mv, on_model(lambda mb, r: mb.api.model_metadata(r))),
        Route(f"{m}/ready", on_model(lambda mb, r: mb.api.model_ready(r))),
        Route(f"{mv}/ready", on_model(lambda mb, r: mb.api.model_ready(r))),
        Route("/metrics", metrics_route),
        Route("/admin/pool", guarded(pool_stats)),
        Route(admin_m, on_model(lambda mb, r: mb.admin.describe(r))),
        Route(f"{admin_m}/stats", on_model(lambda mb, r: mb.admin.stats(r))),
        Route(
            f"{admin_m}/versions",
            on_model(lambda mb, r: mb.admin.add_version(r)),
            methods=["POST"],
        ),
        Route(
            f"{admin_m}/versions/{{version}}",
            on_model(lambda mb, r: mb.admin.remove(r)),
            methods=["DELETE"],
        ),
        Route(f"{admin_m}/traffic", on_model(lambda mb, r: mb.admin.traffic(r)), methods=["PUT"]),
        Route(f"{admin_m}/promote", on_model(lambda mb, r: mb.admin.promote(r)), methods=["POST"]),
    ]
    app = PoolApp(pool, routes=routes, lifespan=lifespan)
    app.state.pool = pool
    app.state.metrics = metrics
    return app


def _authorize(request: Request, token: str | None) -> None:
    if token is None:
        raise Forbidden("the admin API is disabled: start the pool with an admin token")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("send 'Authorization: Bearer <admin token>'")
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Forbidden("the admin token is wrong")
