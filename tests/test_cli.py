"""cli.py: exit codes, text and JSON reports, `init`, `jsonschema`; in process and as a real command."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import ecospec.cli as cli
from ecospec.generator.jsonschema import spec_file_schema_text

WriteSpec = Callable[[Path, dict[str, str]], Path]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command in process: exit code, stdout, stderr (never a traceback)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """argparse's own errors leave through SystemExit(2); returns what it printed."""
    with pytest.raises(SystemExit) as caught:
        cli.main(list(argv))
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def broken(scaffold_project: Path) -> Path:
    """The scaffold with one unknown field type."""
    catalog = scaffold_project / "spec/entities/catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    assert "price: {type: money, min: 0}" in text
    catalog.write_text(text.replace("price: {type: money,", "price: {type: mony,"), "utf-8")
    return scaffold_project


def with_warning(scaffold_project: Path) -> Path:
    roles = scaffold_project / "spec/roles.yaml"
    text = roles.read_text(encoding="utf-8")
    roles.write_text(text.replace("Category: {read: true}", "Category: {reed: true}"), "utf-8")
    return scaffold_project


# check -------------------------------------------------------------------------------------


def test_check_passes_on_the_scaffold(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    code, out, err = run(capsys, "check", "--project", str(scaffold_project))

    assert code == 0
    assert out == "shop: 6 files, 3 entities, 2 roles, 1 landing: OK\n"
    assert err == ""


def test_check_uses_the_current_folder_by_default(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scaffold_project)

    code, out, _ = run(capsys, "check", "--strict")

    assert code == 0
    assert out.endswith(": OK\n")


def test_check_passes_on_the_demo(capsys: pytest.CaptureFixture[str], demo_project: Path) -> None:
    code, out, _ = run(capsys, "check", "--strict", "--project", str(demo_project))

    assert code == 0, out
    assert out.startswith("north-quarter: ")
    assert out.endswith(": OK\n")


def test_check_reports_a_broken_spec_with_exit_1(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    code, out, err = run(capsys, "check", "--project", str(broken(scaffold_project)))

    assert code == 1
    assert out == (
        "spec/entities/catalog.yaml:15:21: entities.Product.fields.price.type: "
        "unknown type 'mony' (did you mean 'money'?)\n"
        "1 error, 0 warnings\n"
    )
    assert err == ""


def test_check_counts_errors_and_warnings(
    capsys: pytest.CaptureFixture[str], write_spec: WriteSpec, tmp_path: Path
) -> None:
    project = write_spec(
        tmp_path,
        {
            "spec/ecosystem.yaml": "ecosystem: tiny\ntitel: Tiny\nroles: {public: {}}\n",
            "spec/notes.yaml": "entities:\n  Note:\n    fields:\n      a: {type: txt}\n      b: {type: string}\n",
        },
    )

    code, out, _ = run(capsys, "check", "--project", str(project))

    assert code == 1
    assert out == (
        "spec/ecosystem.yaml:2:1: warning: titel: unknown key 'titel' (did you mean 'title'?)\n"
        "spec/notes.yaml:4:17: entities.Note.fields.a.type: unknown type 'txt' (did you mean 'text'?)\n"
        "1 error, 1 warning\n"
    )


def test_warnings_pass_without_strict(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    code, out, _ = run(capsys, "check", "--project", str(with_warning(scaffold_project)))

    assert code == 0
    assert out == (
        "spec/roles.yaml:4:16: warning: roles.public.Category.reed: "
        "unknown key 'reed' (did you mean 'read'?)\n"
        "shop: 6 files, 3 entities, 2 roles, 1 landing: OK\n"
    )


def test_strict_turns_warnings_into_exit_1(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    code, out, _ = run(
        capsys, "check", "--strict", "--project", str(with_warning(scaffold_project))
    )

    assert code == 1
    assert out.splitlines()[-1] == "0 errors, 1 warning (warnings are errors with --strict)"


def test_json_report_of_a_broken_spec(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    code, out, _ = run(
        capsys, "check", "--format", "json", "--project", str(broken(scaffold_project))
    )

    assert code == 1
    report = json.loads(out)
    assert set(report) == {"ok", "files", "errors", "warnings"}
    assert report["ok"] is False
    assert report["files"] == [
        "spec/ecosystem.yaml",
        "spec/entities/catalog.yaml",
        "spec/entities/crm.yaml",
        "spec/landings/product.yaml",
        "spec/roles.yaml",
        "spec/seed/catalog.yaml",
    ]
    assert report["errors"][0] == {
        "severity": "error",
        "file": "spec/entities/catalog.yaml",
        "line": 15,
        "column": 21,
        "path": "entities.Product.fields.price.type",
        "message": "unknown type 'mony' (did you mean 'money'?)",
        "related": [],
    }
    assert len(report["errors"]) == 1
    assert report["warnings"] == []


def test_json_report_of_a_valid_spec(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    code, out, _ = run(
        capsys, "check", "--format", "json", "--project", str(with_warning(scaffold_project))
    )

    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["errors"] == []
    assert [w["message"] for w in report["warnings"]] == [
        "unknown key 'reed' (did you mean 'read'?)"
    ]
    assert report["warnings"][0]["severity"] == "warning"


def test_json_report_under_strict_fails_on_warnings(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    code, out, _ = run(
        capsys,
        "check",
        "--strict",
        "--format",
        "json",
        "--project",
        str(with_warning(scaffold_project)),
    )

    assert code == 1
    assert json.loads(out)["ok"] is False


# usage errors ------------------------------------------------------------------------------


def test_missing_project_folder_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "check", "--project", str(tmp_path / "nowhere"))

    assert code == 2
    assert out == ""
    assert err == f"ecospec: {tmp_path / 'nowhere'}: no 'spec/' folder here (use --project DIR)\n"


def test_folder_without_spec_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "check", "--project", str(tmp_path))

    assert code == 2
    assert "no 'spec/' folder here" in err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "check", "--bogus")

    assert "unrecognized arguments: --bogus" in err


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "check", "--format", "xml")

    assert "invalid choice: 'xml'" in err


def test_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys)

    assert "the following arguments are required: COMMAND" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "chekc")

    assert "invalid choice: 'chekc'" in err


# jsonschema --------------------------------------------------------------------------------


def test_jsonschema_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "jsonschema")

    assert code == 0
    assert out == spec_file_schema_text()
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# init --------------------------------------------------------------------------------------


def test_init_scaffolds_a_project_that_passes_strict_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "tea-shop"

    code, out, err = run(capsys, "init", str(target))

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"created tea-shop in {target}:",
        "  spec/ecosystem.yaml",
        "  spec/entities/catalog.yaml",
        "  spec/entities/crm.yaml",
        "  spec/roles.yaml",
        "  spec/landings/product.yaml",
        "  spec/seed/catalog.yaml",
        "  ecospec.schema.json",
        "  schema.graphql",
        "  .gitignore",
        "  ci/ecospec.sh",
        "  .github/workflows/ecospec.yml",
        "  .gitlab-ci.yml",
        f'next: ecospec check --project "{target}"',
    ]
    assert os.access(target / "ci/ecospec.sh", os.X_OK)
    assert (target / "spec/ecosystem.yaml").read_text(encoding="utf-8").splitlines()[:2] == [
        "# yaml-language-server: $schema=../ecospec.schema.json",
        "ecosystem: tea-shop",
    ]
    assert (target / "ecospec.schema.json").read_text(encoding="utf-8") == spec_file_schema_text()
    code, out, _ = run(capsys, "check", "--strict", "--project", str(target))
    assert code == 0
    assert out == "tea-shop: 6 files, 3 entities, 2 roles, 1 landing: OK\n"
    code, out, _ = run(capsys, "schema", "--check", "--project", str(target))
    assert (code, out) == (0, f"{target / 'schema.graphql'}: up to date\n")


def test_init_of_a_relative_folder_says_where_it_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, _ = run(capsys, "init", "shop")

    assert code == 0
    assert out.splitlines()[0] == f"created shop in {tmp_path / 'shop'}:"
    assert out.splitlines()[-1] == 'next: ecospec check --project "shop"'


def test_init_keeps_the_ci_settings_a_folder_has(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "shop"
    (target / ".github/workflows").mkdir(parents=True)
    (target / ".github/workflows/ecospec.yml").write_text("name: ours\n", encoding="utf-8")
    (target / ".gitignore").write_text("*.log\n", encoding="utf-8")

    code, out, _ = run(capsys, "init", str(target))

    assert code == 0
    lines = out.splitlines()
    assert "  .github/workflows/ecospec.yml" not in lines
    assert lines[-3:-1] == [
        "kept .gitignore, which was there already",
        "kept .github/workflows/ecospec.yml, which was there already",
    ]
    assert (target / ".github/workflows/ecospec.yml").read_text(encoding="utf-8") == "name: ours\n"
    assert (target / ".gitignore").read_text(encoding="utf-8") == "*.log\n"
    assert (target / "ci/ecospec.sh").is_file()


def git_repository(folder: Path) -> Path:
    folder.mkdir()
    subprocess.run(["git", "init", "--quiet", str(folder)], check=True, timeout=60)
    return folder


def test_init_inside_a_git_work_tree_warns_that_the_files_are_untracked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repository = git_repository(tmp_path / "website")
    target = repository / "shop"

    code, out, err = run(capsys, "init", str(target))

    assert code == 0
    assert out.splitlines()[0] == f"created shop in {target}:"
    assert err == (
        f"ecospec: warning: {target} is inside the git work tree {repository}, where its files"
        " are untracked: `git add` them there, or create the project elsewhere (CI reads .github/"
        " and .gitlab-ci.yml only at the top of a repository)\n"
    )


def test_init_does_not_warn_at_the_top_of_a_repository_or_where_it_is_ignored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repository = git_repository(tmp_path / "website")
    (repository / ".gitignore").write_text("/scratch/\n", encoding="utf-8")

    assert run(capsys, "init", str(repository))[::2] == (0, "")
    assert run(capsys, "init", str(repository / "scratch" / "shop"))[::2] == (0, "")
    assert run(capsys, "init", str(tmp_path / "elsewhere"))[::2] == (0, "")


def test_init_takes_a_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = run(capsys, "init", str(tmp_path / "Shop"), "--name", "corner-shop")

    assert code == 0
    code, out, _ = run(capsys, "check", "--strict", "--project", str(tmp_path / "Shop"))
    assert code == 0
    assert out.startswith("corner-shop: ")


def test_init_refuses_an_existing_spec(
    capsys: pytest.CaptureFixture[str], scaffold_project: Path
) -> None:
    before = (scaffold_project / "spec/roles.yaml").read_text(encoding="utf-8")

    code, out, err = run(capsys, "init", str(scaffold_project))

    assert code == 2
    assert out == ""
    assert err == (
        f"ecospec: {scaffold_project}/spec already exists; init writes only into a new project\n"
    )
    assert (scaffold_project / "spec/roles.yaml").read_text(encoding="utf-8") == before


def test_init_refuses_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n", encoding="utf-8")

    code, _, err = run(capsys, "init", str(target))

    assert code == 2
    assert err == f"ecospec: {target} is a file, not a folder\n"


def test_init_refuses_a_name_that_is_not_a_slug(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "init", str(tmp_path / "2026"))

    assert code == 2
    assert err == (
        "ecospec: '2026' is not a name of lowercase latin letters, digits and dashes; pass --name\n"
    )
    assert not (tmp_path / "2026").exists()


def test_init_under_a_file_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")

    code, _, err = run(capsys, "init", str(tmp_path / "notes.txt" / "shop"))

    assert code in (1, 2)
    assert err.startswith("ecospec: ")


# the real command --------------------------------------------------------------------------


def real(ecospec: Path, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [str(ecospec), *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def test_real_command_exit_codes(ecospec: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop"

    done = real(ecospec, "init", str(project))
    assert (done.returncode, done.stderr) == (0, "")

    done = real(ecospec, "check", "--strict", cwd=project)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "shop: 6 files, 3 entities, 2 roles, 1 landing: OK\n",
        "",
    )

    broken(project)
    done = real(ecospec, "check", "--project", str(project))
    assert done.returncode == 1
    assert "spec/entities/catalog.yaml:15:21: entities.Product.fields.price.type: " in done.stdout
    assert "Traceback" not in done.stderr

    done = real(ecospec, "check", "--format", "json", "--project", str(project))
    assert done.returncode == 1
    assert json.loads(done.stdout)["ok"] is False

    done = real(ecospec, "check", "--project", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.startswith("ecospec: ")
    assert "Traceback" not in done.stderr

    done = real(ecospec, "check", "--bogus")
    assert done.returncode == 2
    assert "unrecognized arguments: --bogus" in done.stderr
    assert "Traceback" not in done.stderr

    done = real(ecospec, "init", str(project))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_real_command_prints_non_ascii_diagnostics(ecospec: Path, tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "ecosystem.yaml").write_text(
        "ecosystem: Северный\nroles: {public: {}}\n", encoding="utf-8"
    )
    env_lang = {"LANG": "C", "LC_ALL": "C"}
    done = subprocess.run(
        [str(ecospec), "check", "--project", str(tmp_path)],
        capture_output=True,
        env={**os.environ, **env_lang},
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    assert (
        "spec/ecosystem.yaml:1:12: ecosystem: 'Северный' is not a name of lowercase latin "
        "letters, digits and dashes"
    ).encode() in done.stdout
