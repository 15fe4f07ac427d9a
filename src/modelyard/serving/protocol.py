"""HTTP handlers of the data plane: OIP v2 (infer, health, metadata) and v1 predict.

Handlers decode the body with the routed version's signature, hand it to the ``DataPlane`` and
encode the answer; ``guarded`` turns every error into ``{"error": ...}`` with the status from the
one table in ``errors.py``, and counts the request under its code.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import ModelyardError
from modelyard.serving.codec import datatype_of, decode_v1, decode_v2, encode_v1, encode_v2
from modelyard.serving.dataplane import DataPlane
from modelyard.serving.errors import BadRequest, ModelNotFound, retry_after_header, status_for
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.version import ModelVersion

log = logging.getLogger(__name__)
JSON = "application/json"
Handler = Callable[[Request], Awaitable[Response]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type=JSON)


def error_response(exc: BaseException) -> Response:
    status = status_for(exc)
    if status >= 500 and not isinstance(exc, ModelyardError):
        log.exception("unexpected error", exc_info=exc)
    message = str(exc) if isinstance(exc, ModelyardError) else f"internal error: {exc!r}"
    return json_response({"error": message}, status, retry_after_header(exc))


def guarded(handler: Handler) -> Handler:
    """Catch every error at the edge and answer it as JSON."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            return error_response(exc)

    return wrapper


class InferenceApi:
    """The inference and metadata endpoints of the one model this app serves."""

    def __init__(self, plane: DataPlane, metrics: ServingMetrics, server_version: str) -> None:
        self.plane = plane
        self.model = plane.deployment.name
        self.metrics = metrics
        self.server_version = server_version

    def _check_model(self, request: Request) -> None:
        name = request.path_params["name"]
        if name != self.model:
            raise ModelNotFound(
                f"model {name!r} is not served here; this server serves {self.model!r}"
            )

    async def infer_v2(self, request: Request) -> Response:
        header = request.headers.get("inference-header-content-length")
        try:
            length = int(header) if header is not None else None
        except ValueError:
            length = None
        request_ids: list[str | None] = []

        async def decode(version: ModelVersion) -> np.ndarray:
            req = decode_v2(
                await request.body(), version.runtime.signature, (version.output_name,), length
            )
            request_ids.append(req.id)
            return req.rows

        def encode(version: ModelVersion, result: np.ndarray) -> bytes:
            rid = request_ids[0] if request_ids else None
            return encode_v2(self.model, version.name, version.output_name, result, rid)

        return await self._serve(request, decode, encode)

    async def predict_v1(self, request: Request) -> Response:
        async def decode(version: ModelVersion) -> np.ndarray:
            return decode_v1(await request.body(), version.runtime.signature)

        return await self._serve(request, decode, lambda _v, result: encode_v1(result))

    async def _serve(
        self,
        request: Request,
        decode: Callable[[ModelVersion], Awaitable[np.ndarray]],
        encode: Callable[[ModelVersion, np.ndarray], bytes],
    ) -> Response:
        started = time.perf_counter()
        self._check_model(request)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        header = self.plane.limiter.header
        client_key = request.headers.get(header) if header else None
        in_flight = self.metrics.in_flight.labels(self.model)
        in_flight.inc()
        version_label, role = "none", "none"
        try:
            answer = await self.plane.infer(
                request.path_params.get("version"), client_key, decode, request_id
            )
            version_label, role = answer.version.name, answer.version.role
            response = Response(
                encode(answer.version, answer.result),
                200,
                {"x-request-id": request_id, "x-model-version": answer.version.name},
                media_type=JSON,
            )
        except Exception as exc:
            response = error_response(exc)
            response.headers["x-request-id"] = request_id
            self._count_refusal(exc)
        finally:
            in_flight.dec()
        code = str(response.status_code)
        self.metrics.requests.labels(self.model, version_label, role, code).inc()
        self.metrics.request_latency.labels(self.model, version_label, role).observe(
            time.perf_counter() - started
        )
        return response

    def _count_refusal(self, exc: Exception) -> None:
        status = status_for(exc)
        if status == 429:
            self.metrics.rate_limited.labels(self.model).inc()
        elif status == 503:
            self.metrics.shed.labels(self.model, getattr(exc, "reason", "not_ready")).inc()

    # ----------------------------------------------------------------- health and metadata

    async def server_metadata(self, request: Request) -> Response:
        return json_response(
            {"name": "modelyard", "version": self.server_version, "extensions": []}
        )

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        ready = self.plane.deployment.ready
        return json_response({"ready": ready}, 200 if ready else 400)

    async def model_ready(self, request: Request) -> Response:
        self._check_model(request)
        name = request.path_params.get("version")
        dep = self.plane.deployment
        ready = dep.get(name).ready if name else dep.ready
        return json_response({"name": self.model, "ready": ready}, 200 if ready else 400)

    async def model_metadata(self, request: Request) -> Response:
        self._check_model(request)
        dep = self.plane.deployment
        name = request.path_params.get("version")
        version = dep.get(name) if name else dep.primary
        if not version.ready and version.output_meta is None:
            raise BadRequest(f"version {version.name} of {self.model!r} is still loading")
        sig = version.runtime.signature
        out_type, out_shape = version.output_meta or (datatype_of(sig.outputs[0].dtype), [-1])
        inputs = [
            {"name": s.name, "datatype": datatype_of(s.dtype), "shape": list(s.shape)}
            for s in sig.inputs
        ]
        versions = [v.name for v in dep.versions.values() if v.role != "shadow"]
        return json_response(
            {
                "name": self.model,
                "versions": versions if not name else [version.name],
                "platform": getattr(version.runtime, "flavor", "") or "unknown",
                "inputs": inputs,
                "outputs": [
                    {"name": version.output_name, "datatype": out_type, "shape": out_shape}
                ],
            }
        )
