"""Observe: metric names, evaluation metrics, dashboards and alert rules."""

from modelyard.observe import names

__all__ = ["names"]
