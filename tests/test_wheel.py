"""The wheel: it holds the package data, installs the one name `ecospec`, and works in a new
virtual environment beside packages of someone else's named `runtime` and `generator`.

Slow (a build and an install): `pytest -m "not slow"` leaves it out; `make test` and CI run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "ecospec"

pytestmark = pytest.mark.slow

# A distribution of someone else's, whose top-level packages have the names Ecospec's modules
# had before they moved under `ecospec`.
OTHERS = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "other-tools"
version = "1.0"

[tool.setuptools]
packages = ["runtime", "generator"]
""",
    "runtime/__init__.py": 'WHO = "the other runtime"\n',
    "generator/__init__.py": 'WHO = "the other generator"\n',
}


def run(*command: str | Path, cwd: Path) -> str:
    """Run a command; the test fails with its output when it fails."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("ECOSPEC_")
    }
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_wheel(source: Path, out: Path) -> Path:
    """A wheel of `source`, built by this interpreter's setuptools: no isolated build, so nothing
    is downloaded."""
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        out,
        source,
        cwd=out,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ecospec's wheel, built from a copy of the sources (the build writes beside them)."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        SOURCES, source / "ecospec", ignore=shutil.ignore_patterns("__pycache__", "graphiql")
    )
    dist = folder / "dist"
    dist.mkdir()
    return build_wheel(source, dist)


def files_under(folder: Path, *patterns: str) -> set[str]:
    """The files matching the patterns under a source folder, as the wheel names them."""
    return {
        path.relative_to(ROOT).as_posix()
        for pattern in patterns
        for path in folder.glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_the_one_package_and_its_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    tops = {name.split("/")[0] for name in names}
    assert tops == {"ecospec", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    wanted = (
        files_under(SOURCES, "**/*.py", "**/py.typed")
        | files_under(SOURCES / "blocks", "*/block.yaml", "*/template.html.j2", "*/style.css")
        | files_under(SOURCES / "blocks", "*/script.js")
        | files_under(SOURCES / "generator/templates", "*.*", "ci/*")
        | files_under(SOURCES / "runtime/static", "*.sh", "*.js")
    )
    assert sorted(wanted - names) == []
    assert {"ecospec/py.typed", "ecospec/generator/py.typed", "ecospec/runtime/py.typed"} <= names
    assert {
        "ecospec/blocks/hero/template.html.j2",
        "ecospec/generator/templates/ci/ecospec.sh",
    } <= (names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "ecospec = ecospec.cli:main" in archive.read(entry_points).decode()


def test_the_wheel_installs_beside_packages_named_runtime_and_generator(
    wheel: Path, tmp_path: Path
) -> None:
    others_source = tmp_path / "others"
    for rel, text in OTHERS.items():
        (others_source / rel).parent.mkdir(parents=True, exist_ok=True)
        (others_source / rel).write_text(text, encoding="utf-8")
    dist = tmp_path / "dist"
    dist.mkdir()
    others = build_wheel(others_source, dist)
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env)
    python, ecospec = env / "bin" / "python", env / "bin" / "ecospec"
    run(python, "-m", "pip", "install", "--quiet", others, cwd=tmp_path)
    run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)

    demo = tmp_path / "demo"
    shutil.copytree(ROOT / "spec", demo / "spec")
    out = run(ecospec, "check", "--project", demo, cwd=tmp_path)
    assert out == "north-quarter: 17 files, 12 entities, 6 roles, 7 landings: OK\n"
    out = run(
        python,
        "-c",
        "import runtime, generator, ecospec.runtime, ecospec.generator\n"
        "print(runtime.WHO, generator.WHO, sep=', ')\n"
        "print(ecospec.runtime.__file__)",
        cwd=tmp_path,
    )
    who, where = out.splitlines()
    assert who == "the other runtime, the other generator"
    assert Path(where).is_relative_to(env) and "site-packages" in Path(where).parts

    # the package data at work: a new project's CI recipe, the pages' templates and blocks
    run(ecospec, "init", "shop", cwd=tmp_path)
    assert (tmp_path / "shop/ci/ecospec.sh").is_file()
    run(ecospec, "seed", "--project", "shop", cwd=tmp_path)
    out = run(ecospec, "build", "--project", "shop", cwd=tmp_path)
    assert out.endswith("built 2 pages into shop/sites: 3 written, 0 unchanged, 0 removed\n")
    page = (tmp_path / "shop/sites/products/green-tea/index.html").read_text(encoding="utf-8")
    assert "Green tea" in page
