"""Fuzzing the config files (issue 10): every generated document is either accepted, and then
renders to Kubernetes objects with int32-sized counts, or refused with issues that each name
the file and a line. Never a traceback.

Documents are built from the schemas themselves (real field names, nested where the schema
nests) with hostile values: NaN, infinities, huge integers, quantity-like strings, wrong types,
unknown keys; some get raw text appended to reach the YAML parser's own errors.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from modelyard.config import DeploySpec, InvalidConfig, ModelSpec, init_workspace, load_workspace
from modelyard.config.bounds import INT32_MAX
from modelyard.config.schema import WorkspaceSettings

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, INT32_MAX, INT32_MAX + 1, 10**38]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.from_regex(r"-?\d{1,30}(\.\d{1,4})?(m|Mi|Gi|Pi|k|ms|s|h|d)?", fullmatch=True),
    st.text(max_size=12),
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def documents(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings with ``model``'s field names (each optional) and, sometimes, unknown keys."""
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        inner = _model_in(info.annotation)
        value = documents(inner, depth + 1) if inner is not None and depth < 4 else SCALARS
        optional[name] = st.one_of(value, JUNK)
    extra = st.dictionaries(st.text(min_size=1, max_size=10), JUNK, max_size=2)
    return st.builds(
        lambda known, unknown: {**unknown, **known},
        st.fixed_dictionaries({}, optional=optional),
        extra,
    )


TAILS = st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.sampled_from(["a: &x [1]\nb: *x\n", "[[[[[[[[", "key: {", "\t- x", "a: 1\na: 2\n"]),
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "ws"
    init_workspace(folder)
    return folder


def _check(root: Path, relative: str, text: str) -> None:
    path = root / relative
    original = path.read_text()
    path.write_text(text)
    try:
        try:
            ws = load_workspace(root)
        except InvalidConfig as exc:
            refused = exc
        else:
            _renders(ws)
            return
    finally:
        path.write_text(original)
    assert refused.issues
    for issue in refused.issues:
        assert issue.file.resolve() == path.resolve(), str(issue)
        assert issue.line is not None, str(issue)
        # YAML breaks lines at \r as well as \n (a bare \r is a line of its own)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
        assert 1 <= issue.line <= lines, str(issue)
    assert str(refused).startswith(f"{len(refused.issues)} problem")


def _renders(ws: Any) -> None:
    from modelyard.k8s.render import all_objects, render_workspace

    for obj in all_objects(render_workspace(ws, versions=dict.fromkeys(ws.models, 1))):
        spec = obj.get("spec", {}) if isinstance(obj, dict) else {}
        for key in ("replicas", "minReplicas", "maxReplicas", "minAvailable"):
            value = spec.get(key)
            if isinstance(value, int):
                assert 0 <= value <= INT32_MAX, (obj.get("kind"), key, value)


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


STRATEGIES = {
    "models/ctr/deploy.yaml": documents(DeploySpec),
    "models/ctr/model.yaml": documents(ModelSpec).map(lambda doc: {"id": "ctr", **doc}),
    "modelyard.yaml": documents(WorkspaceSettings),
}


@pytest.mark.parametrize("relative", sorted(STRATEGIES))
@FUZZ
@given(data=st.data(), tail=TAILS)
def test_config_file_is_accepted_or_refused_with_file_and_line(
    root: Path, relative: str, data: st.DataObject, tail: str
) -> None:
    doc = data.draw(STRATEGIES[relative], label="document")
    _check(root, relative, yaml.safe_dump(doc) + tail)
