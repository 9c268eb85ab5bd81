"""The docs follow the code: every spec key, field type, operator and CLI option is documented."""

from __future__ import annotations

import argparse
import re
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from ecospec.cli import build_parser
from ecospec.generator.fieldtypes import ALL_OPERATORS, FIELD_TYPES
from ecospec.generator.loader import load_project
from ecospec.generator.model import FieldSpec, LandingFile, Spec

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# docs/spec.md marks each section with an anchor: `<!-- model: FieldSpec -->` before the section
# documenting that model, `<!-- table: field-types -->` before a table of another kind. A section
# runs from its anchor to the next anchor; its keys are the rows of its table: | `key` | … |.
ANCHOR_RE = re.compile(r"<!-- (model|table): ([A-Za-z][\w-]*) -->")
ROW_RE = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$", re.MULTILINE)
TICKED_RE = re.compile(r"`([^`]+)`")
COMMAND_RE = re.compile(r"^## `ecospec (\w+)`", re.MULTILINE)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def sections(text: str, kind: str) -> dict[str, str]:
    """The text of each anchored section of one kind, by the name its anchor gives."""
    anchors = list(ANCHOR_RE.finditer(text))
    found: dict[str, str] = {}
    for i, anchor in enumerate(anchors):
        end = anchors[i + 1].start() if i + 1 < len(anchors) else len(text)
        if anchor.group(1) == kind:
            assert anchor.group(2) not in found, f"two sections for {anchor.group(2)}"
            found[anchor.group(2)] = text[anchor.end() : end]
    return found


def rows(section: str) -> dict[str, list[str]]:
    """The table rows of a section whose first cell is one `name`: the name and the other cells."""
    return {
        m.group(1): [c.strip() for c in m.group(2).split("|")] for m in ROW_RE.finditer(section)
    }


def models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation mentions, through Annotated, unions, lists and dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from models_in(arg)


def reachable(*roots: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model a spec file may hold, found from the roots by their fields and extra keys."""
    seen: list[type[BaseModel]] = []
    todo = list(roots)
    while todo:
        model = todo.pop(0)
        if model in seen:
            continue
        seen.append(model)
        annotations = [info.annotation for info in model.model_fields.values()]
        # A role's entity grants are its extra keys, typed by __pydantic_extra__.
        annotations.append(typing.get_type_hints(model).get("__pydantic_extra__"))
        for annotation in annotations:
            todo.extend(models_in(annotation))
    return seen


MODELS = reachable(Spec, LandingFile)


def own_keys(model: type[BaseModel]) -> list[str]:
    """The keys a user writes for a model (aliases when set), less those of a documented base."""
    inherited: set[str] = set()
    for base in model.__mro__[1:]:
        if base in MODELS and issubclass(base, BaseModel):
            inherited.update(base.model_fields)
    return [
        info.alias or name for name, info in model.model_fields.items() if name not in inherited
    ]


def all_keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def undocumented(section: str, keys: list[str]) -> list[str]:
    documented = rows(section)
    return [key for key in keys if key not in documented]


def test_the_walk_finds_every_model() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"Spec", "FieldSpec", "Role", "EntityGrant", "ReadRule", "LandingFile"} <= names
    assert "from" in own_keys(FieldSpec)
    assert own_keys(LandingFile) == ["landing"]


def test_every_model_has_a_section() -> None:
    documented = sections(read(DOCS / "spec.md"), "model")
    missing = [m.__name__ for m in MODELS if m.__name__ not in documented]
    assert not missing, f"docs/spec.md has no '<!-- model: X -->' section for {missing}"
    stale = sorted(set(documented) - {m.__name__ for m in MODELS})
    assert not stale, f"docs/spec.md documents models the spec no longer has: {stale}"


def test_every_key_is_documented_in_its_section() -> None:
    documented = sections(read(DOCS / "spec.md"), "model")
    problems: list[str] = []
    for model in MODELS:
        section = documented.get(model.__name__, "")
        problems += [f"{model.__name__}.{k}" for k in undocumented(section, own_keys(model))]
    assert not problems, f"docs/spec.md: keys missing from their model's table: {problems}"


def test_every_documented_key_exists() -> None:
    documented = sections(read(DOCS / "spec.md"), "model")
    problems: list[str] = []
    for model in MODELS:
        for key in rows(documented.get(model.__name__, "")):
            if key not in all_keys(model):
                problems.append(f"{model.__name__}.{key}")
    assert not problems, f"docs/spec.md documents keys the models do not have: {problems}"


def test_a_new_key_without_docs_is_caught() -> None:
    class Probe(FieldSpec):
        brand_new_option: int = Field(0, alias="brand-new")

    assert own_keys(Probe) == ["brand-new"]
    section = sections(read(DOCS / "spec.md"), "model")["FieldSpec"]
    assert undocumented(section, own_keys(Probe)) == ["brand-new"]


def test_every_field_type_is_documented_with_its_operators() -> None:
    table = rows(sections(read(DOCS / "spec.md"), "table")["field-types"])
    assert list(table) == list(FIELD_TYPES), "the field-types table lists the types in order"
    for name, cells in table.items():
        operators = TICKED_RE.findall(cells[-1])
        assert set(operators) == set(FIELD_TYPES[name].operators), (
            f"docs/spec.md: the operators of {name} are {FIELD_TYPES[name].operators}, "
            f"the docs say {operators}"
        )


def test_every_operator_is_documented() -> None:
    text = read(DOCS / "spec.md")
    table = rows(sections(text, "table")["operators"])
    assert set(table) == set(ALL_OPERATORS)
    for operator in ALL_OPERATORS:
        assert f"`{operator}`" in text


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    assert parser._subparsers is not None
    for action in parser._subparsers._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the ecospec parser has no subcommands")


def test_every_command_and_option_is_documented() -> None:
    text = read(DOCS / "cli.md")
    headings = COMMAND_RE.findall(text)
    commands = subcommands()
    assert sorted(headings) == sorted(commands), "docs/cli.md has a '## `ecospec X`' per command"
    parts = COMMAND_RE.split(text)
    bodies = dict(zip(parts[1::2], parts[2::2], strict=True))
    problems: list[str] = []
    for name, sub in commands.items():
        body = bodies[name]
        for action in sub._actions:
            for option in action.option_strings:
                if option in ("-h", "--help") or not option.startswith("--"):
                    continue
                if not re.search(rf"`{re.escape(option)}[` =]", body):
                    problems.append(f"ecospec {name} {option}")
            for choice in action.choices or ():
                if f"`{choice}`" not in body and f" {choice}`" not in body:
                    problems.append(f"ecospec {name} {'/'.join(action.option_strings)} {choice}")
    assert not problems, f"docs/cli.md does not document: {problems}"


def test_readme_gives_the_two_commands() -> None:
    readme = read(ROOT / "README.md")
    assert "make demo" in readme
    assert "make test" in readme


def test_the_index_links_every_doc() -> None:
    index = read(DOCS / "index.md")
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.name != "index.md"]
    missing = [name for name in missing if f"({name})" not in index]
    assert not missing, f"docs/index.md does not link {missing}"


def test_every_command_is_in_the_tables_of_commands() -> None:
    commands = sorted(subcommands())
    cli_table = re.findall(r"^\| \[`ecospec (\w+)`\]", read(DOCS / "cli.md"), re.MULTILINE)
    assert sorted(cli_table) == commands, "docs/cli.md's table of commands"
    row = next(line for line in read(DOCS / "index.md").splitlines() if "(cli.md)" in line)
    listed = re.findall(r"`(\w+)`", row)
    assert [c for c in commands if c not in listed] == [], "docs/index.md's row of cli.md"
    readme = set(re.findall(r"^\| `ecospec (\w+)", read(ROOT / "README.md"), re.MULTILINE))
    readme |= set(re.findall(r"`ecospec (\w+)`", read(ROOT / "README.md")))
    assert [c for c in commands if c not in readme] == [], "README's table of commands"


def test_the_readme_links_every_doc() -> None:
    readme = read(ROOT / "README.md")
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"(docs/{p.name})" not in readme]
    assert not missing, f"README.md's documentation list does not link {missing}"


def test_the_example_project_passes_check(tmp_path: Path) -> None:
    """The docs/spec.md examples that start with `# spec/<file>` form one valid project."""
    blocks = re.findall(r"```yaml\n# (spec/\S+\.ya?ml)\n(.*?)```", read(DOCS / "spec.md"), re.S)
    assert len(blocks) >= 6
    for name, body in blocks:
        path = tmp_path / name
        assert not path.exists(), f"docs/spec.md gives {name} twice"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n{body}", encoding="utf-8")
    result = load_project(tmp_path)
    assert [str(d) for d in result.diagnostics] == []
    assert result.spec is not None


def test_every_block_and_parameter_is_documented() -> None:
    from ecospec.generator.blocks import load_blocks

    text = read(DOCS / "blocks.md")
    library = load_blocks(ROOT)
    assert library.blocks, "no blocks found"
    missing = []
    for name, block in library.blocks.items():
        start = text.find(f"## `{name}`")
        if start < 0:
            missing.append(name)
            continue
        end = text.find("\n## ", start + 1)
        section = text[start : end if end > 0 else len(text)]
        missing += [f"{name}.{param}" for param in block.spec.params if f"`{param}`" not in section]
    assert not missing, f"docs/blocks.md does not document: {missing}"
