"""HTTP handlers of the data plane: OIP v2 (infer, health, metadata) and v1 predict.

Inference handlers work on raw ASGI values (header pairs, body bytes) and return a ``Reply``,
so that the hot routes can be served without building Starlette ``Request``/``Response``
objects (see ``asgi.py``); Starlette routes wrap the same code. They decode the body with the
routed version's signature, hand it to the ``DataPlane`` and encode the answer. Every error
becomes ``{"error": ...}`` with the status from the one table in ``errors.py``, and each
request is counted under its code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.plane import DataPlane, Decode, RequestIds
from modelyard.serving.dataplane.version import ModelVersion
from modelyard.serving.protocol.codec import datatype_of, decode_v1, decode_v2, encode_v1, encode_v2
from modelyard.serving.protocol.errors import (
    BadRequest,
    ModelNotFound,
    status_for,
)
from modelyard.serving.protocol.http import (
    _CONTENT_TYPE,
    Reply,
    error_reply,
    json_response,
)
from modelyard.serving.protocol.limits import (
    MAX_REQUEST_ID_CHARS,
    OFF_LOOP_DECODE_BYTES,
    BodyTooLarge,
    declared_length,
    read_body,
)

log = logging.getLogger(__name__)


class InferenceApi:
    """The inference and metadata endpoints of the one model this app serves."""

    def __init__(self, plane: DataPlane, metrics: ServingMetrics, server_version: str) -> None:
        self.plane = plane
        self.model = plane.deployment.name
        self.metrics = metrics
        self.server_version = server_version
        self._ids: RequestIds = plane.ids
        self._in_flight = metrics.in_flight.labels(self.model)
        self._client_header = (plane.limiter.header or "").encode() or None
        self._outcomes: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.limits = plane.options.request_limits

    def too_large(self, body_bytes: int, close: bool = False) -> Reply:
        """The 413 for a body over the limit (counted); ``close`` drops the connection."""
        reply = error_reply(self.limits.too_large(body_bytes))
        if close:
            reply.headers.append((b"connection", b"close"))
        self._outcome("none", "none", reply.status)[0].inc()
        return reply

    def _check_model(self, name: str) -> None:
        if name != self.model:
            raise ModelNotFound(
                f"model {name!r} is not served here; this server serves {self.model!r}"
            )

    # ------------------------------------------------------------------------ inference

    async def infer_v2_raw(
        self, name: str, version: str | None, headers: Iterable[tuple[bytes, bytes]], body: bytes
    ) -> Reply:
        """``POST /v2/models/{name}[/versions/{version}]/infer`` on raw ASGI values."""
        length: int | None = None
        for key, value in headers:
            if key == b"inference-header-content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        request_ids: list[str | None] = []
        max_rows = self.limits.max_rows

        async def decode(target: ModelVersion) -> tuple[np.ndarray, str | None]:
            args = (body, target.runtime.signature, (target.output_name,), length, max_rows)
            if len(body) > OFF_LOOP_DECODE_BYTES:  # a large body would hold up the loop
                req = await asyncio.to_thread(decode_v2, *args)
            else:
                req = decode_v2(*args)
            request_ids.append(req.id)
            return req.rows, req.id

        def encode(target: ModelVersion, result: np.ndarray) -> bytes:
            rid = request_ids[0] if request_ids else None
            return encode_v2(self.model, target.name, target.output_name, result, rid)

        return await self._serve(name, version, headers, decode, encode)

    async def predict_v1_raw(
        self, name: str, headers: Iterable[tuple[bytes, bytes]], body: bytes
    ) -> Reply:
        """``POST /v1/models/{name}:predict`` on raw ASGI values."""

        max_rows = self.limits.max_rows

        async def decode(target: ModelVersion) -> tuple[np.ndarray, str | None]:
            sig = target.runtime.signature
            if len(body) > OFF_LOOP_DECODE_BYTES:
                return await asyncio.to_thread(decode_v1, body, sig, max_rows), None
            return decode_v1(body, sig, max_rows), None

        return await self._serve(name, None, headers, decode, lambda _v, result: encode_v1(result))

    async def _body(self, request: Request) -> bytes | Reply:
        headers = request.headers.raw
        try:
            body = await read_body(
                request.receive, self.limits.max_body_bytes, declared_length(headers)
            )
        except BodyTooLarge as exc:
            return self.too_large(exc.size, close=not exc.drained)
        return b"" if body is None else body

    async def infer_v2(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Reply):
            return body.response()
        params = request.path_params
        reply = await self.infer_v2_raw(
            params["name"], params.get("version"), request.headers.raw, body
        )
        return reply.response()

    async def predict_v1(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Reply):
            return body.response()
        reply = await self.predict_v1_raw(request.path_params["name"], request.headers.raw, body)
        return reply.response()

    async def _serve(
        self,
        name: str,
        version: str | None,
        headers: Iterable[tuple[bytes, bytes]],
        decode: Decode,
        encode: Callable[[ModelVersion, np.ndarray], bytes],
    ) -> Reply:
        started = time.perf_counter()
        request_id: str | None = None
        client_key: str | None = None
        client_header = self._client_header
        for key, value in headers:
            if key == b"x-request-id":
                request_id = value.decode("latin-1") or None
            elif key == client_header:
                client_key = value.decode("latin-1")
        self._in_flight.inc()
        version_label, role = "none", "none"
        try:
            if request_id is not None and len(request_id) > MAX_REQUEST_ID_CHARS:
                size, request_id = len(request_id), None  # never echoed back
                raise BadRequest(
                    f"the x-request-id header is {size:,} characters; "
                    f"send at most {MAX_REQUEST_ID_CHARS}"
                )
            self._check_model(name)
            answer = await self.plane.infer(version, client_key, decode, request_id)
            version_label, role = answer.version.name, answer.version.role
            reply = Reply(
                200,
                [
                    _CONTENT_TYPE,
                    (b"x-request-id", answer.request_id.encode("latin-1", "replace")),
                    (b"x-model-version", version_label.encode()),
                ],
                encode(answer.version, answer.result),
            )
        except Exception as exc:
            reply = error_reply(exc, request_id or self._ids.next())
            self._count_refusal(exc)
        finally:
            self._in_flight.dec()
        requests, latency = self._outcome(version_label, role, reply.status)
        requests.inc()
        latency.observe(time.perf_counter() - started)
        return reply

    def _outcome(self, version: str, role: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram of an outcome (label lookups cached)."""
        key = (version, role, status)
        found = self._outcomes.get(key)
        if found is None:
            m = self.metrics
            found = self._outcomes[key] = (
                m.requests.labels(self.model, version, role, str(status)),
                m.request_latency.labels(self.model, version, role),
            )
        return found

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
        deployment = self.plane.deployment
        if not deployment.ready and deployment.load_error is not None:
            error = f"the primary version failed to load: {deployment.load_error}"
            return json_response({"ready": False, "error": error}, 503)
        ready = deployment.ready
        return json_response({"ready": ready}, 200 if ready else 400)

    async def model_ready(self, request: Request) -> Response:
        self._check_model(request.path_params["name"])
        name = request.path_params.get("version")
        dep = self.plane.deployment
        ready = dep.get(name).ready if name else dep.ready
        return json_response({"name": self.model, "ready": ready}, 200 if ready else 400)

    async def model_metadata(self, request: Request) -> Response:
        self._check_model(request.path_params["name"])
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
