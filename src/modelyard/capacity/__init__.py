"""Capacity: usage history, right-sizing (modelyard, VPA baseline, static), replay on traces,
cost per team, and the edit of ``deploy.yaml`` that applies a recommendation. Pure maths over
usage samples: the CLI fetches the samples and passes them in."""

from modelyard.capacity.cost import CostLine, Requests, cost_report
from modelyard.capacity.deploy_edit import cpu_quantity, edit_resources, memory_quantity
from modelyard.capacity.recommendation import (
    Estimate,
    Policy,
    Provisioned,
    Recommendation,
    Recommender,
    respect_hpa,
)
from modelyard.capacity.replay import replay_series, replay_trace
from modelyard.capacity.rightsizer import ModelyardPolicy, ModelyardSettings, StaticPolicy
from modelyard.capacity.sources import InMemoryUsage, PrometheusUsage, UsageSource, promql_for
from modelyard.capacity.traces import TraceError, read_bitbrains, read_gentd26
from modelyard.capacity.vpa import VpaPolicy, VpaSettings

__all__ = [
    "CostLine",
    "Estimate",
    "InMemoryUsage",
    "ModelyardPolicy",
    "ModelyardSettings",
    "Policy",
    "PrometheusUsage",
    "Provisioned",
    "Recommendation",
    "Recommender",
    "Requests",
    "StaticPolicy",
    "TraceError",
    "UsageSource",
    "VpaPolicy",
    "VpaSettings",
    "cost_report",
    "cpu_quantity",
    "edit_resources",
    "memory_quantity",
    "promql_for",
    "read_bitbrains",
    "read_gentd26",
    "replay_series",
    "replay_trace",
    "respect_hpa",
]
