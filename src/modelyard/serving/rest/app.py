"""``create_app``: the model server as one Starlette ASGI application.

Start-up returns at once and loads and warms the primary version in the background, so that
liveness answers while readiness waits for warm-up. Shutdown drains requests in flight, lets
shadow calls finish and flushes the prediction log.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.serving.admin.api import AdminApi, Loader
from modelyard.serving.dataplane.deployment import ModelDeployment
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.plane import DataPlane
from modelyard.serving.dataplane.sinks import outcome_forwarder, prediction_sink
from modelyard.serving.options import ModelSource, ServerOptions
from modelyard.serving.protocol.http import guarded, json_response
from modelyard.serving.protocol.openapi import openapi_document
from modelyard.serving.rest.asgi import ModelServerApp
from modelyard.serving.rest.feedback import FeedbackApi, FeedbackJoin, Tee
from modelyard.serving.rest.handlers import InferenceApi

log = logging.getLogger(__name__)
SERVER_VERSION = "0.1.0"


def create_app(
    primary: ModelSource, options: ServerOptions, loader: Loader | None = None
) -> Starlette:
    """The ASGI app serving model ``primary.name``; ``loader`` fetches other versions."""
    metrics = ServingMetrics()
    executor = ThreadPoolExecutor(options.inference_threads, thread_name_prefix="infer")
    deployment = ModelDeployment(primary.name, options, executor, metrics)
    predlog = prediction_sink(primary.name, options.prediction_log, metrics)
    join = FeedbackJoin(primary.name, metrics)
    forward = outcome_forwarder(primary.name, options.prediction_log, metrics)
    plane = DataPlane(deployment, options, metrics, Tee(predlog, join))
    api = InferenceApi(plane, metrics, SERVER_VERSION)
    admin = AdminApi(deployment, options.admin_token, loader)
    document = openapi_document(primary.name, SERVER_VERSION)

    async def start_primary() -> None:
        try:
            await deployment.start_primary(primary)
            if options.freeze_gc:
                # no gc.collect() first: after the imports and the load it finds a handful of
                # objects and costs about 0.1 s on the way to ready
                gc.freeze()
            log.info("model %s version %s is ready", primary.name, primary.version)
        except Exception as exc:
            log.exception("model %s version %s failed to load", primary.name, primary.version)
            deployment.load_error = f"{type(exc).__name__}: {exc}"

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if predlog is not None:
            predlog.start()
        task = asyncio.get_running_loop().create_task(start_primary())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await plane.close()
            if forward is not None:
                await asyncio.to_thread(forward.close)
            await deployment.close()
            executor.shutdown(wait=False, cancel_futures=True)

    async def metrics_route(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    async def openapi_route(request: Request) -> Response:
        return json_response(document)

    m, mv = "/v2/models/{name}", "/v2/models/{name}/versions/{version}"
    admin_m = "/admin/models/{name}"
    routes = [
        Route("/v2", guarded(api.server_metadata)),
        Route("/v2/health/live", guarded(api.live)),
        Route("/v2/health/ready", guarded(api.ready)),
        Route(m, guarded(api.model_metadata)),
        Route(mv, guarded(api.model_metadata)),
        Route(f"{m}/ready", guarded(api.model_ready)),
        Route(f"{mv}/ready", guarded(api.model_ready)),
        Route(f"{m}/infer", guarded(api.infer_v2), methods=["POST"]),
        Route(f"{mv}/infer", guarded(api.infer_v2), methods=["POST"]),
        Route("/v1/models/{name}:predict", guarded(api.predict_v1), methods=["POST"]),
        Route(f"{m}/feedback", guarded(FeedbackApi(join, forward).feedback), methods=["POST"]),
        Route("/metrics", metrics_route),
        Route("/openapi.json", openapi_route),
        Route(admin_m, guarded(admin.describe)),
        Route(f"{admin_m}/stats", guarded(admin.stats)),
        Route(f"{admin_m}/versions", guarded(admin.add_version), methods=["POST"]),
        Route(f"{admin_m}/versions/{{version}}", guarded(admin.remove), methods=["DELETE"]),
        Route(f"{admin_m}/traffic", guarded(admin.traffic), methods=["PUT"]),
        Route(f"{admin_m}/promote", guarded(admin.promote), methods=["POST"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return json_response({"error": f"{detail}: {request.method} {request.url.path}"}, status)

    app = ModelServerApp(
        api, routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    app.state.deployment = deployment
    app.state.plane = plane
    app.state.metrics = metrics
    return app
