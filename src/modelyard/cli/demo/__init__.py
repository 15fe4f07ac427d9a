"""The demo: the whole lifecycle on the local backend, narrated (``modelyard demo``)."""

from modelyard.cli.demo.lifecycle import run_demo

__all__ = ["run_demo"]
