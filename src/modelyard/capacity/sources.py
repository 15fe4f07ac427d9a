"""Where usage history comes from, behind one small seam: ``UsageSource.usage(subject, since)``.

The local state store already has this shape (the CLI passes it in; capacity never imports
it, so the maths stay free of SQLite); ``InMemoryUsage`` is the test double; ``PrometheusUsage``
reads a Prometheus server's HTTP API (``/api/v1/query_range``) for a model on Kubernetes, summing
``container_cpu_usage_seconds_total`` (as a rate) and ``container_memory_working_set_bytes``
over the pods that carry the model's ownership labels. Trace files are read by ``traces.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.errors import Unavailable
from modelyard.observe.usage import UsageSample

__all__ = ["InMemoryUsage", "PrometheusUsage", "UsageSource", "promql_for"]


class UsageSource(Protocol):
    """Usage samples of one subject (``server:<model>``, ``train:<model>``), oldest first."""

    def usage(self, subject: str, *, since: float | None = None) -> list[UsageSample]:
        """The samples of ``subject`` from ``since`` on."""


@dataclass(slots=True)
class InMemoryUsage:
    """A usage source over a list, for tests and for samples already fetched."""

    samples: list[UsageSample] = field(default_factory=list)

    def extend(self, samples: Iterable[UsageSample]) -> None:
        self.samples.extend(samples)

    def usage(self, subject: str, *, since: float | None = None) -> list[UsageSample]:
        found = [s for s in self.samples if s.subject == subject]
        return sorted((s for s in found if since is None or s.at >= since), key=lambda s: s.at)


def promql_for(subject: str, namespace: str) -> dict[str, str]:
    """The per-replica CPU (cores) and memory (bytes) queries of a subject on Kubernetes.

    Pods are matched through kube-state-metrics' ``kube_pod_labels`` on the ownership labels
    every rendered object carries (``modelyard.dev/model``, ``app.kubernetes.io/component``);
    kube-state-metrics must allow them (``--metric-labels-allowlist=pods=[modelyard.dev/*,
    app.kubernetes.io/component]``).
    """
    kind, _, model = subject.partition(":")
    component = "server" if kind == "server" else "training"
    owner = (
        f'kube_pod_labels{{namespace="{namespace}", label_modelyard_dev_model="{model}", '
        f'label_app_kubernetes_io_component="{component}"}}'
    )
    pods = f'namespace="{namespace}", container!="", container!="POD"'
    return {
        "cpu": (
            f"avg(sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m]))"
            f" * on (pod) group_left() max by (pod) ({owner}))"
        ),
        "memory": (
            f"avg(sum by (pod) (container_memory_working_set_bytes{{{pods}}})"
            f" * on (pod) group_left() max by (pod) ({owner}))"
        ),
    }


@dataclass(slots=True)
class PrometheusUsage:
    """Usage of models on Kubernetes from a Prometheus server's ``query_range`` API."""

    url: str
    namespace: str
    step_s: float = 60.0
    clock: Callable[[], float] | None = None
    timeout_s: float = 30.0

    def usage(self, subject: str, *, since: float | None = None) -> list[UsageSample]:
        import time

        now = (self.clock or time.time)()
        start = since if since is not None else now - 8 * 86400
        queries = promql_for(subject, self.namespace)
        cpu = self._range(queries["cpu"], start, now)
        memory = self._range(queries["memory"], start, now)
        return [
            UsageSample(subject, at, cpu[at], int(memory[at]))
            for at in sorted(cpu.keys() & memory.keys())
        ]

    def _range(self, query: str, start: float, end: float) -> dict[float, float]:
        import httpx

        params: dict[str, str | float] = {
            "query": query,
            "start": start,
            "end": end,
            "step": self.step_s,
        }
        try:
            response = httpx.get(
                f"{self.url.rstrip('/')}/api/v1/query_range", params=params, timeout=self.timeout_s
            )
            response.raise_for_status()
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(f"Prometheus at {self.url} did not answer the query: {exc}") from exc
        if body.get("status") != "success":
            raise Unavailable(f"Prometheus at {self.url} refused the query: {body.get('error')}")
        points: dict[float, float] = {}
        for series in body["data"]["result"]:
            for at, value in series["values"]:
                points[float(at)] = points.get(float(at), 0.0) + float(value)
        return points
