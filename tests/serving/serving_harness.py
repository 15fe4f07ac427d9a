"""A real uvicorn server on an ephemeral loopback port, run in a thread, for the serving tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from modelyard.serving import ModelSource, ServerOptions, create_app
from modelyard.serving.process.server import with_grpc


@dataclass
class Running:
    url: str
    app: Any
    server: uvicorn.Server
    grpc_port: int | None = None
    """The gRPC front end's port, when served with ``grpc=True``."""

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)


@contextlib.contextmanager
def serve(
    primary: ModelSource,
    options: ServerOptions | None = None,
    loader: Callable[[str, str], ModelSource] | None = None,
    wait_ready: bool = True,
    grpc: bool = False,
) -> Iterator[Running]:
    """Run ``create_app`` under uvicorn in a thread on an ephemeral loopback port (and the
    gRPC front end on another, with ``grpc``)."""
    app = create_app(primary, options or ServerOptions(), loader)
    if grpc:
        with_grpc(app, "127.0.0.1", 0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    running = Running(f"http://127.0.0.1:{port}", app, server)
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        assert thread.is_alive(), "the server thread ended before it started"
        time.sleep(0.02)
    running.grpc_port = getattr(app.state, "grpc_port", None)
    if wait_ready:
        with running.client() as client:
            while client.get("/v2/health/ready").status_code != 200:
                assert time.monotonic() < deadline, "model did not become ready"
                time.sleep(0.05)
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
