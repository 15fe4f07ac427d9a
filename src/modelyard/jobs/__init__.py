"""Jobs: a JobSpec and its runners (a local subprocess here, a Kubernetes Job in k8s)."""

from modelyard.jobs.local import LocalRunner
from modelyard.jobs.spec import JobResult, JobSpec, LineSink, Runner, UsageSample
from modelyard.jobs.usage import ProcessTreeSampler
from modelyard.jobs.watchdog import Watchdog

__all__ = [
    "JobResult",
    "JobSpec",
    "LineSink",
    "LocalRunner",
    "ProcessTreeSampler",
    "Runner",
    "UsageSample",
    "Watchdog",
]
