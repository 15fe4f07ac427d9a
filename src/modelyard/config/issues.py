"""Config problems as ``file:line: field: what is wrong``, built from pydantic's errors.

Unknown keys suggest the closest valid one; messages say what was expected. A file lists at
most ``MAX_ISSUES_PER_FILE`` problems, then "and N more", so a file of 200,000 unknown keys
costs one screen, not 200,000 lines.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from modelyard.config.bounds import MAX_ISSUES_PER_FILE
from modelyard.config.yamlfile import Loc, YamlDoc
from modelyard.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one file."""

    file: Path
    line: int | None
    field: str
    message: str
    omitted: int = 0
    """On a summary line: how many further problems of the file it stands for."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class InvalidConfig(ConfigError):
    """One or more files are invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        count = len(issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the workspace config:"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in issues)]))


def dotted(loc: Loc) -> str:
    """``('rollout', 'steps', 0)`` -> ``rollout.steps[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the sub-model that ``loc`` points into (for did-you-mean)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: dict[str, Any], model: type[BaseModel], loc: Loc) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        valid = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = f" (valid keys: {', '.join(valid)})" if valid and not close else ""
        return f"unknown key{hint}{listing}"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if "input" in error and kind not in {"value_error"} and not isinstance(error["input"], dict):
        shown = repr(error["input"])
        message += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
    return message


def _summary(file: Path, line: int | None, omitted: int) -> ConfigIssue:
    noun = "problem" if omitted == 1 else "problems"
    return ConfigIssue(file, line, "", f"and {omitted:,} more {noun} in this file", omitted)


def capped(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """At most ``MAX_ISSUES_PER_FILE`` issues per file, then one "and N more" line each."""
    kept: list[ConfigIssue] = []
    shown: dict[Path, int] = {}
    hidden: dict[Path, tuple[int | None, int]] = {}
    for issue in issues:
        if issue.omitted == 0 and shown.get(issue.file, 0) < MAX_ISSUES_PER_FILE:
            shown[issue.file] = shown.get(issue.file, 0) + 1
            kept.append(issue)
            continue
        line, count = hidden.get(issue.file, (issue.line, 0))
        hidden[issue.file] = (line, count + (issue.omitted or 1))
    kept.extend(_summary(file, line, count) for file, (line, count) in hidden.items())
    return kept


def issues_from(exc: ValidationError, doc: YamlDoc, model: type[BaseModel]) -> list[ConfigIssue]:
    """Turn a pydantic error into issues with the lines of ``doc`` (at most a screenful)."""
    found: list[ConfigIssue] = []
    errors = exc.errors(include_url=False, include_context=False)
    for error in errors[:MAX_ISSUES_PER_FILE]:
        loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
        found.append(
            ConfigIssue(
                file=doc.path,
                line=doc.line_of(loc),
                field=dotted(loc),
                message=_message(dict(error), model, loc),
            )
        )
    if len(errors) > MAX_ISSUES_PER_FILE:
        first = tuple(p for p in errors[MAX_ISSUES_PER_FILE]["loc"] if isinstance(p, str | int))
        found.append(_summary(doc.path, doc.line_of(first), len(errors) - MAX_ISSUES_PER_FILE))
    return found


def validate_doc(doc: YamlDoc, model: type[M]) -> tuple[M | None, list[ConfigIssue]]:
    """Validate ``doc`` against ``model``; return the value or the issues (never both)."""
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        kind = type(data).__name__
        return None, [ConfigIssue(doc.path, 1, "", f"expected a mapping of keys, got a {kind}")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, issues_from(exc, doc, model)
