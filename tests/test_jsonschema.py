"""generator/jsonschema.py: the schema editors use agrees with what `ecospec check` accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import ecospec.cli as cli
from ecospec.generator.fieldtypes import FIELD_TYPES
from ecospec.generator.jsonschema import SCHEMA_ID, spec_file_schema, spec_file_schema_text
from ecospec.generator.scaffold import SCHEMA_FILE
from ecospec.generator.source import read_yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def schema(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The schema as `ecospec jsonschema` prints it."""
    assert cli.main(["jsonschema"]) == 0
    printed: dict[str, Any] = json.loads(capsys.readouterr().out)
    return printed


@pytest.fixture
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(schema)


def problems(validator: Any, data: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(data)
    ]


def spec_data(project: Path) -> dict[str, Any]:
    """Each spec file's data as the loader reads it (YAML 1.2 scalars), by name."""
    found = {}
    for path in sorted((project / "spec").rglob("*.y*ml")):
        source = read_yaml(path, path.relative_to(project).as_posix())
        assert source.diagnostics == []
        if source.data is not None:
            found[source.name] = source.data
    return found


def test_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID


def test_printed_schema_is_the_generated_one(schema: dict[str, Any]) -> None:
    assert schema == spec_file_schema()
    assert spec_file_schema_text().endswith("}\n")


def test_schema_lists_every_field_type(schema: dict[str, Any]) -> None:
    assert schema["$defs"]["FieldSpec"]["properties"]["type"]["enum"] == list(FIELD_TYPES)


def test_every_demo_file_validates(validator: Any, demo_project: Path) -> None:
    files = spec_data(demo_project)

    assert len(files) > 5
    assert {name: problems(validator, data) for name, data in files.items()} == {
        name: [] for name in files
    }


def test_every_scaffold_file_validates(validator: Any, scaffold_project: Path) -> None:
    files = spec_data(scaffold_project)

    assert "spec/landings/product.yaml" in files
    assert {name: problems(validator, data) for name, data in files.items()} == {
        name: [] for name in files
    }


def test_scaffold_writes_the_schema(scaffold_project: Path) -> None:
    assert (scaffold_project / SCHEMA_FILE).read_text(encoding="utf-8") == spec_file_schema_text()


def entities(field: dict[str, Any]) -> dict[str, Any]:
    return {"entities": {"Tea": {"fields": {"price": field}}}}


def test_unknown_field_type_fails_validation(validator: Any) -> None:
    assert problems(validator, entities({"type": "money"})) == []
    assert problems(validator, entities({"type": "mony"})) != []


def test_unknown_key_fails_validation(validator: Any) -> None:
    assert problems(validator, entities({"type": "money", "requird": True})) != []
    assert problems(validator, {"entites": {}}) != []


def test_landing_file_needs_a_path(validator: Any) -> None:
    assert problems(validator, {"landing": "promo", "path": "/promo/"}) == []
    assert problems(validator, {"landing": "promo"}) != []


def test_role_grants_validate(validator: Any) -> None:
    roles = {
        "roles": {
            "public": {
                "description": "everyone",
                "Tea": {"read": {"where": {"status": {"eq": "on_sale"}}}, "create": True},
            },
            "manager": {"inherits": ["public"], "Tea": {"update": {"fields": ["price"]}}},
        }
    }

    assert problems(validator, roles) == []
    assert problems(validator, {"roles": {"public": {"Tea": {"reed": True}}}}) != []


def test_committed_schema_has_not_drifted() -> None:
    committed = ROOT / SCHEMA_FILE
    if not committed.is_file():
        pytest.skip(f"no {SCHEMA_FILE} committed at the repository root")

    assert committed.read_text(encoding="utf-8") == spec_file_schema_text(), (
        f"{SCHEMA_FILE} is stale: run `ecospec jsonschema > {SCHEMA_FILE}`"
    )
