"""The image of a runtime before anything is built: base, requirements, Containerfile, tag."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

import modelyard
from modelyard.config import Runtime
from modelyard.environments import base_image, containerfile, image_for, image_spec
from modelyard.environments.images import (
    POD_REQUIREMENTS,
    WORKSTATION_ONLY,
    content_hash,
    image_requirements,
    requirement_name,
)
from modelyard.environments.wheel import build_wheel, package_dir

REGISTRY = "registry.example.com/modelyard"
SKLEARN = Runtime(packages=["scikit-learn>=1.5", "mlflow>=3.0"])


def test_tag_is_registry_runtime_python_and_a_hash_and_never_changes_for_the_same_spec() -> None:
    tag = image_for("sklearn-cpu", SKLEARN, REGISTRY)

    assert re.fullmatch(rf"{REGISTRY}/sklearn-cpu:3\.11-[0-9a-f]{{12}}", tag)
    assert image_for("sklearn-cpu", Runtime(packages=list(SKLEARN.packages)), REGISTRY) == tag
    assert image_spec("sklearn-cpu", SKLEARN, REGISTRY + "/").tag == tag


@pytest.mark.parametrize(
    "changed",
    [
        Runtime(packages=["scikit-learn>=1.6", "mlflow>=3.0"]),
        Runtime(python="3.12", packages=SKLEARN.packages),
        Runtime(packages=SKLEARN.packages, base="localhost/modelyard-base:bookworm"),
        Runtime(packages=SKLEARN.packages, cuda="12.4"),
    ],
)
def test_a_change_to_what_goes_in_changes_the_tag(changed: Runtime) -> None:
    assert image_for("sklearn-cpu", changed, REGISTRY) != image_for(
        "sklearn-cpu", SKLEARN, REGISTRY
    )


def test_the_notebook_image_is_its_own_repository_under_the_runtimes_tag() -> None:
    plain = image_spec("sklearn-cpu", SKLEARN, REGISTRY)
    notebook = image_spec("sklearn-cpu", SKLEARN, REGISTRY, notebook=True)

    # same tag, own repository: the notebook renderer derives one name from the other
    assert notebook.tag == plain.tag.replace("/sklearn-cpu:", "/sklearn-cpu-notebook:")
    assert image_for("sklearn-cpu", SKLEARN, REGISTRY, notebook=True) == notebook.tag
    assert notebook.spec_hash() != plain.spec_hash()
    assert "notebook.lock" in containerfile(notebook)
    assert "notebook.lock" not in containerfile(plain)


def test_an_explicit_image_wins_and_a_pushed_digest_replaces_the_tag() -> None:
    own = Runtime(image="ghcr.io/acme/sk:1")
    assert image_for("sklearn-cpu", own, REGISTRY) == "ghcr.io/acme/sk:1"

    tag = image_for("sklearn-cpu", SKLEARN, REGISTRY)
    pinned = {tag: f"{REGISTRY}/sklearn-cpu@sha256:{'a' * 64}"}
    assert image_for("sklearn-cpu", SKLEARN, REGISTRY, pinned) == pinned[tag]
    assert image_for("onnx-cpu", Runtime(), REGISTRY, pinned).startswith(f"{REGISTRY}/onnx-cpu:")


@pytest.mark.parametrize(
    ("runtime", "base"),
    [
        (Runtime(), "docker.io/library/python:3.11-slim"),
        (Runtime(python="3.12"), "docker.io/library/python:3.12-slim"),
        (Runtime(cuda="12.4"), "docker.io/nvidia/cuda:12.4.0-runtime-ubuntu22.04"),
        (Runtime(cuda="12.4.1"), "docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"),
        (Runtime(cuda="12.4", base="my/base:1"), "my/base:1"),
    ],
)
def test_base_is_the_runtimes_own_else_cuda_else_python_slim(runtime: Runtime, base: str) -> None:
    assert base_image(runtime) == base
    assert f"FROM {base}\n" in containerfile(image_spec("r", runtime, REGISTRY))


def test_the_image_has_the_mlflow_client_not_the_server() -> None:
    names = [requirement_name(r) for r in image_requirements(SKLEARN)]

    assert "mlflow" not in names
    assert "mlflow-skinny>=3.0" in image_requirements(SKLEARN)
    assert requirement_name("Scikit_Learn[alldeps]>=1") == "scikit-learn"


def test_every_dependency_of_modelyard_is_in_the_pod_or_named_workstation_only() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    in_pod = {requirement_name(r) for r in POD_REQUIREMENTS}

    missing = [
        requirement
        for requirement in pyproject["project"]["dependencies"]
        if requirement_name(requirement) not in in_pod | WORKSTATION_ONLY
    ]
    assert missing == [], "add them to images.POD_REQUIREMENTS or WORKSTATION_ONLY"


def _instructions(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line and not line.startswith("#")]


def test_layers_run_from_base_to_lock_to_modelyard_then_the_non_root_user() -> None:
    steps = _instructions(containerfile(image_spec("sklearn-cpu", SKLEARN, REGISTRY)))
    first = [step.split()[0] + " " + step.split()[1] for step in steps]

    def at(prefix: str) -> int:
        return next(i for i, step in enumerate(steps) if step.startswith(prefix))

    assert first[0] == "FROM docker.io/library/python:3.11-slim"
    lock = at("COPY requirements.lock")
    wheel = at(f"COPY modelyard-{modelyard.__version__}-py3-none-any.whl")
    assert lock < at("RUN --mount") < wheel < at("USER 10001:10001")
    assert "compileall" in steps[wheel + 1]
    assert steps[-3:] == ["USER 10001:10001", "WORKDIR /workspace", 'CMD ["modelyard", "--help"]']


def test_no_certificate_or_credential_is_baked_into_the_image() -> None:
    steps = _instructions(containerfile(image_spec("sklearn-cpu", SKLEARN, REGISTRY)))
    env = " ".join(step for step in steps if step.startswith(("ENV", "ARG", "COPY")))

    assert "CERT" not in env
    assert "TOKEN" not in env
    assert "ca-certificates" not in env
    assert "HOME=/tmp" in env


def test_the_wheel_is_byte_for_byte_the_same_for_the_same_sources() -> None:
    first, second = build_wheel(), build_wheel()

    assert first.data == second.data
    assert first.filename == f"modelyard-{modelyard.__version__}-py3-none-any.whl"


def test_a_one_line_change_to_modelyard_changes_the_wheel_but_not_the_tag(tmp_path: Path) -> None:
    copy = tmp_path / "modelyard"
    shutil.copytree(package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = build_wheel(root=copy)
    target = copy / "environments" / "images.py"
    target.write_text(target.read_text() + "# one more line\n")

    after = build_wheel(root=copy)

    assert after.sha256 != before.sha256
    # the tag is the spec's (stable across code edits, so render output stays put); the
    # build's content hash, which covers the wheel, is what triggers the rebuild
    spec = image_spec("sklearn-cpu", SKLEARN, REGISTRY)
    assert content_hash(spec, "lock", "", before.sha256) != content_hash(
        spec, "lock", "", after.sha256
    )
    assert content_hash(spec, "lock", "", before.sha256) != content_hash(
        spec, "lock 2", "", before.sha256
    )
