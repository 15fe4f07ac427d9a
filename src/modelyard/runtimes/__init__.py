"""Runtimes: the runtime catalog made into environments (a local interpreter, an image)."""

from modelyard.runtimes.environment import LocalEnvironment, image_for, local_environment

__all__ = ["LocalEnvironment", "image_for", "local_environment"]
