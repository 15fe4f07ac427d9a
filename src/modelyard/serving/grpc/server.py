"""The ``grpc.aio`` server of the gRPC front end, started on the caller's event loop.

It runs on the loop that runs uvicorn, so that its handlers call the very ``DataPlane`` the
HTTP handlers call, with no locks and no second copy of the model. The largest message it
accepts is the REST body limit (``request_limits.max_body``): gRPC refuses a larger one with
RESOURCE_EXHAUSTED before parsing it.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from modelyard.errors import ConfigError
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.plane import DataPlane
from modelyard.serving.grpc.service import InferenceService
from modelyard.serving.protocol.limits import MAX_HEADER_BYTES
from modelyard.serving.protocol.oip.open_inference_grpc_pb2_grpc import (
    add_GRPCInferenceServiceServicer_to_server,
)


@dataclass(frozen=True)
class GrpcServer:
    """A started gRPC server and the port it bound (the one asked for, or a free one for 0)."""

    server: grpc.aio.Server
    port: int

    async def stop(self, grace_s: float) -> None:
        """Stop taking calls; let those in progress finish for up to ``grace_s`` seconds."""
        await self.server.stop(grace_s)


def address(host: str, port: int) -> str:
    """``host:port`` as gRPC wants it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


async def start_grpc(
    plane: DataPlane,
    metrics: ServingMetrics,
    server_version: str,
    host: str,
    port: int,
    shared_port: bool = False,
) -> GrpcServer:
    """Start serving ``plane`` over gRPC on ``host:port`` (on the running event loop).

    ``shared_port`` lets the worker processes of one server bind the same port (the kernel
    spreads connections over them); otherwise a port already taken is an error, as it is for
    uvicorn, rather than silently shared with another server.
    """
    options = [
        ("grpc.max_receive_message_length", plane.options.request_limits.max_body_bytes),
        ("grpc.max_metadata_size", MAX_HEADER_BYTES),
        ("grpc.so_reuseport", 1 if shared_port else 0),
    ]
    server = grpc.aio.server(options=options)
    service = InferenceService(plane, metrics, server_version)
    add_GRPCInferenceServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    try:
        bound = server.add_insecure_port(address(host, port))
    except RuntimeError as exc:
        raise ConfigError(
            f"cannot listen for gRPC on {address(host, port)}: {exc}; "
            "choose another --grpc-port or stop what holds it"
        ) from exc
    if bound == 0:  # older grpcio answers 0 rather than raising
        raise ConfigError(
            f"cannot listen for gRPC on {address(host, port)}; "
            "choose another --grpc-port or stop what holds it"
        )
    await server.start()
    return GrpcServer(server, bound)
