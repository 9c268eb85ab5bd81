"""The checks of the entities section: every diagnostic an entity or a field can earn, pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import WriteSpec, check, edit


def test_unknown_field_type_with_did_you_mean(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/entities/catalog.yaml", "price: {type: money}", "price: {type: mony}")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:15:21: entities.Apartment.fields.price.type: "
        "unknown type 'mony' (did you mean 'money'?)"
    ]


def test_field_type_that_is_not_text(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/entities/catalog.yaml", "price: {type: money}", "price: {type: 5}")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:15:21: entities.Apartment.fields.price.type: "
        "a field type is a name such as 'string'"
    ]


def test_missing_field_type(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/entities/catalog.yaml", "price: {type: money}", "price: {min: 0}")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:15:7: entities.Apartment.fields.price: "
        "missing required key 'type'"
    ]


def test_dangling_ref_to(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/entities/crm.yaml", "to: Complex", "to: Complx")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/crm.yaml:6:32: entities.Lead.fields.complex.to: "
        "unknown entity 'Complx' (did you mean 'Complex'?)"
    ]


def test_ref_without_to(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit(
        "spec/entities/crm.yaml", "complex: {type: ref, to: Complex}", "complex: {type: ref}"
    )

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/crm.yaml:6:16: entities.Lead.fields.complex: a ref field needs 'to: <Entity>'"
    ]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            "apartments: {type: list, of: Apartmnt, via: complex}",
            "spec/entities/catalog.yaml:8:36: entities.Complex.fields.apartments.of: "
            "unknown entity 'Apartmnt' (did you mean 'Apartment'?)",
        ),
        (
            "apartments: {type: list, of: Apartment, via: complx}",
            "spec/entities/catalog.yaml:8:52: entities.Complex.fields.apartments.via: "
            "unknown field of Apartment 'complx' (did you mean 'complex'?)",
        ),
        (
            "apartments: {type: list, of: Apartment, via: rooms}",
            "spec/entities/catalog.yaml:8:52: entities.Complex.fields.apartments.via: "
            "Apartment.rooms is not a ref to Complex",
        ),
        (
            "apartments: {type: list, of: Apartment}",
            "spec/entities/catalog.yaml:8:19: entities.Complex.fields.apartments: "
            "a list field needs 'via: <the ref field of Apartment that points to Complex>' "
            "(did you mean 'complex'?)",
        ),
        (
            "apartments: {type: list}",
            "spec/entities/catalog.yaml:8:19: entities.Complex.fields.apartments: "
            "a list field needs 'of: <Entity>' and 'via: <ref field of that entity>'",
        ),
    ],
)
def test_list_field_of_and_via(
    write_spec: WriteSpec, tmp_path: Path, new: str, message: str
) -> None:
    files = edit(
        "spec/entities/catalog.yaml", "apartments: {type: list, of: Apartment, via: complex}", new
    )

    assert check(write_spec, tmp_path, files) == [message]


def test_list_field_cannot_be_required(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        **edit("spec/entities/catalog.yaml", "via: complex}", "via: complex, required: true}"),
        "spec/seed/catalog.yaml": None,
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:8:71: entities.Complex.fields.apartments.required: "
        "a list field cannot be required"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "yes",
            "spec/entities/catalog.yaml:13:36: entities.Apartment.fields.rooms.required: "
            "expected true or false, got 'yes'",
        ),
        (
            "1",
            "spec/entities/catalog.yaml:13:36: entities.Apartment.fields.rooms.required: "
            "expected true or false, got a number",
        ),
    ],
)
def test_flags_take_only_true_or_false(
    write_spec: WriteSpec, tmp_path: Path, value: str, message: str
) -> None:
    files = edit(
        "spec/entities/catalog.yaml",
        "rooms: {type: int,",
        f"rooms: {{type: int, required: {value},",
    )

    assert check(write_spec, tmp_path, files) == [message]


def test_option_that_does_not_fit_the_type(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit(
        "spec/entities/catalog.yaml", "balcony: {type: bool}", "balcony: {type: bool, to: Complex}"
    )

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:16:29: entities.Apartment.fields.balcony.to: "
        "'to' applies to ref fields, not bool"
    ]


def test_enum_default_outside_the_enum(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/entities/catalog.yaml", "default: free}", "default: fre}")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:17:67: entities.Apartment.fields.status.default: "
        "default 'fre' is not one of: free, booked, sold"
    ]


def test_enum_without_values(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit(
        "spec/entities/crm.yaml",
        "source: {type: enum, values: [landing, phone], default: phone}",
        "source: {type: enum}",
    )

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/crm.yaml:9:15: entities.Lead.fields.source: an enum field needs 'values'"
    ]


def test_min_above_max(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/entities/catalog.yaml", "min: 0, max: 6", "min: 7, max: 6")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:13:39: entities.Apartment.fields.rooms.max: max 6 is below min 7",
        "spec/seed/catalog.yaml:5:47: seed.Apartment[0].rooms: 2 is below the minimum 7",
    ]


def test_default_outside_the_bounds(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/entities/catalog.yaml", "min: 0, max: 6}", "min: 0, max: 6, default: 9}")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:13:51: entities.Apartment.fields.rooms.default: "
        "9 is above the maximum 6"
    ]


def test_entity_without_fields(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/entities/more.yaml": "entities:\n  Flat:\n    title: x\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/more.yaml:2:3: entities.Flat: missing required key 'fields'"
    ]


def test_bad_entity_and_field_names(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        "spec/entities/more.yaml": "entities:\n  flat:\n    fields:\n      Size: {type: int}\n"
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/more.yaml:2:3: entities.flat: "
        "entity names are capitalised latin words, like 'Apartment', not 'flat'",
        "spec/entities/more.yaml:4:7: entities.flat.fields.Size: "
        "field names are lowercase latin with underscores, not 'Size'",
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "messages"),
    [
        (
            "spec/entities/crm.yaml",
            "  Lead:\n",
            "  Lead:\n    renamed_from: Complex\n",
            [
                "spec/entities/crm.yaml:3:19: entities.Lead.renamed_from: 'Complex' is still an entity of its own; a rename needs the old name gone"
            ],
        ),
        (
            "spec/entities/crm.yaml",
            "manager: {type: string}",
            "manager: {type: string, renamed_from: partner}",
            [
                "spec/entities/crm.yaml:7:45: entities.Lead.fields.manager.renamed_from: 'partner' is still a field of Lead; a rename needs the old name gone"
            ],
        ),
        (
            "spec/entities/crm.yaml",
            "manager: {type: string}",
            "manager: {type: string, renamed_from: Manager}",
            [
                "spec/entities/crm.yaml:7:45: entities.Lead.fields.manager.renamed_from: 'Manager' is not a field name"
            ],
        ),
        (
            "spec/entities/crm.yaml",
            "  Lead:\n",
            "  Lead:\n    display: nmae\n",
            [
                "spec/entities/crm.yaml:3:14: entities.Lead.display: unknown field 'nmae' (did you mean 'name'?)"
            ],
        ),
        (
            "spec/entities/crm.yaml",
            "values: [landing, phone]",
            "values: [landing, phone, landing, web-site]",
            [
                "spec/entities/crm.yaml:9:53: entities.Lead.fields.source.values[2]: enum value 'landing' is listed twice",
                "spec/entities/crm.yaml:9:62: entities.Lead.fields.source.values[3]: enum value 'web-site' must be a name (latin letters, digits, underscores)",
            ],
        ),
        (
            "spec/entities/catalog.yaml",
            "complex: {type: ref, to: Complex, required: true}",
            "complex: {type: ref, to: Complex, required: true, on_delete: set_null}",
            [
                "spec/entities/catalog.yaml:12:68: entities.Apartment.fields.complex.on_delete: a required ref cannot be set to null when its target goes"
            ],
        ),
        (
            "spec/entities/catalog.yaml",
            "slug: {type: slug, from: name, unique: true}",
            "slug: {type: slug, from: nmae, unique: true}",
            [
                "spec/entities/catalog.yaml:6:32: entities.Complex.fields.slug.from: unknown field 'nmae' (did you mean 'name'?)",
                "spec/seed/catalog.yaml:5:30: seed.Apartment[0].complex: no Complex seed record has slug 'severnyi'",
            ],
        ),
        (
            "spec/entities/catalog.yaml",
            "slug: {type: slug, from: name, unique: true}",
            "slug: {type: slug, from: status, unique: true}",
            [
                "spec/entities/catalog.yaml:6:32: entities.Complex.fields.slug.from: a slug is made from a string field; 'status' is enum",
                "spec/seed/catalog.yaml:5:30: seed.Apartment[0].complex: no Complex seed record has slug 'severnyi'",
            ],
        ),
        (
            "spec/entities/crm.yaml",
            "partner: {type: string}",
            "partner: {type: json, unique: true}",
            [
                "spec/entities/crm.yaml:8:37: entities.Lead.fields.partner.unique: a json field cannot be unique",
                "spec/roles.yaml:10:37: roles.partner.Lead.read.where.partner.eq: operator 'eq' does not fit json field 'partner' (it takes isNull)",
            ],
        ),
        (
            "spec/entities/catalog.yaml",
            "via: complex}",
            "via: complex, unique: true}",
            [
                "spec/entities/catalog.yaml:8:69: entities.Complex.fields.apartments.unique: a list field cannot be unique"
            ],
        ),
        (
            "spec/entities/crm.yaml",
            "complex: {type: ref, to: Complex}",
            "complex: {type: ref, to: Complex, default: 1}",
            [
                "spec/entities/crm.yaml:6:50: entities.Lead.fields.complex.default: a ref field takes no default"
            ],
        ),
        (
            "spec/entities/crm.yaml",
            "partner: {type: string}",
            "created_at: {type: string}",
            [
                "spec/entities/crm.yaml:8:7: entities.Lead.fields.created_at: 'created_at' is kept by Ecospec for every entity; choose another name",
                "spec/roles.yaml:10:27: roles.partner.Lead.read.where.partner: Lead has no field 'partner'",
            ],
        ),
    ],
)
def test_entity_problems(
    write_spec: WriteSpec, tmp_path: Path, name: str, old: str, new: str, messages: list[str]
) -> None:
    assert check(write_spec, tmp_path, edit(name, old, new)) == messages
