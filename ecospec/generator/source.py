"""Reading YAML files into plain data while remembering where every key and value came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecospec.generator.errors import Diagnostic, KeyPath, Location

try:  # the C parser is several times faster; the pure one gives the same marks
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _SpecLoader(_BaseLoader):
    """YAML 1.2-flavoured scalars: only true/false are booleans, dates stay strings."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class SourceFile:
    """One YAML file as plain data, with the location of every value and every key in it."""

    name: str
    data: Any = None
    values: dict[KeyPath, Location] = field(default_factory=dict)
    keys: dict[KeyPath, Location] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _groups: dict[
        int, dict[KeyPath, tuple[list[tuple[KeyPath, Location]], list[tuple[KeyPath, Location]]]]
    ] = field(default_factory=dict, repr=False)

    def under(
        self, prefix: KeyPath
    ) -> tuple[list[tuple[KeyPath, Location]], list[tuple[KeyPath, Location]]]:
        """The value and key locations at or below `prefix` (grouped once per prefix length)."""
        n = len(prefix)
        groups = self._groups.get(n)
        if groups is None:
            groups = {}
            for kind, table in ((0, self.values), (1, self.keys)):
                for path, loc in table.items():
                    if len(path) >= n:
                        groups.setdefault(path[:n], ([], []))[kind].append((path, loc))
            self._groups[n] = groups
        return groups.get(prefix, ([], []))

    def value_location(self, path: KeyPath) -> Location:
        return self.values.get(path) or Location(self.name, 1, 1)

    def key_location(self, path: KeyPath) -> Location:
        return self.keys.get(path) or self.value_location(path)


@dataclass
class Index:
    """Where every key and value of the merged spec was written."""

    values: dict[KeyPath, Location] = field(default_factory=dict)
    keys: dict[KeyPath, Location] = field(default_factory=dict)

    def value(self, path: KeyPath) -> Location | None:
        """The location of the value at `path`, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None

    def key(self, path: KeyPath) -> Location | None:
        """The location of the key naming `path` (falls back to the value's)."""
        return self.keys.get(path) or self.value(path)

    def add(self, source: SourceFile, src: KeyPath, dst: KeyPath) -> None:
        """Copy the locations under `src` in a file to `dst` in the merged spec."""
        n = len(src)
        values, keys = source.under(src)
        if src == dst:  # a section merged where it was written: the paths stay as they are
            self.values.update(values)
            self.keys.update((path, loc) for path, loc in keys if len(path) > n)
            return
        for path, loc in values:
            self.values[dst + path[n:]] = loc
        for path, loc in keys:
            if len(path) > n:
                self.keys[dst + path[n:]] = loc


def _location(name: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(name, 1, 1)
    return Location(name, mark.line + 1, mark.column + 1)


def read_yaml(path: Path, name: str) -> SourceFile:
    """Read one file; syntax errors become diagnostics, never exceptions."""
    source = SourceFile(name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        source.diagnostics.append(
            Diagnostic(Location(name, 1, 1), (), f"not UTF-8 text: {exc.reason}")
        )
        return source
    except OSError as exc:
        source.diagnostics.append(
            Diagnostic(Location(name, 1, 1), (), f"cannot read: {exc.strerror}")
        )
        return source
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> SourceFile:
    source = SourceFile(name)
    loader = _SpecLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            source.data = _Converter(source, loader).convert(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}, {exc.problem}"
        source.diagnostics.append(Diagnostic(_location(name, mark), (), f"YAML syntax: {problem}"))
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        source.diagnostics.append(
            Diagnostic(
                Location(name, line, column),
                (),
                f"YAML syntax: the character {char!r} is not allowed",
            )
        )
    except yaml.YAMLError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        source.diagnostics.append(Diagnostic(Location(name, 1, 1), (), f"YAML syntax: {message}"))
    except RecursionError:
        source.diagnostics.append(Diagnostic(Location(name, 1, 1), (), "YAML: nested too deeply"))
    finally:
        loader.dispose()
    return source


class _Converter:
    def __init__(self, source: SourceFile, loader: _SpecLoader) -> None:
        self.source = source
        self.loader = loader
        self.active: set[int] = set()

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        self.source.values[path] = _location(self.source.name, node.start_mark)
        if id(node) in self.active:
            self._error(node, path, "an alias refers to a node that contains it")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            try:
                return self.loader.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                self._error(node, path, f"YAML value: {getattr(exc, 'problem', exc)}")
                return None
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        own = self.source.values.get(path)
        result: dict[str, Any] = {}
        # Merged mappings ('<<') first: keys written in this mapping override them, locations too.
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for src in sources:
                value = self.convert(src, path)
                if isinstance(value, dict):
                    for k, v in value.items():
                        result.setdefault(k, v)
                else:
                    self._error(src, path, "'<<' merges only mappings")
        if own is not None:
            self.source.values[path] = own
        written: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._error(key_node, path, "a key must be a plain scalar, not a mapping or list")
                continue
            key = str(key_node.value)
            key_loc = _location(self.source.name, key_node.start_mark)
            if key in written:
                first = self.source.keys[(*path, key)]
                self.source.diagnostics.append(
                    Diagnostic(
                        key_loc,
                        (*path, key),
                        f"duplicate key '{key}' (first defined at {first})",
                        related=(first,),
                    )
                )
                continue
            written.add(key)
            self.source.keys[(*path, key)] = key_loc
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _error(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        self.source.diagnostics.append(
            Diagnostic(_location(self.source.name, node.start_mark), path, message)
        )
