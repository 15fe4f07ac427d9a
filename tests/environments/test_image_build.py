"""``images build`` against the in-memory builder: what is rebuilt, recorded, pushed, rendered.

The locks are resolved by the real uv against the package index, as a user's build does.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from modelyard.config import Workspace, load_workspace
from modelyard.environments.build import build_images, list_images
from modelyard.environments.builder import FakeBuilder
from modelyard.environments.images import CONTENT_LABEL
from modelyard.environments.index import read_index
from modelyard.environments.wheel import build_wheel
from modelyard.errors import ConfigError
from modelyard.k8s.context import RenderContext


def test_an_unchanged_runtime_is_not_rebuilt(workspace: Workspace) -> None:
    builder = FakeBuilder()

    first = build_images(workspace, ["sklearn-cpu"], builder)
    second = build_images(workspace, ["sklearn-cpu"], builder)

    assert [r.status for r in first + second] == ["built", "up to date"]
    assert first[0].image == second[0].image
    assert len(builder.builds) == 1
    context = builder.builds[0].context
    assert {p.name for p in context.iterdir()} >= {
        "Containerfile",
        "requirements.lock",
        "uv",
        build_wheel().filename,
    }
    assert "scikit-learn==" in (context / "requirements.lock").read_text()
    assert "mlflow-skinny==" in (context / "requirements.lock").read_text()


def test_a_change_to_modelyard_rebuilds_under_the_same_tag(workspace: Workspace) -> None:
    builder = FakeBuilder()
    wheel = build_wheel()
    changed = dataclasses.replace(wheel, data=wheel.data + b"\0", sha256="0" * 64)

    first = build_images(workspace, ["sklearn-cpu"], builder, wheel=wheel)
    lock_before = (builder.builds[0].context / "requirements.lock").read_text()
    second = build_images(workspace, ["sklearn-cpu"], builder, wheel=changed)

    assert [r.status for r in first + second] == ["built", "built"]
    assert first[0].image == second[0].image
    labels = [b.labels[CONTENT_LABEL] for b in builder.builds]
    assert labels[0] != labels[1]
    # the lock is kept: only the wheel's layers differ
    assert (builder.builds[1].context / "requirements.lock").read_text() == lock_before


def test_a_package_change_gives_a_new_tag_and_a_new_lock(workspace: Workspace) -> None:
    builder = FakeBuilder()
    first = build_images(workspace, ["sklearn-cpu"], builder)
    lock = builder.builds[0].context / "requirements.lock"
    before = lock.read_text()
    runtimes = workspace.root / "runtimes.yaml"
    runtimes.write_text(
        runtimes.read_text().replace('"scikit-learn>=1.5"', '"scikit-learn>=1.5", "joblib>=1.3"', 1)
    )

    second = build_images(load_workspace(workspace.root), ["sklearn-cpu"], builder)

    assert second[0].status == "built"
    assert second[0].image != first[0].image
    assert lock.read_text() != before
    assert "joblib==" in lock.read_text()


def test_push_records_the_digest_and_render_names_it(workspace: Workspace) -> None:
    builder = FakeBuilder()
    entry = next(e for e in workspace.models.values() if e.spec.runtime == "sklearn-cpu")
    tag = RenderContext.of(workspace).image(entry)

    result = build_images(workspace, ["sklearn-cpu"], builder, push=True)[0]

    assert builder.pushed == [tag]
    assert result.digest is not None
    assert result.digest.startswith("sha256:")
    record = read_index(workspace.state_dir)["sklearn-cpu"]
    assert (record.tag, record.digest) == (tag, result.digest)
    pinned = RenderContext.of(workspace).image(entry)
    assert pinned == f"{tag.rsplit(':', 1)[0]}@{result.digest}"
    # an unchanged image is not pushed again
    build_images(workspace, ["sklearn-cpu"], builder, push=True)
    assert builder.pushed == [tag]


def test_without_a_builder_the_context_is_written_and_the_command_given(
    workspace: Workspace,
) -> None:
    result = build_images(workspace, ["sklearn-cpu"], None)[0]

    assert result.status == "context written"
    assert result.command is not None
    assert result.command.startswith("docker buildx build ")
    assert f"-t {result.image} " in result.command
    assert (workspace.state_dir / "images" / "sklearn-cpu" / "Containerfile").exists()
    assert read_index(workspace.state_dir) == {}


def test_an_unknown_runtime_is_refused_naming_the_file_and_nothing_is_written(
    workspace: Workspace,
) -> None:
    with pytest.raises(
        ConfigError, match=r"runtimes\.yaml: no runtime named 'sklearn-gpu'.*sklearn-cpu"
    ):
        build_images(workspace, ["sklearn-gpu"], FakeBuilder())

    assert not (workspace.state_dir / "images").exists()


def test_list_shows_each_runtime_with_its_size_once_built(workspace: Workspace) -> None:
    builder = FakeBuilder(size_bytes=123)
    build_images(workspace, ["sklearn-cpu"], builder)

    rows = {row.runtime: row for row in list_images(workspace, builder)}

    assert set(rows) == set(workspace.runtimes)
    assert (rows["sklearn-cpu"].built, rows["sklearn-cpu"].size_bytes) == (True, 123)
    assert (rows["onnx-cpu"].built, rows["onnx-cpu"].size_bytes) == (False, None)
    index = json.loads((workspace.state_dir / "images" / "index.json").read_text())
    assert index["images"]["sklearn-cpu"]["size_bytes"] == 123


def test_notebook_adds_its_layer_on_the_runtimes_lock(workspace: Workspace) -> None:
    builder = FakeBuilder()

    plain = build_images(workspace, ["sklearn-cpu"], builder)[0]
    notebook = build_images(workspace, ["sklearn-cpu"], builder, notebook=True)[0]

    assert notebook.image == plain.image.replace("/sklearn-cpu:", "/sklearn-cpu-notebook:")
    assert builder.builds[1].labels[CONTENT_LABEL] != builder.builds[0].labels[CONTENT_LABEL]
    context = builder.builds[1].context
    assert context.name == "sklearn-cpu-notebook"
    notebook_lock = (context / "notebook.lock").read_text()
    assert "jupyterlab==" in notebook_lock
    assert "nbclient==" in notebook_lock
    assert "ipykernel==" in notebook_lock
    # resolved with the runtime's lock as constraints: shared packages keep their versions
    runtime_lock = (context / "requirements.lock").read_text()
    shared = [line for line in notebook_lock.splitlines() if line.startswith("pyyaml==")]
    assert all(line in runtime_lock for line in shared)
    assert set(read_index(workspace.state_dir)) == {"sklearn-cpu", "sklearn-cpu-notebook"}
    rows = [row.runtime for row in list_images(workspace, builder)]
    assert "sklearn-cpu (notebook)" in rows
