"""Safe, bounded YAML reading that remembers the line of every key, so errors can point at it.

PyYAML's ``safe_load`` drops positions; here the file is composed once into a node tree, which
gives a map from each key path to its line, and the data is built from the same tree with the
safe constructor. The composer refuses aliases (``*name``) and nesting deeper than
``MAX_DEPTH`` before anything is built, so an alias bomb or a deeply nested file costs a few
milliseconds and no memory; files above ``MAX_FILE_BYTES`` are refused before parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelyard.config.bounds import MAX_DEPTH, MAX_FILE_BYTES

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file: its data and the line (1-based) of each key path."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """Line of the longest prefix of ``loc`` that the file contains."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


class YamlSyntaxError(Exception):
    """The file is not valid (or not acceptable) YAML; ``line`` is where reading stopped."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, deep nesting and a key written twice in one mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in modelyard config files; write the value out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value, not a list or a mapping",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is written twice", key_node.start_mark
            )
    return loader.construct_mapping(node)


_BoundedLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines)


def read_yaml(path: Path) -> YamlDoc:
    """Read and parse ``path``, refusing files above ``MAX_FILE_BYTES`` before parsing.

    Raises :class:`YamlSyntaxError`, ``OSError`` or ``UnicodeDecodeError``.
    """
    with path.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise YamlSyntaxError(
            f"file is larger than {MAX_FILE_BYTES // 1024} KiB; a config file is a few KiB "
            "(is this the right file?)",
            None,
        )
    return parse_yaml(path, raw.decode("utf-8"))


def parse_yaml(path: Path, text: str) -> YamlDoc:
    """Parse ``text`` (the content of ``path``) safely; raise :class:`YamlSyntaxError`."""
    if len(text) > MAX_FILE_BYTES:
        raise YamlSyntaxError(f"text is larger than {MAX_FILE_BYTES // 1024} KiB", None)
    try:
        loader = _BoundedLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:  # a control character: found before parsing
        at = text.count("\n", 0, exc.position) + 1
        raise YamlSyntaxError(f"invalid YAML: {exc.reason} ({exc.character:#x})", at) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise YamlSyntaxError(f"invalid YAML: {problem}", line) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from exc
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDoc(path=path, data=data, lines=lines)
