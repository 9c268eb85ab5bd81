"""Random damage to real specs: the loader only ever answers with diagnostics, never an exception."""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ecospec.cli as cli
from ecospec.generator.errors import Diagnostic, Severity
from ecospec.generator.loader import LoadResult, load_project, load_sources
from ecospec.generator.model import Spec
from ecospec.generator.scaffold import scaffold
from ecospec.generator.source import parse_yaml

ROOT = Path(__file__).resolve().parent.parent
SEED_RECORDS_KEPT = 3  # the demo's long seed lists are cut: loading cost grows with their length

Files = dict[str, str]
Draw = Callable[[st.SearchStrategy[Any]], Any]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _trim_seed(text: str) -> str:
    """A seed file with at most SEED_RECORDS_KEPT records per entity (other files unchanged)."""
    data = parse_yaml(text, "seed").data
    if not isinstance(data, dict) or not isinstance(data.get("seed"), dict):
        return text
    trimmed = {
        k: v[:SEED_RECORDS_KEPT] if isinstance(v, list) else v for k, v in data["seed"].items()
    }
    rest = {k: v for k, v in data.items() if k != "seed"}
    return yaml.safe_dump({**rest, "seed": trimmed}, allow_unicode=True, sort_keys=False)


@functools.cache
def corpora() -> dict[str, Files]:
    """The spec files of the scaffold and, when written, of the demo ecosystem.

    "demo" leaves out the demo's long seed lists (loading them costs most of a second);
    "demo-seed" keeps a few records of each, so some seed refs dangle: diagnostics to fuzz from.
    """
    found: dict[str, Files] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scaffold(Path(tmp) / "shop")
        found["scaffold"] = read_spec(Path(tmp) / "shop")
    if (ROOT / "spec" / "ecosystem.yaml").is_file():
        demo = read_spec(ROOT)
        found["demo"] = {n: t for n, t in demo.items() if not n.startswith("spec/seed/")}
        found["demo-seed"] = {
            n: _trim_seed(t) if n.startswith("spec/seed/") else t for n, t in demo.items()
        }
    return found


def read_spec(project: Path) -> Files:
    return {
        p.relative_to(project).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((project / "spec").rglob("*.yaml"))
    }


@functools.cache
def vocabulary() -> list[str]:
    """Words the specs use (keys and text values): renames and values drawn from them hit deep."""
    words: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                words.add(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str) and len(node) < 40:
            words.add(node)

    for files in corpora().values():
        for text in files.values():
            walk(parse_yaml(text, "f").data)
    return sorted(words)


# strategies --------------------------------------------------------------------------------

# Floats stay below 1e20: a money value past 28 digits is a known crash, pinned by
# test_loader.py::test_huge_money_value_is_a_diagnostic; widen this once that is fixed.
FLOATS = st.floats(min_value=-1e15, max_value=1e15) | st.sampled_from(
    [float("inf"), float("-inf"), float("nan")]
)


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**20), max_value=10**20),
        FLOATS,
        st.text(max_size=20),
        st.sampled_from(vocabulary()),
        st.sampled_from(["$user.id", "$user.nope", "$usr", "{{ item.name }}", "/x/{slug}/", ""]),
    )


def values() -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars(),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(vocabulary()) | st.text(max_size=8), inner, max_size=4
            )
        ),
        max_leaves=8,
    )


def containers(data: Any) -> list[tuple[Any, ...]]:
    """Paths to every mapping and list in the data."""
    found: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            found.append(path)
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            found.append(path)
            for i, value in enumerate(node):
                walk(value, (*path, i))

    walk(data, ())
    return found


def get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def change_type(value: Any) -> Any:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value]
    return {}


def mutate(draw: Draw, data: Any) -> Any:
    """One random change somewhere in the data."""
    paths = containers(data)
    if not paths:
        return draw(values())
    path = draw(st.sampled_from(paths))
    node = get(data, path)
    if not node:
        if isinstance(node, dict):
            node[draw(st.sampled_from(vocabulary()))] = draw(values())
        else:
            node.append(draw(values()))
        return data
    keys: list[Any] = list(node) if isinstance(node, dict) else list(range(len(node)))
    key = draw(st.sampled_from(keys))
    action = draw(st.sampled_from(["delete", "rename", "replace", "retype", "duplicate", "add"]))
    if action == "delete":
        del node[key]
    elif action == "rename" and isinstance(node, dict):
        new = draw(st.sampled_from(vocabulary()) | st.text(min_size=1, max_size=10))
        node[new] = node.pop(key)
    elif action == "replace":
        node[key] = draw(values())
    elif action == "retype":
        node[key] = change_type(node[key])
    elif action == "duplicate":
        if isinstance(node, dict):
            node[key + "_copy" if draw(st.booleans()) else key.lower()] = copy.deepcopy(node[key])
        else:
            node.append(copy.deepcopy(node[key]))
    elif isinstance(node, dict):
        node[draw(st.sampled_from(vocabulary()))] = draw(values())
    else:
        node.insert(key, draw(values()))
    return data


def damaged_data(draw: Draw) -> Files:
    """A corpus with some files parsed, changed as data, and written back as YAML."""
    files = dict(corpora()[draw(st.sampled_from(sorted(corpora())))])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(st.sampled_from(sorted(files)))
        data = parse_yaml(files[name], name).data
        data = mutate(draw, data)
        files[name] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if draw(st.booleans()):  # the same member written in a second file
        name = draw(st.sampled_from(sorted(files)))
        files[name.replace(".yaml", "_copy.yaml")] = files[name]
    return files


YAML_NOISE = st.text(
    alphabet=st.sampled_from([*"abz019 :-[]{},#&*!|>'\"%@`?\n\t\\", "é", "Ж", "\x00", "\ufeff"]),
    max_size=30,
)


def damaged_text(draw: Draw) -> Files:
    """A corpus with random text inserted into, or cut out of, some files."""
    files = dict(corpora()[draw(st.sampled_from(sorted(corpora())))])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        name = draw(st.sampled_from(sorted(files)))
        text = files[name]
        at = draw(st.integers(min_value=0, max_value=len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(YAML_NOISE) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=40)) :]
        files[name] = text
    return files


# invariants --------------------------------------------------------------------------------


def write(folder: Path, files: Files) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def assert_only_diagnostics(result: LoadResult) -> None:
    """A well-formed answer. (Not yet: that every diagnostic has a location; see
    test_loader.py::test_two_bad_landing_values_are_both_located.)"""
    assert isinstance(result.spec, Spec | None)
    assert all(isinstance(d, Diagnostic) for d in result.diagnostics)
    for diagnostic in result.diagnostics:
        assert diagnostic.message
        assert diagnostic.severity in (Severity.ERROR, Severity.WARNING)
        str(diagnostic)
        diagnostic.to_json()
    keys = [d.sort_key() for d in result.diagnostics]
    assert keys == sorted(keys)
    if not result.errors:
        assert result.spec is not None


# the tests ---------------------------------------------------------------------------------


def test_corpora_load_cleanly() -> None:
    for name, files in corpora().items():
        if name == "demo-seed":
            continue
        sources = [parse_yaml(text, n) for n, text in files.items()]
        result = load_sources(sources)
        assert result.errors == [], (name, [str(d) for d in result.errors])


# The damaged files are drawn inside each test (st.data) so that a failure prints the
# few draws that made it, not every file of the corpus.


@FUZZ
@given(st.data())
def test_damaged_data_gives_diagnostics(data: st.DataObject) -> None:
    files = damaged_data(data.draw)
    sources = [parse_yaml(text, name) for name, text in sorted(files.items())]

    assert_only_diagnostics(load_sources(sources))


@FUZZ
@given(st.data())
def test_damaged_text_gives_diagnostics(data: st.DataObject) -> None:
    files = damaged_text(data.draw)
    with tempfile.TemporaryDirectory() as tmp:
        project = write(Path(tmp), files)

        assert_only_diagnostics(load_project(project))


@settings(FUZZ, max_examples=25)
@given(st.data(), st.booleans(), st.booleans(), st.booleans())
def test_damaged_spec_check_exits_0_or_1(
    data: st.DataObject, as_text: bool, strict: bool, json_format: bool
) -> None:
    files = damaged_text(data.draw) if as_text else damaged_data(data.draw)
    argv = ["check", "--format", "json" if json_format else "text"]
    if strict:
        argv.append("--strict")
    with tempfile.TemporaryDirectory() as tmp:
        project = write(Path(tmp), files)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([*argv, "--project", str(project)])

    assert code in (0, 1), err.getvalue()
    assert err.getvalue() == ""
    assert out.getvalue()
