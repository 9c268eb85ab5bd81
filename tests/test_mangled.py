"""A real spec mangled with four faults in four files: `ecospec check` reports every one of them."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ecospec.generator.errors import Location
from ecospec.generator.source import SourceFile, read_yaml

SYNTAX_LINE = "broken: [1, 2\n"


@dataclass
class Spot:
    """A plain scalar in a spec file: which file, where, its key path and its text."""

    file: str
    path: tuple[str | int, ...]
    location: Location
    text: str


def parsed(project: Path) -> list[SourceFile]:
    files = sorted((project / "spec").rglob("*.y*ml"))
    return [read_yaml(p, p.relative_to(project).as_posix()) for p in files]


def replace_at(project: Path, spot: Spot, new: str) -> None:
    file = project / spot.file
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    line = lines[spot.location.line - 1]
    start = spot.location.column - 1
    assert line[start : start + len(spot.text)] == spot.text
    lines[spot.location.line - 1] = line[:start] + new + line[start + len(spot.text) :]
    file.write_text("".join(lines), encoding="utf-8")


def append(project: Path, name: str, text: str) -> int:
    """Append `text` to a file; returns the line number of its first line."""
    file = project / name
    old = file.read_text(encoding="utf-8")
    if not old.endswith("\n"):
        old += "\n"
    file.write_text(old + text, encoding="utf-8")
    return old.count("\n") + 1


def field_spots(source: SourceFile, key: str) -> list[Spot]:
    """Every `entities.E.fields.f.<key>` written as a plain scalar in the file."""
    spots = []
    text = ""
    for path, location in source.values.items():
        if len(path) == 5 and path[0] == "entities" and path[2] == "fields" and path[4] == key:
            value = source.data
            for part in path:
                value = value[part]
            if isinstance(value, str):
                text = value
                spots.append(Spot(source.name, path, location, text))
    return spots


def is_plain(project: Path, spot: Spot) -> bool:
    line = (project / spot.file).read_text(encoding="utf-8").splitlines()[spot.location.line - 1]
    start = spot.location.column - 1
    return line[start : start + len(spot.text)] == spot.text


def mangle(project: Path) -> list[str]:
    """Put four faults into four files; returns the diagnostic (prefix) each must produce."""
    sources = parsed(project)
    entity_files = [s for s in sources if isinstance(s.data, dict) and "entities" in s.data]
    assert len(entity_files) >= 2, "the spec needs entities in two files"
    expected = []

    # 1. a bad field type in the first entities file
    first = entity_files[0]
    typed = [s for s in field_spots(first, "type") if s.text == "string" and is_plain(project, s)]
    spot = typed[0]
    replace_at(project, spot, "strng")
    _, entity, _, field, _ = spot.path
    expected.append(
        f"{spot.location}: entities.{entity}.fields.{field}.type: "
        "unknown type 'strng' (did you mean 'string'?)"
    )

    # 2. a dangling reference in another entities file
    refs = [
        s for source in entity_files[1:] for s in field_spots(source, "to") if is_plain(project, s)
    ]
    spot = refs[0]
    replace_at(project, spot, "Nowhere")
    _, entity, _, field, _ = spot.path
    expected.append(
        f"{spot.location}: entities.{entity}.fields.{field}.to: unknown entity 'Nowhere'"
    )

    # 3. a YAML syntax error in a landing file
    landing = next(s.name for s in sources if s.name.startswith("spec/landings/"))
    line = append(project, landing, SYNTAX_LINE)
    expected.append(
        f"{landing}:{line + 1}:1: YAML syntax: while parsing a flow sequence, "
        "did not find expected ',' or ']'"
    )

    # 4. an entity defined again in a seed file (sorted after the entities files)
    seed = next(s.name for s in sources if s.name.startswith("spec/seed/"))
    assert isinstance(first.data, dict)
    twin = next(iter(first.data["entities"]))
    line = append(
        project, seed, f"entities:\n  {twin}:\n    fields:\n      name: {{type: string}}\n"
    )
    expected.append(
        f"{seed}:{line + 1}:3: entities.{twin}: entity '{twin}' is defined twice: "
        f"here and at {first.keys[('entities', twin)]}"
    )

    assert len({e.split(":")[0] for e in expected}) == 4, "four faults in four files"
    return expected


def check_reports_all_four(ecospec: Path, project: Path) -> None:
    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ecospec), "check", "--project", str(project)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            check=False,
        )

    before = check()
    assert before.returncode == 0, before.stdout

    expected = mangle(project)
    after = check()

    assert after.returncode == 1
    assert "Traceback" not in after.stderr
    lines = after.stdout.splitlines()
    for message in expected:
        assert any(line.startswith(message) for line in lines), (message, after.stdout)
    reported = [line for line in lines if any(line.startswith(m) for m in expected)]
    assert reported == sorted(reported, key=lambda line: line.split(":")[0])


def test_mangled_demo_reports_every_fault(ecospec: Path, demo_copy: Path) -> None:
    check_reports_all_four(ecospec, demo_copy)


def test_mangled_scaffold_reports_every_fault(ecospec: Path, scaffold_project: Path) -> None:
    check_reports_all_four(ecospec, scaffold_project)
