"""generator/checks/sections.py: the one list every section's checks are registered in, and the
context a section check reports through."""

from __future__ import annotations

from pathlib import Path

from specs import WriteSpec, load

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.checks.sections import SECTION_CHECKS, check_spec
from ecospec.generator.errors import KeyPath
from ecospec.generator.model import SECTIONS


def test_every_section_of_the_spec_has_its_checks_registered() -> None:
    registered = [check.__name__ for check in SECTION_CHECKS]
    assert registered == [
        "check_settings",
        "check_entities",
        "check_roles",
        "check_landings",
        "check_seed",
        "check_webhooks",
    ]
    assert {f"check_{section}" for section in SECTIONS} <= set(registered)


def check_complexes_have_a_district(ctx: CheckContext) -> None:
    """A section check as a new section would write one."""
    complex_ = ctx.spec.entities.get("Complex")
    if complex_ is not None and not ctx.has_field("Complex", "district"):
        ctx.unknown(("entities", "Complex", "fields"), "field", "district", complex_.fields)
    if not ctx.known("roles", "visitor"):
        ctx.warn(("roles",), "no role 'visitor'")


def test_a_section_check_reports_where_the_spec_was_written(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    result = load(write_spec, tmp_path, {})
    assert result.spec is not None

    found = check_spec(
        result.spec, result.index, set(), "spec", checks=[check_complexes_have_a_district]
    )

    assert [str(d) for d in found] == [
        "spec/entities/catalog.yaml:5:7: entities.Complex.fields: unknown field 'district'",
        "spec/roles.yaml:2:3: warning: roles: no role 'visitor'",
    ]


def test_a_field_dropped_for_an_error_already_reported_counts_as_known(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    result = load(write_spec, tmp_path, {})
    assert result.spec is not None
    dropped: set[KeyPath] = {("entities", "Complex", "fields", "district"), ("roles", "visitor")}

    found = check_spec(
        result.spec, result.index, dropped, "spec", checks=[check_complexes_have_a_district]
    )

    assert found == []
