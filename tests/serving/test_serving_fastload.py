"""The cache's fast-load copy of a skops model, and the gate that late imports take."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.registry import cache, tree_sha256
from modelyard.serving.process.launch import LaunchSpec, cached_source
from modelyard.serving.runtimes.imports import ImportGate
from modelyard.serving.runtimes.sklearn import SklearnRuntime


def _cached(tmp_path: Path, sk_model: Any, *, allow_pickle: bool = True) -> LaunchSpec:
    cache_dir = tmp_path / "cache"
    sha = tree_sha256(sk_model.path)
    target = cache_dir / "m" / f"1-{sha[:16]}"
    shutil.copytree(sk_model.path, target)
    cache.record(cache_dir, "m", 1, sha, target)
    return LaunchSpec(cache_dir, "m", 1, method="predict_proba", allow_pickle=allow_pickle)


def _load(spec: LaunchSpec) -> SklearnRuntime:
    source = cached_source(spec)
    runtime = SklearnRuntime(
        source.method, allow_pickle=source.allow_pickle, fastload=source.fastload
    )
    runtime.load(source.path)
    return runtime


def test_a_skops_load_writes_a_copy_that_the_next_load_reads(tmp_path, sk_model):
    spec = _cached(tmp_path, sk_model)
    first = _load(spec)
    assert first.loaded_from == "skops"
    entry = json.loads((spec.cache_dir / "m" / "1.json").read_text())
    assert "scikit-learn" in entry["fastload"]["key"]
    second = _load(spec)
    assert second.loaded_from == "fastload"
    x = sk_model.X[:5]
    np.testing.assert_allclose(second.predict(x), sk_model.model.predict_proba(x))
    # the artifacts' own checksum is untouched: the copy lies beside their folder
    assert cache.lookup(spec.cache_dir, "m", 1).verified()


def test_a_tampered_copy_is_never_loaded_and_is_rewritten(tmp_path, sk_model):
    spec = _cached(tmp_path, sk_model)
    _load(spec)
    copy = cache.lookup(spec.cache_dir, "m", 1).fastload
    assert copy is not None
    copy.file.write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")  # a pickle that runs code
    again = _load(spec)
    assert again.loaded_from == "skops"
    fresh = cache.lookup(spec.cache_dir, "m", 1).fastload
    assert fresh is not None
    assert fresh.file.read_bytes()[:1] == b"\x80"  # a pickle protocol header, not the forgery
    assert _load(spec).loaded_from == "fastload"


def test_a_copy_from_other_library_versions_is_ignored(tmp_path, sk_model):
    spec = _cached(tmp_path, sk_model)
    _load(spec)
    entry_file = spec.cache_dir / "m" / "1.json"
    entry = json.loads(entry_file.read_text())
    entry["fastload"]["key"] = "pickle-5 python-3.11 scikit-learn-0.1 numpy-1.0"
    entry_file.write_text(json.dumps(entry))
    assert _load(spec).loaded_from == "skops"


def test_a_copy_that_does_not_unpickle_falls_back_to_the_skops_file(tmp_path, sk_model):
    spec = _cached(tmp_path, sk_model)
    _load(spec)
    cached = cache.lookup(spec.cache_dir, "m", 1)
    assert cached.fastload is not None
    cache.record_fastload(cached, spec.cache_dir, cached.fastload.key, b"not a pickle")
    runtime = _load(spec)
    assert runtime.loaded_from == "skops"
    x = sk_model.X[:3]
    np.testing.assert_allclose(runtime.predict(x), sk_model.model.predict_proba(x))


def test_no_copy_where_pickles_are_refused(tmp_path, sk_model):
    spec = _cached(tmp_path, sk_model, allow_pickle=False)
    assert cached_source(spec).fastload is None
    assert _load(spec).loaded_from == "skops"
    assert cache.lookup(spec.cache_dir, "m", 1).fastload is None
    assert not list((spec.cache_dir / "m").glob("*.fastload"))


def test_a_cache_that_cannot_take_the_copy_still_serves(tmp_path, sk_model):
    spec = _cached(tmp_path, sk_model)
    folder = cache.lookup(spec.cache_dir, "m", 1).path
    (folder.parent / f"{folder.name}.fastload").mkdir()  # the copy's name is taken
    runtime = _load(spec)
    assert runtime.loaded_from == "skops"
    np.testing.assert_allclose(
        runtime.predict(sk_model.X[:2]), sk_model.model.predict_proba(sk_model.X[:2])
    )
    assert cache.lookup(spec.cache_dir, "m", 1).fastload is None


def test_the_gate_holds_inference_while_a_late_import_runs():
    gate = ImportGate()
    inside, release, importing, imported = (threading.Event() for _ in range(4))
    order: list[str] = []

    def predict(name: str, entered: threading.Event | None = None) -> None:
        with gate.shared():
            order.append(name)
            if entered is not None:
                entered.set()
                release.wait(10)

    def late_import() -> None:
        importing.set()
        with gate.alone():
            order.append("import")
        imported.set()

    first = threading.Thread(target=predict, args=("first", inside))
    first.start()
    assert inside.wait(10)
    writer = threading.Thread(target=late_import)
    writer.start()
    assert importing.wait(10)
    assert not imported.wait(0.05)  # it waits for the inference in flight
    release.set()
    first.join(10)
    writer.join(10)
    assert imported.is_set()
    later = threading.Thread(target=predict, args=("later",))
    later.start()
    later.join(10)
    assert order == ["first", "import", "later"]
