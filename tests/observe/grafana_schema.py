"""A JSON Schema of Grafana's dashboard model, derived from the installed SDK's own classes.

grafana-foundation-sdk generates ``grafana_foundation_sdk.models.dashboard`` from Grafana's
schema: one class per object, annotated attributes with their types, and a ``to_json`` that
names each attribute's JSON key (written unconditionally when the field is required). This
module reads those three things back (``typing.get_type_hints``, the enums' values, the keys
in ``to_json``'s source) and writes a Draft 7 schema: required fields, field types, enums, and
no keys the model does not know (``additionalProperties: false``). The tests validate the
generated dashboards against it, so the check follows the SDK version the project pins.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from typing import Any

REQUIRED_KEY = re.compile(r'^\s*"(\w+)": self\.(\w+),?$', re.M)
OPTIONAL_KEY = re.compile(r'^\s*payload\["(\w+)"\] = self\.(\w+)$', re.M)
SCALARS: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _keys(cls: type) -> tuple[dict[str, str], set[str]]:
    """Attribute -> JSON key, and the attributes ``to_json`` always writes."""
    source = inspect.getsource(cls.to_json)  # type: ignore[attr-defined]
    required = {attr: key for key, attr in REQUIRED_KEY.findall(source)}
    optional = {attr: key for key, attr in OPTIONAL_KEY.findall(source)}
    return {**optional, **required}, set(required)


class _Builder:
    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.definitions: dict[str, dict[str, Any]] = {}

    def model(self, cls: type) -> dict[str, Any]:
        if cls.__name__ not in self.definitions:
            self.definitions[cls.__name__] = {}  # placeholder: classes refer to each other
            hints = typing.get_type_hints(cls, vars(self.module))
            keys, required = _keys(cls)
            self.definitions[cls.__name__] = {
                "type": "object",
                "properties": {keys[a]: self.type(hints[a]) for a in keys},
                "required": sorted(keys[a] for a in required),
                "additionalProperties": False,
            }
        return {"$ref": f"#/definitions/{cls.__name__}"}

    def type(self, hint: Any) -> dict[str, Any]:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            # to_json leaves a None field out, so Optional[X] is X where present
            options = [self.type(a) for a in args if a is not type(None)]
            return options[0] if len(options) == 1 else {"anyOf": options}
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin is list:
            return {"type": "array", "items": self.type(args[0]) if args else {}}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.type(args[1])}
        if inspect.isclass(hint) and issubclass(hint, enum.Enum):
            return {"enum": [m.value for m in hint]}
        if hint in SCALARS:
            return {"type": SCALARS[hint]}
        if inspect.isclass(hint) and getattr(hint, "__module__", "") == self.module.__name__:
            return self.model(hint)
        # object, typing.Any, a datasource plugin's query (cog.variants.Dataquery): any JSON
        return {}


def dashboard_schema() -> dict[str, Any]:
    """The schema of a dashboard document, from ``models.dashboard.Dashboard`` down."""
    from grafana_foundation_sdk.models import dashboard

    builder = _Builder(dashboard)
    root = builder.model(dashboard.Dashboard)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        **root,
        "definitions": builder.definitions,
    }
