"""The names of modelyard's Prometheus metrics and their labels, in one place.

The model server exports them, the rollout analysis and the Kubernetes ``AnalysisTemplate``
query them, and the alert rules and dashboards read them; all import the names from here.
Labels: ``model`` (model id), ``version`` (registry version), ``role`` (primary, canary,
shadow), ``code`` (HTTP status).
"""

from __future__ import annotations

PREFIX = "modelyard"

REQUESTS = f"{PREFIX}_requests_total"
"""Counter{model, version, role, code}: requests answered (shadow: mirrored copies run)."""
GRPC_REQUESTS = f"{PREFIX}_grpc_requests_total"
"""Counter{model, grpc_code}: the requests of ``REQUESTS`` that came over gRPC (which counts
them too, under their HTTP-equivalent ``code``), by gRPC status code name."""
REQUEST_LATENCY = f"{PREFIX}_request_duration_seconds"
"""Histogram{model, version, role}: time from request received to response sent."""
INFERENCE_LATENCY = f"{PREFIX}_inference_duration_seconds"
"""Histogram{model, version, role}: time of the model call (one batch)."""
QUEUE_LATENCY = f"{PREFIX}_queue_duration_seconds"
"""Histogram{model, version}: time a request waited for its batch or a slot."""
BATCH_SIZE = f"{PREFIX}_batch_size"
"""Histogram{model, version}: rows per model call."""
IN_FLIGHT = f"{PREFIX}_in_flight"
"""Gauge{model}: requests in progress."""
RATE_LIMITED = f"{PREFIX}_rate_limited_total"
"""Counter{model}: requests refused with 429 by the rate limiter."""
SHED = f"{PREFIX}_shed_total"
"""Counter{model, reason}: requests refused with 503 (reason: queue_timeout, breaker_open)."""
BREAKER_STATE = f"{PREFIX}_breaker_state"
"""Gauge{model}: 0 closed, 1 open, 2 half-open."""
BREAKER_TRANSITIONS = f"{PREFIX}_breaker_transitions_total"
"""Counter{model, from_state, to_state}: every breaker transition."""
SHADOW_COMPARED = f"{PREFIX}_shadow_compared_total"
"""Counter{model, version}: shadow predictions compared with the primary's."""
SHADOW_DIVERGED = f"{PREFIX}_shadow_diverged_total"
"""Counter{model, version}: shadow predictions that differed from the primary's."""
SHADOW_ERRORS = f"{PREFIX}_shadow_errors_total"
"""Counter{model, version}: shadow calls that raised."""
PREDICTION_LOG_DROPPED = f"{PREFIX}_prediction_log_dropped_total"
"""Counter{model}: prediction-log records dropped because the buffer was full."""
PREDICTION_LOG_WRITTEN = f"{PREFIX}_prediction_log_written_total"
"""Counter{model}: prediction-log records written to Parquet."""
PREDICTION_LOG_DELIVERED = f"{PREFIX}_prediction_log_delivered_total"
"""Counter{model}: prediction records the Kafka brokers acknowledged."""
PREDICTION_LOG_SPILLED = f"{PREFIX}_prediction_log_spilled_total"
"""Counter{model}: prediction records the brokers did not take in time, spilled to Parquet."""
PREDICTION_LOG_BROKER_UP = f"{PREFIX}_prediction_log_broker_up"
"""Gauge{model}: 1 while the last record reached the Kafka brokers, 0 after one was spilled."""
MODEL_READY = f"{PREFIX}_model_ready"
"""Gauge{model, version, role}: 1 once warm-up has run."""

ROLES = ("primary", "canary", "shadow")

FEEDBACK_FORWARDED = f"{PREFIX}_feedback_forwarded_total"
"""Counter{model, result}: outcomes forwarded to the Kafka outcomes topic (result:
``delivered``, ``failed``, or ``skipped`` for per-row outcomes)."""
FEEDBACK_OUTCOMES = f"{PREFIX}_feedback_outcomes_total"
"""Counter{model, version, outcome}: outcomes joined to a prediction by request id (outcome:
``positive``, a click, or ``negative``). Click rate = positive / all, per version."""
FEEDBACK_PREDICTED = f"{PREFIX}_feedback_predicted_total"
"""Counter{model, version}: sum of the predicted probabilities of the joined predictions.
Calibration = predicted / positive (1.0 when the model's probabilities match what happened)."""
FEEDBACK_UNMATCHED = f"{PREFIX}_feedback_unmatched_total"
"""Counter{model}: outcomes whose request id the server no longer (or never) held."""

OUTCOMES = ("positive", "negative")
