"""Fixtures shared by the test modules: projects written to tmp_path, the demo, a scaffold."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ecospec.generator.scaffold import scaffold

ROOT = Path(__file__).resolve().parent.parent
# A copy of the demo project: its folders, with the built-in blocks as the project's own blocks/.
DEMO_FOLDERS = {"spec": "spec", "blocks": "ecospec/blocks", "static": "static"}
DEMO_SPEC = ROOT / "spec"

WriteSpec = Callable[[Path, dict[str, str]], Path]


def write_files(project: Path, files: dict[str, str]) -> Path:
    """Write `files` (paths relative to the project, text as given) and return the project."""
    for rel, text in files.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (project / "spec").mkdir(exist_ok=True)
    return project


@pytest.fixture
def write_spec() -> WriteSpec:
    """`write_spec(tmp_path, {"spec/roles.yaml": "roles: …"})` writes a project, returns its folder."""
    return write_files


@pytest.fixture
def demo_project() -> Path:
    """The repository itself, whose spec/ is the demo ecosystem."""
    if not (DEMO_SPEC / "ecosystem.yaml").is_file():
        pytest.skip("the demo ecosystem (spec/ecosystem.yaml) is not written yet")
    return ROOT


@pytest.fixture
def scaffold_project(tmp_path: Path) -> Path:
    """A fresh project from `ecospec init`."""
    project = tmp_path / "shop"
    scaffold(project)
    return project


@pytest.fixture
def demo_copy(demo_project: Path, tmp_path: Path) -> Path:
    """A copy of the demo project's spec/ in tmp_path, free to mangle."""
    project = tmp_path / "demo"
    shutil.copytree(demo_project / "spec", project / "spec")
    return project


def ecospec_executable() -> Path:
    """The `ecospec` script installed next to the running interpreter."""
    candidate = Path(sys.executable).parent / "ecospec"
    if candidate.is_file():
        return candidate
    found = shutil.which("ecospec")
    if found is None:
        pytest.fail("the ecospec command is not installed (pip install -e .)")
    return Path(found)


@pytest.fixture
def ecospec() -> Path:
    return ecospec_executable()
