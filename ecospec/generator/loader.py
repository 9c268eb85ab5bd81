"""Loading spec/: read every YAML file, merge the sections, validate, and check the whole."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ecospec.generator.blocks import BlockLibrary, load_blocks
from ecospec.generator.checks.sections import check_spec
from ecospec.generator.errors import (
    Diagnostic,
    KeyPath,
    Location,
    Severity,
    SpecError,
    UsageError,
    did_you_mean,
    relative_name,
)
from ecospec.generator.model import SECTIONS, Duration, Node, Role, Spec
from ecospec.generator.source import Index, SourceFile, read_yaml

SPEC_DIR = "spec"
_SINGULAR = {"entities": "entity", "roles": "role", "landings": "landing", "webhooks": "webhook"}


@dataclass
class LoadResult:
    spec: Spec | None
    diagnostics: list[Diagnostic]
    index: Index
    files: list[str]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]


def spec_files(project: Path) -> list[Path]:
    root = project / SPEC_DIR
    if not root.is_dir():
        raise UsageError(f"{project}: no '{SPEC_DIR}/' folder here (use --project DIR)")
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_project(project: Path) -> LoadResult:
    """Read and check the spec of a project folder, collecting every diagnostic."""
    files = spec_files(project)
    sources = [_read_cached(p, relative_name(p, project)) for p in files]
    blocks = load_blocks(project)
    return load_sources(
        sources, spec_root=relative_name(project / SPEC_DIR, project), blocks=blocks
    )


_PARSED: dict[tuple[Path, str], tuple[int, int, SourceFile]] = {}


def _read_cached(path: Path, name: str) -> SourceFile:
    """A file parsed once per content: `ecospec dev` re-reads only the files that changed."""
    try:
        stat = path.stat()
    except OSError:
        return read_yaml(path, name)
    key = (path.resolve(), name)
    found = _PARSED.get(key)
    if found is not None and found[0] == stat.st_mtime_ns and found[1] == stat.st_size:
        return found[2]
    source = read_yaml(path, name)
    _PARSED[key] = (stat.st_mtime_ns, stat.st_size, source)
    return source


def load_spec(project: Path, *, strict: bool = False) -> Spec:
    """The project's spec, or a SpecError carrying every problem found."""
    result = load_project(project)
    problems = result.diagnostics if strict else result.errors
    if problems or result.spec is None:
        raise SpecError(result.diagnostics)
    return result.spec


def load_sources(
    sources: list[SourceFile], spec_root: str = SPEC_DIR, blocks: BlockLibrary | None = None
) -> LoadResult:
    """Merge, validate and check parsed files; `blocks` (when given) checks landing blocks too."""
    diagnostics: list[Diagnostic] = list(blocks.diagnostics) if blocks is not None else []
    for source in sources:
        diagnostics.extend(source.diagnostics)
    merged, index = _merge(sources, diagnostics)
    spec, dropped = _validate(merged, index, diagnostics)
    if spec is not None:
        _locate(spec, index, diagnostics)
        diagnostics.extend(check_spec(spec, index, dropped, root=spec_root, blocks=blocks))
    diagnostics.sort(key=Diagnostic.sort_key)
    return LoadResult(spec, _unique(diagnostics), index, [s.name for s in sources])


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[str] = set()
    out = []
    for d in diagnostics:
        if str(d) not in seen:
            seen.add(str(d))
            out.append(d)
    return out


def _merge(
    sources: list[SourceFile], diagnostics: list[Diagnostic]
) -> tuple[dict[str, Any], Index]:
    merged: dict[str, Any] = {}
    index = Index()
    for source in sources:
        data = source.data
        if data is None:
            continue
        if not isinstance(data, dict):
            diagnostics.append(
                Diagnostic(
                    source.value_location(()),
                    (),
                    "a spec file is a mapping of sections (entities:, roles:, landings:, …)",
                )
            )
            continue
        base: KeyPath = ()
        if "landing" in data:  # the one-landing-per-file form
            name = data["landing"]
            if not isinstance(name, str) or not name:
                diagnostics.append(
                    Diagnostic(
                        source.value_location(("landing",)), ("landing",), "a landing needs a name"
                    )
                )
                continue
            data = {"landings": {name: {k: v for k, v in data.items() if k != "landing"}}}
            base = ("landings", name)
            if ("landings", name) in index.keys:
                _twice(diagnostics, "landing", name, source.key_location(("landing",)), index, base)
                continue
            index.keys[base] = source.key_location(("landing",))
            index.values[base] = source.value_location(())
            index.add(source, (), base)
            merged.setdefault("landings", {})[name] = data["landings"][name]
            continue
        for key, value in data.items():
            mode = SECTIONS.get(key)
            if mode is None:
                if key in merged:
                    _twice(diagnostics, "setting", key, source.key_location((key,)), index, (key,))
                    continue
                merged[key] = value
                index.keys[(key,)] = source.key_location((key,))
                index.add(source, (key,), (key,))
                continue
            if not isinstance(value, dict):
                diagnostics.append(
                    Diagnostic(
                        source.value_location((key,)),
                        (key,),
                        f"expected a mapping of names, got {_kind(value)}",
                    )
                )
                continue
            section = merged.setdefault(key, {})
            index.values.setdefault((key,), source.value_location((key,)))
            for name, member in value.items():
                here = source.key_location((key, name))
                if mode == "append":
                    if not isinstance(member, list):
                        diagnostics.append(
                            Diagnostic(
                                source.value_location((key, name)),
                                (key, name),
                                f"expected a list of records, got {_kind(member)}",
                            )
                        )
                        continue
                    records = section.setdefault(name, [])
                    index.keys.setdefault((key, name), here)
                    for i in range(len(member)):
                        index.add(source, (key, name, i), (key, name, len(records) + i))
                    records.extend(member)
                    continue
                if name in section:
                    _twice(diagnostics, _SINGULAR[key], name, here, index, (key, name))
                    continue
                section[name] = member
                index.keys[(key, name)] = here
                index.add(source, (key, name), (key, name))
    return merged, index


def _twice(
    diagnostics: list[Diagnostic],
    what: str,
    name: str,
    here: Location,
    index: Index,
    path: KeyPath,
) -> None:
    first = index.keys.get(path)
    diagnostics.append(
        Diagnostic(
            here,
            path,
            f"{what} '{name}' is defined twice: here and at {first}",
            related=(first,) if first else (),
        )
    )


def _kind(value: Any) -> str:
    kinds = {
        list: "a list",
        dict: "a mapping",
        str: "text",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }
    return "nothing" if value is None else kinds.get(type(value), type(value).__name__)


def _validate(
    merged: dict[str, Any], index: Index, diagnostics: list[Diagnostic]
) -> tuple[Spec | None, set[KeyPath]]:
    """Validate the merged data, dropping the parts that fail so the rest can still be checked."""
    dropped: set[KeyPath] = set()
    data = merged
    copied = False
    while True:
        try:
            return Spec.model_validate(data), dropped
        except ValidationError as exc:
            progress = False
            if not copied:  # parts are about to be dropped: work on a copy
                data, copied = copy.deepcopy(merged), True
            located = [(error, _clean_loc(data, error["loc"])) for error in exc.errors()]
            for error, path in located:
                diagnostics.append(_pydantic_diagnostic(error, path, index))
            for error, path in located:
                unit = _droppable(path, error["type"])
                if unit and _remove(data, unit):
                    dropped.add(unit)
                    progress = True
            if not progress:
                return None, dropped


def _droppable(path: KeyPath, kind: str) -> KeyPath:
    """The part of the spec an error at `path` takes out: a field, a grant, a member, a setting."""
    if path[:1] == ("entities",) and len(path) >= 4 and path[2] == "fields":
        return path[:4]
    if path[:1] == ("roles",) and len(path) >= 3:
        return path[:3]
    if kind == Duration.error_type and len(path) >= 3:
        # text that is no duration takes out only its option (the default stands in), so the
        # rest of its member is still checked
        return path[:3]
    if path and path[0] in SECTIONS:
        return path[:2]
    return path[:1]


def _remove(data: dict[str, Any], path: KeyPath) -> bool:
    parent: Any = data
    for part in path[:-1]:
        if not isinstance(parent, dict) or part not in parent:
            return False
        parent = parent[part]
    if isinstance(parent, dict) and path and path[-1] in parent:
        del parent[path[-1]]
        return True
    return False


def _clean_loc(data: Any, loc: tuple[int | str, ...]) -> KeyPath:
    """Pydantic's error location with union tags removed, following the input data."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            continue  # a union member's tag, not a key of the input
        path.append(part)
    return tuple(path)


_MESSAGES = {
    "missing": "missing required key '{key}'",
    "string_type": "expected text, got {kind}",
    "bool_type": "expected true or false, got {kind}",
    "bool_parsing": "expected true or false, got {kind}",
    "int_type": "expected a whole number, got {kind}",
    "int_parsing": "expected a whole number, got {kind}",
    "int_from_float": "expected a whole number, got {kind}",
    "float_type": "expected a number, got {kind}",
    "float_parsing": "expected a number, got {kind}",
    "dict_type": "expected a mapping, got {kind}",
    "model_type": "expected a mapping, got {kind}",
    "model_attributes_type": "expected a mapping, got {kind}",
    "list_type": "expected a list, got {kind}",
    "literal_error": "{value} is not one of: {expected}",
}


def _pydantic_diagnostic(error: Any, path: KeyPath, index: Index) -> Diagnostic:
    kind = error["type"]
    value = error.get("input")
    if len(path) == 3 and path[0] == "roles" and isinstance(path[2], str) and path[2][:1].islower():
        # a role's keys are its options or entity names (capitalised): this is a mistyped option
        known = model_keys(Role)
        return Diagnostic(
            index.key(path), path, f"unknown key '{path[2]}'{did_you_mean(path[2], known)}"
        )
    if kind == "missing":
        key = str(error["loc"][-1])
        return Diagnostic(
            index.key(path) or index.value(path), path, _MESSAGES[kind].format(key=key)
        )
    template = _MESSAGES.get(kind)
    if template is None:
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        message = message[0].lower() + message[1:] if message else message
    else:
        expected = (error.get("ctx") or {}).get("expected", "")
        message = template.format(kind=_describe(value), value=_describe(value), expected=expected)
    return Diagnostic(index.value(path), path, message)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "nothing"
    return _kind(value)


def _holds_nodes(container: dict[Any, Any] | list[Any]) -> bool:
    """Spec containers are homogeneous: look at one member to know if models are inside."""
    for member in container.values() if isinstance(container, dict) else container:
        return isinstance(member, Node)
    return False


def _walk(node: Any, path: KeyPath) -> Iterator[tuple[Node, KeyPath]]:
    if isinstance(node, Node):
        yield node, path
        for name, info in type(node).model_fields.items():
            value = getattr(node, name)
            if isinstance(value, Node | dict | list):
                yield from _walk(value, (*path, info.alias or name))
        if not node.extra_keys_are_unknown:
            for key, value in (node.model_extra or {}).items():
                yield from _walk(value, (*path, key))
    elif isinstance(node, dict) and _holds_nodes(node):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list) and _holds_nodes(node):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


def _locate(spec: Spec, index: Index, diagnostics: list[Diagnostic]) -> None:
    """Tell every node where it was written, and warn about keys no model knows."""
    for node, at in _walk(spec, ()):
        node._location = index.value(at)
        if not node.extra_keys_are_unknown or not node.model_extra:
            continue
        known = [info.alias or name for name, info in type(node).model_fields.items()]
        for key in node.model_extra:
            diagnostics.append(
                Diagnostic(
                    index.key((*at, key)),
                    (*at, key),
                    f"unknown key '{key}'{did_you_mean(key, known)}",
                    Severity.WARNING,
                )
            )


def model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a user may write for a model, by their spec names."""
    return [info.alias or name for name, info in model.model_fields.items()]
