"""The Prometheus launcher that ``modelyard up`` uses: a generated scrape config for local
servers, a process that starts, scrapes them and stops, and clear errors when it cannot.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from observe_bed import Stack, prometheus_binary

from modelyard.observe import prometheus


def test_scrape_config_lists_every_local_server() -> None:
    targets = prometheus.local_targets({"ctr": 8101, "ranker": 8102})
    config = prometheus.scrape_config(targets, interval_s=5)
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "modelyard"
    assert [c["targets"] for c in job["static_configs"]] == [["127.0.0.1:8101"], ["127.0.0.1:8102"]]
    assert [c["labels"] for c in job["static_configs"]] == [
        {"model_server": "ctr"},
        {"model_server": "ranker"},
    ]
    assert config["global"]["scrape_interval"] == "5000ms"
    yaml.safe_dump(config)  # plain data, as prometheus.yml


def test_a_started_prometheus_scrapes_a_local_server(stack: Stack, tmp_path: Path) -> None:
    port = int(stack.stable.url.rsplit(":", 1)[1])
    config = prometheus.scrape_config(prometheus.local_targets({"ctr": port}), interval_s=1)
    server = prometheus.start(config, tmp_path / "prom", binary=prometheus_binary())
    try:
        deadline_check = Stack(server, stack.stable, stack.canary, stack.namespace)
        (up,) = deadline_check.wait_for('up{model_server="ctr"} == 1')
        assert up["metric"]["job"] == "modelyard"
        deadline_check.wait_for('modelyard_requests_total{model_server="ctr", model="ctr"}')
    finally:
        server.stop()
    assert server.process.poll() is not None


def test_missing_binary_and_bad_config_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(prometheus.PrometheusNotInstalled, match="apt-get install"):
        prometheus.start({}, tmp_path / "a", binary="/nonexistent/prometheus")
    bad = {"global": {"scrape_interval": "not a duration"}}
    with pytest.raises(prometheus.PrometheusUnavailable, match="exited"):
        prometheus.start(bad, tmp_path / "b", binary=prometheus_binary())
