"""generator/errors.py: diagnostics as printed and serialised, did-you-mean, the exception tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecospec.generator.errors import (
    Diagnostic,
    EcospecError,
    Location,
    Severity,
    SpecError,
    UsageError,
    did_you_mean,
    format_path,
    relative_name,
)

HERE = Location("spec/roles.yaml", 3, 5)


@pytest.mark.parametrize(
    ("word", "pool", "hint"),
    [
        ("mony", ["money", "int", "string"], " (did you mean 'money'?)"),
        ("Complx", ["Complex", "Apartment"], " (did you mean 'Complex'?)"),
        ("STRING", ["string"], " (did you mean 'string'?)"),
        ("zzz", ["string", "money"], ""),
        ("anything", [], ""),
    ],
)
def test_did_you_mean(word: str, pool: list[str], hint: str) -> None:
    assert did_you_mean(word, pool) == hint


def test_format_path() -> None:
    assert format_path(("entities", "Apartment", "fields", "price", "type")) == (
        "entities.Apartment.fields.price.type"
    )
    assert format_path(("seed", "Complex", 0, "name")) == "seed.Complex[0].name"
    assert format_path(("roles", "manager", "inherits", 1)) == "roles.manager.inherits[1]"
    assert format_path(()) == ""


def test_diagnostic_prints_file_line_column_path_message() -> None:
    error = Diagnostic(HERE, ("roles", "public", "Complx"), "unknown entity 'Complx'")
    warning = Diagnostic(HERE, ("roles",), "odd", Severity.WARNING)
    bare = Diagnostic(None, (), "invalid")

    assert str(error) == "spec/roles.yaml:3:5: roles.public.Complx: unknown entity 'Complx'"
    assert str(warning) == "spec/roles.yaml:3:5: warning: roles: odd"
    assert str(bare) == "invalid"


def test_diagnostic_json() -> None:
    first = Location("spec/a.yaml", 1, 1)
    diagnostic = Diagnostic(HERE, ("roles", "public"), "twice", related=(first,))

    assert diagnostic.to_json() == {
        "severity": "error",
        "file": "spec/roles.yaml",
        "line": 3,
        "column": 5,
        "path": "roles.public",
        "message": "twice",
        "related": ["spec/a.yaml:1:1"],
    }
    assert Diagnostic(None, (), "x").to_json()["file"] is None


def test_diagnostics_sort_by_file_line_column() -> None:
    diagnostics = [
        Diagnostic(Location("spec/b.yaml", 1, 1), (), "b"),
        Diagnostic(Location("spec/a.yaml", 10, 1), (), "a10"),
        Diagnostic(Location("spec/a.yaml", 2, 9), (), "a2-9"),
        Diagnostic(Location("spec/a.yaml", 2, 3), (), "a2-3"),
    ]

    ordered = sorted(diagnostics, key=Diagnostic.sort_key)

    assert [d.message for d in ordered] == ["a2-3", "a2-9", "a10", "b"]


def test_spec_error_carries_every_diagnostic() -> None:
    error = Diagnostic(HERE, ("roles",), "bad")
    warning = Diagnostic(HERE, ("title",), "odd", Severity.WARNING)

    exc = SpecError([error, warning])

    assert exc.diagnostics == (error, warning)
    assert str(exc) == "spec/roles.yaml:3:5: roles: bad"
    assert [d["message"] for d in json.loads(exc.to_json())] == ["bad", "odd"]


def test_exit_codes() -> None:
    assert issubclass(SpecError, EcospecError)
    assert issubclass(UsageError, EcospecError)
    assert SpecError([]).exit_code == 1
    assert UsageError("x").exit_code == 2


def test_relative_name(tmp_path: Path) -> None:
    assert relative_name(tmp_path / "spec" / "roles.yaml", tmp_path) == "spec/roles.yaml"
    assert relative_name(Path("/elsewhere/x.yaml"), tmp_path) == "/elsewhere/x.yaml"
