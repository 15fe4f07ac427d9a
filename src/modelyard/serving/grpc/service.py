"""The OIP v2 ``GRPCInferenceService`` on a ``DataPlane``: the gRPC twin of ``rest/handlers``.

Each RPC does what its REST route does, on the same ``DataPlane`` object, so admission (rate
limit, breaker, in-flight slots), routing, batching, warm-up, readiness, metrics and the
prediction log are shared, not copied. Requests are counted in the same ``requests`` counter
and latency histogram as REST, under the HTTP-equivalent ``code`` (so the error-rate alert and
the canary analysis see gRPC traffic too), and in ``grpc_requests`` by gRPC code. Errors are
answered with the gRPC code ``grpc_code_for`` derives from the error's HTTP status, the message
as details, and ``retry-after`` / ``x-request-id`` as trailing metadata.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import numpy as np

from modelyard.errors import ModelyardError
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.plane import DataPlane
from modelyard.serving.dataplane.version import ModelVersion
from modelyard.serving.protocol.codec import datatype_of
from modelyard.serving.protocol.errors import (
    BadRequest,
    ModelNotFound,
    grpc_code_for,
    grpc_code_for_status,
    retry_after_header,
    status_for,
)
from modelyard.serving.protocol.grpc_codec import decode_infer, encode_infer
from modelyard.serving.protocol.limits import MAX_REQUEST_ID_CHARS, OFF_LOOP_DECODE_BYTES
from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.oip.open_inference_grpc_pb2_grpc import (
    GRPCInferenceServiceServicer,
)

log = logging.getLogger(__name__)
Reply = TypeVar("Reply")
_CODES = {code.name: code for code in grpc.StatusCode}


class InferenceService(GRPCInferenceServiceServicer):
    """The six OIP v2 RPCs of the one model a server serves."""

    def __init__(self, plane: DataPlane, metrics: ServingMetrics, server_version: str) -> None:
        self.plane = plane
        self.model = plane.deployment.name
        self.metrics = metrics
        self.server_version = server_version
        self.limits = plane.options.request_limits
        self._in_flight = metrics.in_flight.labels(self.model)
        self._client_key = (plane.limiter.header or "").lower() or None
        self._outcomes: dict[tuple[str, str, int, str], tuple[Any, Any, Any]] = {}

    def _check_model(self, name: str) -> None:
        if name != self.model:
            raise ModelNotFound(
                f"model {name!r} is not served here; this server serves {self.model!r}"
            )

    # ------------------------------------------------------------------------ inference

    # the methods are named as the OIP proto names its RPCs
    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        started = time.perf_counter()
        request_id: str | None = None
        client_key: str | None = None
        for key, value in context.invocation_metadata() or ():
            if key == "x-request-id":
                request_id = value or None
            elif key == self._client_key:
                client_key = value
        self._in_flight.inc()
        version_label, role, status = "none", "none", 200
        try:
            if request_id is not None and len(request_id) > MAX_REQUEST_ID_CHARS:
                size, request_id = len(request_id), None  # never echoed back
                raise BadRequest(
                    f"the x-request-id metadata is {size:,} characters; "
                    f"send at most {MAX_REQUEST_ID_CHARS}"
                )
            self._check_model(request.model_name)
            answer = await self.plane.infer(
                request.model_version or None, client_key, self._decoder(request), request_id
            )
            target = answer.version
            version_label, role = target.name, target.role
            # as over REST: the message's id is echoed (OIP), the request id that the
            # prediction log holds (the x-request-id metadata, else that id, else a new one)
            # comes back as x-request-id
            response = encode_infer(
                self.model,
                target.name,
                target.output_name,
                answer.result,
                request.id or answer.request_id,
            )
            if _metadata_safe(answer.request_id):
                context.set_trailing_metadata((("x-request-id", answer.request_id),))
        except Exception as exc:
            status = status_for(exc)
            response = pb.ModelInferResponse()
            self._refuse(context, exc, request_id or self.plane.ids.next())
        finally:
            self._in_flight.dec()
        requests, grpc_requests, latency = self._outcome(version_label, role, status)
        requests.inc()
        grpc_requests.inc()
        latency.observe(time.perf_counter() - started)
        return response

    def _decoder(
        self, request: pb.ModelInferRequest
    ) -> Callable[[ModelVersion], Awaitable[tuple[np.ndarray, str | None]]]:
        max_rows = self.limits.max_rows

        async def decode(target: ModelVersion) -> tuple[np.ndarray, str | None]:
            args = (request, target.runtime.signature, (target.output_name,), max_rows)
            if request.ByteSize() > OFF_LOOP_DECODE_BYTES:  # a large one would hold up the loop
                decoded = await asyncio.to_thread(decode_infer, *args)
            else:
                decoded = decode_infer(*args)
            return decoded.rows, decoded.id

        return decode

    def _refuse(self, context: grpc.aio.ServicerContext, exc: Exception, request_id: str) -> None:
        """Answer ``exc`` as a gRPC status; count refusals as the REST path counts them."""
        code = grpc_code_for(exc)
        if code == "INTERNAL" and not isinstance(exc, ModelyardError):
            log.exception("unexpected error", exc_info=exc)
        message = str(exc) if isinstance(exc, ModelyardError) else f"internal error: {exc!r}"
        context.set_code(_CODES[code])
        context.set_details(message)
        trailing = list(retry_after_header(exc).items())
        if _metadata_safe(request_id):
            trailing.append(("x-request-id", request_id))
        context.set_trailing_metadata(tuple(trailing))
        status = status_for(exc)
        if status == 429:
            self.metrics.rate_limited.labels(self.model).inc()
        elif status == 503:
            self.metrics.shed.labels(self.model, getattr(exc, "reason", "not_ready")).inc()

    def _outcome(self, version: str, role: str, status: int) -> tuple[Any, Any, Any]:
        """The counters and histogram of an outcome (label lookups cached)."""
        code = grpc_code_for_status(status)
        key = (version, role, status, code)
        found = self._outcomes.get(key)
        if found is None:
            m = self.metrics
            found = self._outcomes[key] = (
                m.requests.labels(self.model, version, role, str(status)),
                m.grpc_requests.labels(self.model, code),
                m.request_latency.labels(self.model, version, role),
            )
        return found

    # ----------------------------------------------------------------- health and metadata

    async def ServerLive(
        self, request: pb.ServerLiveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(
        self, request: pb.ServerReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.plane.deployment.ready)

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name="modelyard", version=self.server_version)

    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelReadyResponse:
        return await self._guarded(context, self._model_ready(request), pb.ModelReadyResponse)

    async def _model_ready(self, request: pb.ModelReadyRequest) -> pb.ModelReadyResponse:
        self._check_model(request.name)
        dep = self.plane.deployment
        ready = dep.get(request.version).ready if request.version else dep.ready
        return pb.ModelReadyResponse(ready=ready)

    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelMetadataResponse:
        return await self._guarded(context, self._model_metadata(request), pb.ModelMetadataResponse)

    async def _model_metadata(self, request: pb.ModelMetadataRequest) -> pb.ModelMetadataResponse:
        self._check_model(request.name)
        dep = self.plane.deployment
        version = dep.get(request.version) if request.version else dep.primary
        if not version.ready and version.output_meta is None:
            raise BadRequest(f"version {version.name} of {self.model!r} is still loading")
        sig = version.runtime.signature
        out_type, out_shape = version.output_meta or (datatype_of(sig.outputs[0].dtype), [-1])
        tensor = pb.ModelMetadataResponse.TensorMetadata
        versions = [v.name for v in dep.versions.values() if v.role != "shadow"]
        return pb.ModelMetadataResponse(
            name=self.model,
            versions=[version.name] if request.version else versions,
            platform=getattr(version.runtime, "flavor", "") or "unknown",
            inputs=[
                tensor(name=s.name, datatype=datatype_of(s.dtype), shape=s.shape)
                for s in sig.inputs
            ],
            outputs=[tensor(name=version.output_name, datatype=out_type, shape=out_shape)],
        )

    async def _guarded(
        self,
        context: grpc.aio.ServicerContext,
        answer: Awaitable[Reply],
        empty: Callable[[], Reply],
    ) -> Reply:
        """``answer``, or its error as a gRPC status (with an empty reply that is not sent)."""
        try:
            return await answer
        except Exception as exc:
            self._refuse(context, exc, self.plane.ids.next())
            return empty()


def _metadata_safe(value: str) -> bool:
    """Whether ``value`` may be a gRPC metadata value (printable ASCII); an id from the message
    may be any text, and an invalid value would fail the whole call."""
    return value.isascii() and value.isprintable()
