"""Usage sources: the in-memory double, and the Prometheus reader against a loopback server
that answers ``/api/v1/query_range`` the way Prometheus does."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from modelyard.capacity import InMemoryUsage, PrometheusUsage, promql_for
from modelyard.errors import Unavailable
from modelyard.observe.usage import UsageSample


def test_in_memory_source_filters_and_sorts():
    source = InMemoryUsage(
        [
            UsageSample("server:a", 20, 1.0, 1),
            UsageSample("server:a", 10, 2.0, 2),
            UsageSample("server:b", 5, 3.0, 3),
        ]
    )
    assert [s.at for s in source.usage("server:a")] == [10, 20]
    assert [s.at for s in source.usage("server:a", since=15)] == [20]


@pytest.fixture
def prometheus():
    queries: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            params = parse_qs(urlparse(self.path).query)
            queries.append(params)
            query = params["query"][0]
            if "fail" in query:
                body = {"status": "error", "error": "bad query"}
            else:
                value = "0.25" if "cpu" in query else "1048576"
                series = [{"metric": {}, "values": [[100, value], [160, value]]}]
                body = {"status": "success", "data": {"resultType": "matrix", "result": series}}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", queries
    server.shutdown()
    server.server_close()


def test_prometheus_reader_turns_ranges_into_samples(prometheus):
    url, queries = prometheus
    source = PrometheusUsage(url, "ml", clock=lambda: 200.0)
    samples = source.usage("server:ctr", since=100.0)
    assert samples == [
        UsageSample("server:ctr", 100.0, 0.25, 1048576),
        UsageSample("server:ctr", 160.0, 0.25, 1048576),
    ]
    assert queries[0]["query"][0] == promql_for("server:ctr", "ml")["cpu"]
    assert 'label_modelyard_dev_model="ctr"' in queries[0]["query"][0]
    assert queries[0]["start"] == ["100.0"]


def test_prometheus_down_is_unavailable():
    with pytest.raises(Unavailable, match="did not answer"):
        PrometheusUsage("http://127.0.0.1:9", "ml", clock=lambda: 0.0, timeout_s=1).usage(
            "server:x"
        )
