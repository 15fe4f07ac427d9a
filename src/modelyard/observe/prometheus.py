"""A Prometheus server for a local workspace: a generated scrape config, start, stop, query.

``modelyard up`` (with ``observability.prometheus: true``) starts one beside the local model
servers, scraping each on loopback, so that the same dashboards, alert expressions and
analysis queries that run on Kubernetes run locally. The binary is Debian's ``prometheus``
(or any on ``PATH``); data lives under the workspace's ``.modelyard/prometheus/``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from modelyard.errors import NotFound, Unavailable

BINARY = "prometheus"
JOB = "modelyard"


class PrometheusNotInstalled(NotFound):
    """No ``prometheus`` binary: install Debian's ``prometheus`` package."""


class PrometheusUnavailable(Unavailable):
    """Prometheus did not start, or did not answer a query."""


@dataclass(frozen=True)
class ScrapeTarget:
    """One ``/metrics`` endpoint and the labels every series scraped from it gets."""

    address: str
    """``host:port``."""
    labels: Mapping[str, str] = field(default_factory=dict)


def local_targets(ports: Mapping[str, int], host: str = "127.0.0.1") -> list[ScrapeTarget]:
    """Targets for local model servers, from model id -> port (the state store's)."""
    return [
        ScrapeTarget(f"{host}:{port}", {"model_server": model}) for model, port in ports.items()
    ]


def scrape_config(
    targets: Iterable[ScrapeTarget],
    interval_s: float = 15.0,
    rule_files: Sequence[Path] = (),
) -> dict[str, Any]:
    """The ``prometheus.yml`` that scrapes every target under job ``modelyard``."""
    interval = f"{max(round(interval_s * 1000), 100)}ms"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [t.address], "labels": dict(t.labels)} for t in targets
                ],
            }
        ],
    }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrometheusServer:
    """A running Prometheus process; :meth:`stop` ends it."""

    url: str
    process: subprocess.Popen[bytes]
    config_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def reload(self, config: Mapping[str, Any]) -> None:
        """Write a new config and have Prometheus read it (``/-/reload``)."""
        self.config_path.write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
        httpx.post(f"{self.url}/-/reload", timeout=10).raise_for_status()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector: ``[{"metric": {...}, "value": [t, "v"]}]``."""
        try:
            reply = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"Prometheus at {self.url}: {exc}") from exc
        body = reply.json()
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"query {expr!r} failed: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def start(
    config: Mapping[str, Any],
    directory: Path,
    port: int | None = None,
    binary: str | None = None,
    ready_timeout_s: float = 60.0,
    detach: bool = False,
) -> PrometheusServer:
    """Write ``config`` under ``directory``, start Prometheus on loopback, wait until ready.

    ``detach`` starts it in a session of its own, so that it outlives the command that
    started it (``modelyard up``) and no terminal signal reaches it.
    """
    exe = shutil.which(binary or BINARY)
    if exe is None:
        raise PrometheusNotInstalled(
            "no 'prometheus' binary on PATH: install it (apt-get install -y prometheus)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
    address = f"127.0.0.1:{port or free_port()}"
    log = (directory / "prometheus.log").open("ab")
    process = subprocess.Popen(
        [
            exe,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={address}",
            "--web.enable-lifecycle",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=detach,
    )
    log.close()
    server = PrometheusServer(f"http://{address}", process, config_path)
    deadline = time.monotonic() + ready_timeout_s
    while True:
        if process.poll() is not None:
            raise PrometheusUnavailable(
                f"prometheus exited with {process.returncode}; see {directory / 'prometheus.log'}"
            )
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise PrometheusUnavailable(f"prometheus on {address} not ready in {ready_timeout_s}s")
        time.sleep(0.1)
