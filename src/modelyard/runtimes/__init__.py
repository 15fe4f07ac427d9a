"""Runtimes: the runtime catalog made into environments (a local interpreter, an image)."""

from modelyard.runtimes.environment import LocalEnvironment, image_for, local_environment
from modelyard.runtimes.images import ImageSpec, base_image, containerfile, image_spec
from modelyard.runtimes.index import pinned_images

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
