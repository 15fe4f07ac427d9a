"""JSON Schema export of the four config files, for editors (``modelyard schema``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from modelyard.config.schema import DeploySpec, ModelSpec, RuntimeCatalog, WorkspaceSettings

SCHEMAS: dict[str, type[BaseModel]] = {
    "modelyard.yaml": WorkspaceSettings,
    "runtimes.yaml": RuntimeCatalog,
    "model.yaml": ModelSpec,
    "deploy.yaml": DeploySpec,
}


def _with_docstrings() -> None:
    """Give every schema class's fields their attribute docstrings as descriptions (what
    ``use_attribute_docstrings`` would do at import, paid here only, once)."""
    from pydantic._internal._docs_extraction import extract_docstrings_from_cls

    from modelyard.config.schema import Strict

    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [Strict]
    while todo:
        cls = todo.pop()
        todo.extend(sub for sub in cls.__subclasses__() if sub not in seen)
        seen.add(cls)
    changed = False
    for cls in seen:
        docs = extract_docstrings_from_cls(cls, use_inspect=True)
        for name, field in cls.__pydantic_fields__.items():
            if field.description is None and name in docs:
                field.description = docs[name]
                changed = True
    if changed:
        # a model embeds its fields' schemas as they were when it was rebuilt: rebuild until
        # the exported schemas stop changing (the nesting depth, a handful of passes)
        before = None
        for _ in range(10):
            for cls in seen:
                cls.model_rebuild(force=True)
            now = [m.model_json_schema(mode="validation") for m in SCHEMAS.values()]
            if now == before:
                break
            before = now


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) of that file."""
    _with_docstrings()
    out: dict[str, dict[str, Any]] = {}
    for name, model in SCHEMAS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = name
        out[name] = schema
    return out
