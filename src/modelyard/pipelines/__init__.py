"""Pipelines: a model's train, evaluate, gate, register and deploy steps, run once, on its
cron schedule by the local scheduler, or exported as an Airflow DAG; with their history."""

from modelyard.config.cron import BadSchedule, Cron
from modelyard.pipelines.airflow import export_airflow
from modelyard.pipelines.engine import PipelineBusy, PipelineResult, run_pipeline, run_step
from modelyard.pipelines.history import PipelineHistory, RunRecord, StepRecord
from modelyard.pipelines.scheduler import Scheduler, run_due_pipelines, start_scheduler
from modelyard.pipelines.steps import STEP_NAMES, StepContext, StepFailed

__all__ = [
    "STEP_NAMES",
    "BadSchedule",
    "Cron",
    "PipelineBusy",
    "PipelineHistory",
    "PipelineResult",
    "RunRecord",
    "Scheduler",
    "StepContext",
    "StepFailed",
    "StepRecord",
    "export_airflow",
    "run_due_pipelines",
    "run_pipeline",
    "run_step",
    "start_scheduler",
]
