"""The checks of the landings section: every diagnostic a landing's name, records and path can
earn, pinned (its blocks: tests/test_checks_blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import WriteSpec, check, edit, load

from ecospec.generator.errors import Location


def test_anonymous_role_must_read_what_landings_show(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/roles.yaml", "    Complex: {read: true}\n", "")

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:2:20: landings.complex.for_each.entity: "
        "pages are built as the anonymous role 'public', which may not read Complex"
    ]


def test_path_placeholder_naming_a_missing_field(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/landings/complex.yaml", "{slug}", "{slg}")

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:3:7: landings.complex.path: "
        "path names '{slg}', but Complex has no field 'slg' (did you mean 'slug'?)"
    ]


def test_path_placeholder_on_a_field_that_is_not_unique(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = edit("spec/landings/complex.yaml", "{slug}", "{name}")

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:3:7: warning: landings.complex.path: "
        "'name' is not unique: two Complex records may get the same page"
    ]


@pytest.mark.parametrize("placeholder", ["id", "created_at"])
def test_path_placeholder_on_a_system_field_is_accepted(
    write_spec: WriteSpec, tmp_path: Path, placeholder: str
) -> None:
    files = edit("spec/landings/complex.yaml", "{slug}", "{" + placeholder + "}")

    assert [m for m in check(write_spec, tmp_path, files) if "warning" not in m] == []


def test_path_placeholder_on_created_at_warns_it_is_not_unique(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = edit("spec/landings/complex.yaml", "{slug}", "{created_at}")

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:3:7: warning: landings.complex.path: "
        "'created_at' is not unique: two Complex records may get the same page"
    ]


def test_path_placeholder_without_for_each(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/landings/promo.yaml": "landing: promo\npath: /promo/{slug}/\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/promo.yaml:2:7: landings.promo.path: "
        "'{slug}' needs a record: add 'for_each' or write a fixed path"
    ]


def test_for_each_without_placeholder(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/landings/complex.yaml", "/complexes/{slug}/", "/complexes/")

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:3:7: landings.complex.path: a for_each landing makes one page "
        "per record; its path needs a placeholder such as {slug}"
    ]


def test_two_landings_with_the_same_path(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        "spec/landings/promo.yaml": "landing: promo\nfor_each: {entity: Apartment}\npath: /complexes/{id}/\n"
    }
    result = load(write_spec, tmp_path, files)

    assert [str(d) for d in result.diagnostics] == [
        "spec/landings/promo.yaml:3:7: landings.promo.path: landings 'complex' and 'promo' "
        "produce the same path /complexes/{id}/ (the other at spec/landings/complex.yaml:3:7)"
    ]
    assert result.diagnostics[0].related == (Location("spec/landings/complex.yaml", 3, 7),)


def test_landing_without_path(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/landings/promo.yaml": "landing: promo\ntitle: Promo\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/promo.yaml:1:1: landings.promo: missing required key 'path'"
    ]


def test_landing_for_each_on_unknown_entity(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/landings/complex.yaml", "entity: Complex", "entity: Complexx")

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:2:20: landings.complex.for_each.entity: "
        "unknown entity 'Complexx' (did you mean 'Complex'?)"
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "messages"),
    [
        (
            "spec/landings/complex.yaml",
            "path: /complexes/{slug}/",
            "path: complexes/{slug}/",
            [
                "spec/landings/complex.yaml:3:7: landings.complex.path: a path starts with '/', like '/complexes/{slug}/'"
            ],
        ),
        (
            "spec/landings/complex.yaml",
            "/complexes/{slug}/",
            "/complexes/{apartments}/",
            [
                "spec/landings/complex.yaml:3:7: landings.complex.path: 'apartments' is a list field and cannot be part of a path"
            ],
        ),
        (
            "spec/landings/complex.yaml",
            "where: {status: {ne: planned}}}",
            "where: {status: {ne: planned}}, order_by: [apartments, -nmae]}",
            [
                "spec/landings/complex.yaml:2:72: landings.complex.for_each.order_by[0]: cannot sort by list field 'apartments'",
                "spec/landings/complex.yaml:2:84: landings.complex.for_each.order_by[1]: unknown field of Complex 'nmae' (did you mean 'name'?)",
            ],
        ),
        (
            "spec/roles.yaml",
            "Complex: {read: true}",
            "Complex: {read: {fields: [name]}}",
            [
                "spec/landings/complex.yaml:3:7: landings.complex.path: 'slug' is hidden from the anonymous role 'public', which builds the pages"
            ],
        ),
    ],
)
def test_landing_problems(
    write_spec: WriteSpec, tmp_path: Path, name: str, old: str, new: str, messages: list[str]
) -> None:
    assert check(write_spec, tmp_path, edit(name, old, new)) == messages
