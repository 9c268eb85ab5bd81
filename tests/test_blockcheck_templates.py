"""`ecospec check` compiles the templates of the blocks the landings use, and names the file and
line of one that does not compile."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import DEMO_FOLDERS, ROOT, ecospec_executable

from ecospec.generator.blocks import load_blocks
from ecospec.generator.loader import load_project

TEMPLATE = "blocks/hero/template.html.j2"


def project_with(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the demo whose hero template has `old` replaced by `new`; the line changed."""
    project = tmp_path / "demo"
    for name in ("spec", "blocks", "static"):
        shutil.copytree(ROOT / DEMO_FOLDERS[name], project / name)
    path = project / TEMPLATE
    text = path.read_text(encoding="utf-8")
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return project, line


def test_a_syntax_error_names_the_template_and_its_line(tmp_path: Path) -> None:
    project, line = project_with(tmp_path, "<h1", "{{ oops( }}<h1")
    errors = [str(d) for d in load_project(project).errors]
    assert [e for e in errors if e.startswith(f"{TEMPLATE}:{line}:1: template: ")] == errors
    assert len(errors) == 1  # once, however many landings use the block


def test_an_unknown_filter_is_an_error(tmp_path: Path) -> None:
    project, line = project_with(tmp_path, "<h1", "{{ 1 | no_such_filter }}<h1")
    errors = [str(d) for d in load_project(project).errors]
    assert errors == [f"{TEMPLATE}:{line}:1: template: No filter named 'no_such_filter'."]


def test_the_check_command_reports_it(tmp_path: Path) -> None:
    project, line = project_with(tmp_path, "<h1", "{% if %}<h1")
    done = subprocess.run(
        [str(ecospec_executable()), "check", "--project", str(project)],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert done.returncode != 0
    assert f"{TEMPLATE}:{line}:1: template: " in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_block_without_a_template_is_named(tmp_path: Path) -> None:
    project, _ = project_with(tmp_path, "<h1", "<h1")
    (project / TEMPLATE).unlink()
    library = load_blocks(project)
    assert [str(d) for d in library.diagnostics] == [
        f"{TEMPLATE}:1:1: the block has no template.html.j2"
    ]
    # the project's hero is left out: the built-in one stands
    assert (
        library.blocks["hero"].folder.resolve() == (ROOT / "ecospec" / "blocks" / "hero").resolve()
    )
