"""The checks of the seed section: every diagnostic a seed record can earn, pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import WriteSpec, check, edit


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{name: Северный, status: ready}",
            "{name: Северный, stauts: ready}",
            "spec/seed/catalog.yaml:3:24: seed.Complex[0].stauts: "
            "Complex has no field 'stauts' (did you mean 'status'?)",
        ),
        (
            "{name: Северный, status: ready}",
            "{name: Северный, status: done}",
            "spec/seed/catalog.yaml:3:32: seed.Complex[0].status: "
            "'done' is not one of: planned, building, ready",
        ),
        (
            "complex: severnyi",
            "complex: iuzhnyi",
            "spec/seed/catalog.yaml:5:30: seed.Apartment[0].complex: "
            "no Complex seed record has slug 'iuzhnyi'",
        ),
        (
            "complex: severnyi, ",
            "",
            "spec/seed/catalog.yaml:5:7: seed.Apartment[0]: "
            "required field 'complex' of Apartment is missing",
        ),
        (
            "rooms: 2",
            "rooms: 9",
            "spec/seed/catalog.yaml:5:47: seed.Apartment[0].rooms: 9 is above the maximum 6",
        ),
        (
            "price: 7500000.00",
            "price: 7500000.001",
            "spec/seed/catalog.yaml:5:69: seed.Apartment[0].price: "
            "'7500000.001' has more than 2 decimal places",
        ),
    ],
)
def test_seed_record_problems(
    write_spec: WriteSpec, tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert check(write_spec, tmp_path, edit("spec/seed/catalog.yaml", old, new)) == [message]


def test_seed_duplicate_unique_value(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/seed/more.yaml": "seed:\n  Apartment:\n    - {number: A-1, complex: severnyi}\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/seed/more.yaml:3:16: seed.Apartment[1].number: "
        "number 'A-1' is taken by seed record 0 of Apartment"
    ]


def test_seed_duplicate_derived_slug(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/seed/more.yaml": "seed:\n  Complex:\n    - {name: Северный}\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/seed/more.yaml:3:7: seed.Complex[1]: "
        "slug 'severnyi' (made from name) is taken by seed record 0 of Complex"
    ]


def test_seed_for_unknown_entity(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/seed/more.yaml": "seed:\n  Complexes:\n    - {name: x}\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/seed/more.yaml:2:3: seed.Complexes: unknown entity 'Complexes' (did you mean 'Complex'?)"
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "messages"),
    [
        (
            "spec/seed/catalog.yaml",
            "{name: Северный, status: ready}",
            "{name: Северный, status: ready, id: 3}",
            [
                "spec/seed/catalog.yaml:3:39: seed.Complex[0].id: 'id' is set by Ecospec, not by seed records"
            ],
        ),
        (
            "spec/seed/catalog.yaml",
            "{name: Северный, status: ready}",
            "Северный",
            [
                "spec/seed/catalog.yaml:3:7: seed.Complex[0]: expected a mapping, got 'Северный'",
                "spec/seed/catalog.yaml:5:30: seed.Apartment[0].complex: no Complex seed record has slug 'severnyi'",
            ],
        ),
        (
            "spec/entities/catalog.yaml",
            "max_length: 120",
            "max_length: 3",
            ["spec/seed/catalog.yaml:3:14: seed.Complex[0].name: longer than 3 characters"],
        ),
        (
            "spec/seed/catalog.yaml",
            "{name: Северный, status: ready}",
            "{status: ready}",
            [
                "spec/seed/catalog.yaml:3:7: seed.Complex[0]: required field 'name' of Complex is missing",
                "spec/seed/catalog.yaml:5:30: seed.Apartment[0].complex: no Complex seed record has slug 'severnyi'",
            ],
        ),
    ],
)
def test_more_seed_record_problems(
    write_spec: WriteSpec, tmp_path: Path, name: str, old: str, new: str, messages: list[str]
) -> None:
    assert check(write_spec, tmp_path, edit(name, old, new)) == messages
