"""A stand-in for cAdvisor and kube-state-metrics, which need a cluster to run.

It exports the standard series (``container_cpu_usage_seconds_total``,
``container_memory_working_set_bytes``, ``kube_pod_container_resource_requests|limits``,
``kube_pod_labels``, ``kube_pod_status_ready|phase``, ``kube_horizontalpodautoscaler_*``) for the
pods of a *rendered* Rollout: labels, requests and limits come from the manifests modelyard
renders, and CPU and memory are the real figures of this process, which hosts the servers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server

from modelyard.config.quantity import cpu_millis, memory_bytes


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    container: Mapping[str, Any]


def _ksm_label(key: str) -> str:
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


class ClusterStandIn:
    def __init__(self, pods: list[Pod], hpa: Mapping[str, Any]) -> None:
        self.pods = pods
        self.hpa = hpa
        self.process = psutil.Process()

    def collect(self) -> Iterator[Metric]:
        pod_keys = ["namespace", "pod", "container"]
        cpu = CounterMetricFamily("container_cpu_usage_seconds_total", "CPU.", labels=pod_keys)
        mem = GaugeMetricFamily("container_memory_working_set_bytes", "Memory.", labels=pod_keys)
        res_keys = [*pod_keys, "resource", "unit"]
        req = GaugeMetricFamily("kube_pod_container_resource_requests", "Req.", labels=res_keys)
        lim = GaugeMetricFamily("kube_pod_container_resource_limits", "Lim.", labels=res_keys)
        ready = GaugeMetricFamily(
            "kube_pod_status_ready", "Ready.", labels=["namespace", "pod", "condition"]
        )
        phase = GaugeMetricFamily(
            "kube_pod_status_phase", "Phase.", labels=["namespace", "pod", "phase"]
        )
        label_keys = sorted({k for pod in self.pods for k in pod.labels})
        pod_labels = GaugeMetricFamily(
            "kube_pod_labels", "Labels.", labels=["namespace", "pod", *map(_ksm_label, label_keys)]
        )
        times = self.process.cpu_times()
        rss = self.process.memory_info().rss
        for pod in self.pods:
            ids = [pod.namespace, pod.name, pod.container["name"]]
            cpu.add_metric(ids, times.user + times.system)
            mem.add_metric(ids, rss)
            resources = pod.container["resources"]
            for family, key in ((req, "requests"), (lim, "limits")):
                values = resources.get(key, {})
                if "cpu" in values:
                    family.add_metric([*ids, "cpu", "core"], cpu_millis(values["cpu"]) / 1000)
                if "memory" in values:
                    family.add_metric([*ids, "memory", "byte"], memory_bytes(values["memory"]))
            ready.add_metric([pod.namespace, pod.name, "true"], 1)
            for name in ("Pending", "Running", "Succeeded", "Failed"):
                phase.add_metric([pod.namespace, pod.name, name], float(name == "Running"))
            pod_labels.add_metric(
                [pod.namespace, pod.name, *(pod.labels.get(k, "") for k in label_keys)], 1
            )
        yield from (cpu, mem, req, lim, ready, phase, pod_labels)
        hpa_ids = [self.hpa["metadata"]["namespace"], self.hpa["metadata"]["name"]]
        for name, value in (
            ("status_current_replicas", len(self.pods)),
            ("status_desired_replicas", len(self.pods)),
            ("spec_max_replicas", self.hpa["spec"]["maxReplicas"]),
        ):
            family = GaugeMetricFamily(
                f"kube_horizontalpodautoscaler_{name}",
                "HPA.",
                labels=["namespace", "horizontalpodautoscaler"],
            )
            family.add_metric(hpa_ids, value)
            yield family


def serve_standin(standin: ClusterStandIn) -> tuple[Any, int]:
    """Serve the stand-in's metrics on an ephemeral loopback port."""
    registry = CollectorRegistry()
    registry.register(standin)  # type: ignore[arg-type]
    httpd, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    return httpd, httpd.server_port
