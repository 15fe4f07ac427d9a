"""Environments: the runtimes of ``runtimes.yaml`` made into something that runs: a local
interpreter (a venv, uv-locked) or an image (``modelyard images build``). Framework runtimes,
the code that loads and calls a model, are ``modelyard.serving.runtimes``."""

from modelyard.environments.environment import LocalEnvironment, image_for, local_environment
from modelyard.environments.images import ImageSpec, base_image, containerfile, image_spec
from modelyard.environments.index import pinned_images

__all__ = [
    "ImageSpec",
    "LocalEnvironment",
    "base_image",
    "containerfile",
    "image_for",
    "image_spec",
    "local_environment",
    "pinned_images",
]
