"""Mutations through the one write path, on SQLite and PostgreSQL: create, update, delete and upsert,
and bad input refused with a stable `extensions.code`, the field, every problem, and nothing written.

On PostgreSQL the writing tests share one seeded schema, so each works on records it makes itself
and compares counts before and after rather than with fixed numbers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from dbs import Api, exact, seed_records

pytest_plugins = ["dbs"]

RECORD = "id code price status finishing balcony rooms complex { id } building { id } createdAt updatedAt"
CREATE = (
    f"mutation($input: ApartmentCreateInput!) {{ createApartment(input: $input) {{ {RECORD} }} }}"
)
UPDATE = (
    "mutation($id: ID!, $input: ApartmentUpdateInput!)"
    f" {{ updateApartment(id: $id, input: $input) {{ {RECORD} }} }}"
)


def fresh(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_apartment(api: Api, **fields: Any) -> dict[str, Any]:
    data = api.data(CREATE, {"input": {"code": fresh(), "complex": "1", **fields}})
    record: dict[str, Any] = data["createApartment"]
    return record


def problems(errors: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    """(code, field, message) of each error."""
    return [(e["extensions"]["code"], e["extensions"].get("field"), e["message"]) for e in errors]


# -- create ------------------------------------------------------------------------------------------


def test_create_fills_defaults_and_answers_the_record(writable_api: Api) -> None:
    before = writable_api.count("apartments")
    code = fresh("NEW")
    data = writable_api.data(
        CREATE, {"input": {"code": code, "complex": "2", "price": "7500000.5"}}
    )
    made = data["createApartment"]
    created, updated = made.pop("createdAt"), made.pop("updatedAt")
    assert made == {
        "id": made["id"],
        "code": code,
        "price": "7500000.50",
        "status": "free",
        "finishing": "white_box",
        "balcony": False,
        "rooms": None,
        "complex": {"id": "2"},
        "building": None,
    }
    assert created == updated
    assert dt.datetime.fromisoformat(created).tzinfo is not None
    assert writable_api.count("apartments") == before + 1
    again = writable_api.data(f'{{ apartment(id: "{made["id"]}") {{ code price }} }}')
    assert again == {"apartment": {"code": code, "price": "7500000.50"}}


def test_null_on_a_field_with_a_default_means_the_default(writable_api: Api) -> None:
    made = create_apartment(writable_api, status=None, balcony=None, finishing=None)
    assert (made["status"], made["finishing"], made["balcony"]) == ("free", "white_box", False)


def test_create_derives_a_free_slug(writable_api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    query = 'mutation($name: String!) { createComplex(input: {name: $name, city: "Тверь"}) { slug status } }'
    first = writable_api.data(query, {"name": f"Дом {tag}"})
    second = writable_api.data(query, {"name": f"Дом {tag}"})
    assert first == {"createComplex": {"slug": f"dom-{tag}", "status": "building"}}
    assert second == {"createComplex": {"slug": f"dom-{tag}-2", "status": "building"}}


def test_a_long_name_still_gets_a_slug(writable_api: Api) -> None:
    name = "Жилой комплекс " + "Ж" * 100  # 115 characters: within the name's 120
    data = writable_api.data(
        'mutation($name: String!) { createComplex(input: {name: $name, city: "Тверь"}) { slug } }',
        {"name": name},
    )
    slug = data["createComplex"]["slug"]
    assert slug.startswith("zhiloi-kompleks-zhzh")
    assert len(slug) <= 80


# -- update ------------------------------------------------------------------------------------------


def test_update_changes_only_what_is_given(writable_api: Api) -> None:
    made = create_apartment(writable_api, price="1000000", rooms=2, balcony=True)
    data = writable_api.data(
        UPDATE, {"id": made["id"], "input": {"price": "1250000.25", "status": "booked"}}
    )
    changed = data["updateApartment"]
    assert changed["createdAt"] == made["createdAt"]
    assert changed["updatedAt"] >= made["updatedAt"]
    for moment in ("createdAt", "updatedAt"):
        changed.pop(moment)
        made.pop(moment)
    assert changed == {**made, "price": "1250000.25", "status": "booked"}


def test_update_may_keep_its_own_unique_value(writable_api: Api) -> None:
    made = create_apartment(writable_api)
    data = writable_api.data(
        UPDATE, {"id": made["id"], "input": {"code": made["code"], "rooms": 1}}
    )
    assert data["updateApartment"]["code"] == made["code"]


def test_update_of_a_missing_record(writable_api: Api) -> None:
    errors = writable_api.errors(UPDATE, {"id": "999999", "input": {"rooms": 1}})
    assert problems(errors) == [("NOT_FOUND", None, "no Apartment with id 999999")]
    assert errors[0]["path"] == ["updateApartment"]


def test_update_cannot_empty_a_required_field(writable_api: Api) -> None:
    made = create_apartment(writable_api)
    errors = writable_api.errors(UPDATE, {"id": made["id"], "input": {"code": None}})
    assert problems(errors) == [("REQUIRED", "input.code", "input.code: code is required")]
    again = writable_api.data(f'{{ apartment(id: "{made["id"]}") {{ code }} }}')
    assert again == {"apartment": {"code": made["code"]}}


def test_update_is_validated_and_writes_nothing_when_refused(writable_api: Api) -> None:
    made = create_apartment(writable_api, rooms=2)
    other = create_apartment(writable_api)
    errors = writable_api.errors(
        UPDATE, {"id": made["id"], "input": {"code": other["code"], "rooms": 9}}
    )
    assert problems(errors) == [
        (
            "UNIQUE_TAKEN",
            "input.code",
            f"input.code: code '{other['code']}' is taken by another Apartment",
        ),
        ("OUT_OF_RANGE", "input.rooms", "input.rooms: rooms must be at most 6"),
    ]
    again = writable_api.data(f'{{ apartment(id: "{made["id"]}") {{ code rooms updatedAt }} }}')
    assert again == {
        "apartment": {"code": made["code"], "rooms": 2, "updatedAt": made["updatedAt"]}
    }


# -- delete ------------------------------------------------------------------------------------------


def test_delete_answers_the_record_as_it_was_and_removes_it(writable_api: Api) -> None:
    made = create_apartment(writable_api, price="5")
    before = writable_api.count("apartments")
    data = writable_api.data(
        f'mutation {{ deleteApartment(id: "{made["id"]}") {{ id code price }} }}'
    )
    assert data == {"deleteApartment": {"id": made["id"], "code": made["code"], "price": "5.00"}}
    assert writable_api.count("apartments") == before - 1
    assert writable_api.data(f'{{ apartment(id: "{made["id"]}") {{ id }} }}') == {"apartment": None}


def test_delete_cascades_or_empties_refs_as_the_spec_says(writable_api: Api) -> None:
    place = writable_api.data(
        'mutation { createComplex(input: {name: "Снос", city: "Тверь"}) { id } }'
    )["createComplex"]["id"]
    building = writable_api.data(
        "mutation($input: BuildingCreateInput!) { createBuilding(input: $input) { id } }",
        {"input": {"code": fresh("B")[:20], "complex": place, "name": "Корпус"}},
    )["createBuilding"]["id"]
    flat = create_apartment(writable_api, complex=place, building=building)
    writable_api.data(f'mutation {{ deleteBuilding(id: "{building}") {{ id }} }}')
    after_building = writable_api.data(
        f'{{ apartment(id: "{flat["id"]}") {{ building {{ id }} }} }}'
    )
    assert after_building == {"apartment": {"building": None}}  # on_delete: set_null
    writable_api.data(f'mutation {{ deleteComplex(id: "{place}") {{ id }} }}')
    assert writable_api.data(f'{{ apartment(id: "{flat["id"]}") {{ id }} }}') == {
        "apartment": None  # on_delete: cascade
    }


def test_delete_refuses_a_record_others_depend_on(writable_api: Api) -> None:
    email = seed_records("Customer")[0]["email"]
    deals = sum(1 for d in seed_records("Deal") if d["customer"] == email)
    assert deals > 0
    before = writable_api.count("customers")
    errors = writable_api.errors('mutation { deleteCustomer(id: "1") { id } }')
    refer = "record refers" if deals == 1 else "records refer"
    assert problems(errors) == [
        ("IN_USE", None, f"{deals} Deal {refer} to this Customer through customer")
    ]
    assert writable_api.count("customers") == before


def test_delete_of_a_missing_record(writable_api: Api) -> None:
    errors = writable_api.errors('mutation { deleteApartment(id: "999999") { id } }')
    assert problems(errors) == [("NOT_FOUND", None, "no Apartment with id 999999")]


# -- upsert ------------------------------------------------------------------------------------------

UPSERT = (
    "mutation($input: ApartmentCreateInput!)"
    " { upsertApartment(on: code, input: $input) { id code price } }"
)


def test_upsert_creates_then_updates_on_the_unique_field(writable_api: Api) -> None:
    code = fresh("UP")
    before = writable_api.count("apartments")
    made = writable_api.data(UPSERT, {"input": {"code": code, "complex": "1", "price": "100"}})
    assert writable_api.count("apartments") == before + 1
    again = writable_api.data(UPSERT, {"input": {"code": code, "complex": "1", "price": "200"}})
    assert again == {
        "upsertApartment": {"id": made["upsertApartment"]["id"], "code": code, "price": "200.00"}
    }
    assert writable_api.count("apartments") == before + 1


def test_upsert_matches_on_a_derived_slug(writable_api: Api) -> None:
    name = f"Дом {uuid.uuid4().hex[:6]}"
    query = (
        "mutation($input: ComplexCreateInput!)"
        " { upsertComplex(on: slug, input: $input) { id slug city } }"
    )
    made = writable_api.data(query, {"input": {"name": name, "city": "Тверь"}})["upsertComplex"]
    again = writable_api.data(query, {"input": {"name": name, "city": "Тула"}})["upsertComplex"]
    assert again == {**made, "city": "Тула"}
    assert made["slug"] == "dom-" + name.split()[1]


def test_upsert_needs_the_value_it_matches_on(writable_api: Api) -> None:
    before = writable_api.count("leads")
    errors = writable_api.errors(
        'mutation { upsertLead(on: code, input: {name: "Без номера"}) { id } }'
    )
    assert problems(errors) == [
        ("REQUIRED", "input.code", "input.code: code is required to match on")
    ]
    assert writable_api.count("leads") == before


# -- bad input ---------------------------------------------------------------------------------------

TAKEN_EMAIL = "anna.smirnova@north-quarter.ru"

BAD_INPUT: list[tuple[str, str, str, tuple[str, str, str]]] = [
    (
        "too-long",
        "customers",
        f'mutation {{ createCustomer(input: {{name: "{"Ж" * 121}"}}) {{ id }} }}',
        ("TOO_LONG", "input.name", "input.name: name is longer than 120 characters"),
    ),
    (
        "above-max",
        "apartments",
        'mutation { createApartment(input: {code: "BAD-1", complex: "1", rooms: 7}) { id } }',
        ("OUT_OF_RANGE", "input.rooms", "input.rooms: rooms must be at most 6"),
    ),
    (
        "below-min",
        "apartments",
        'mutation { createApartment(input: {code: "BAD-2", complex: "1", price: "-1"}) { id } }',
        ("OUT_OF_RANGE", "input.price", "input.price: price must be at least 0"),
    ),
    (
        "decimal-places",
        "apartments",
        'mutation { createApartment(input: {code: "BAD-3", complex: "1", area: "41.123"}) { id } }',
        ("INVALID_FORMAT", "input.area", "input.area: '41.123' has more than 2 decimal places"),
    ),
    (
        "bad-email",
        "employees",
        'mutation { createEmployee(input: {email: "not-an-email", name: "Ё"}) { id } }',
        ("INVALID_FORMAT", "input.email", "input.email: 'not-an-email' is not an e-mail address"),
    ),
    (
        "bad-phone",
        "customers",
        'mutation { createCustomer(input: {name: "Ё", phone: "12"}) { id } }',
        ("INVALID_FORMAT", "input.phone", "input.phone: '12' is not a telephone number"),
    ),
    (
        "bad-url",
        "complexes",
        'mutation { createComplex(input: {name: "Ё", city: "Тверь", cover: "ftp://x"}) { id } }',
        (
            "INVALID_FORMAT",
            "input.cover",
            "input.cover: 'ftp://x' is not an http(s) address or a site path like /media/plan.png",
        ),
    ),
    (
        "unique-taken",
        "employees",
        f'mutation {{ createEmployee(input: {{email: "{TAKEN_EMAIL}", name: "Ё"}}) {{ id }} }}',
        (
            "UNIQUE_TAKEN",
            "input.email",
            f"input.email: email '{TAKEN_EMAIL}' is taken by another Employee",
        ),
    ),
    (
        "longer-than-its-column",
        "apartments",
        'mutation { createApartment(input: {code: "BAD-7", complex: "1",'
        f' planImage: "https://media.example.com/{"p" * 240}.png"}}) {{ id }} }}',
        (
            "TOO_LONG",
            "input.planImage",
            "input.planImage: plan_image is longer than 255 characters",
        ),
    ),
    (
        "dangling-ref",
        "apartments",
        'mutation { createApartment(input: {code: "BAD-4", complex: "99999"}) { id } }',
        ("REF_NOT_FOUND", "input.complex", "input.complex: no Complex with id 99999"),
    ),
    (
        "ref-not-an-id",
        "leads",
        'mutation { createLead(input: {name: "Ё", apartment: "SG-1-3"}) { id } }',
        ("REF_NOT_FOUND", "input.apartment", "input.apartment: no Apartment with id SG-1-3"),
    ),
]


@pytest.mark.parametrize(
    "many, mutation, expected", [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_is_refused_with_its_code_and_writes_nothing(
    writable_api: Api, many: str, mutation: str, expected: tuple[str, str, str]
) -> None:
    before = writable_api.count(many)
    result = writable_api.run(mutation)
    assert result.data is None
    assert result.errors is not None
    errors = [dict(e.formatted) for e in result.errors]
    assert problems(errors) == [expected]
    assert errors[0]["path"] == [mutation.split("(")[0].split()[-1]]
    assert writable_api.count(many) == before


def test_every_problem_of_an_input_is_reported(writable_api: Api) -> None:
    taken = seed_records("Apartment")[0]["code"]
    before = writable_api.count("apartments")
    errors = writable_api.errors(
        CREATE,
        {"input": {"code": taken, "complex": "99999", "floor": 0, "rooms": 9, "area": "5"}},
    )
    assert sorted(problems(errors)) == [
        ("OUT_OF_RANGE", "input.area", "input.area: area must be at least 10"),
        ("OUT_OF_RANGE", "input.floor", "input.floor: floor must be at least 1"),
        ("OUT_OF_RANGE", "input.rooms", "input.rooms: rooms must be at most 6"),
        ("REF_NOT_FOUND", "input.complex", "input.complex: no Complex with id 99999"),
        ("UNIQUE_TAKEN", "input.code", f"input.code: code '{taken}' is taken by another Apartment"),
    ]
    assert errors[0]["path"] == ["createApartment"]
    assert writable_api.count("apartments") == before


def two_creates(good: str, bad: str) -> str:
    return f"""mutation {{
        good: createApartment(input: {{code: "{good}", complex: "1"}}) {{ code }}
        bad: createApartment(input: {{code: "{bad}", complex: "1", rooms: 99}}) {{ code }} }}"""


def test_the_mutations_of_a_request_are_one_transaction(writable_api: Api) -> None:
    good, bad = fresh("OK"), fresh("NO")
    result = writable_api.run(two_creates(good, bad))
    assert result.data is None
    assert result.errors
    assert writable_api.count("apartments", f'{{code: {{in: ["{good}", "{bad}"]}}}}') == 0


def test_a_refused_field_in_a_request_says_why(writable_api: Api) -> None:
    result = writable_api.run(two_creates(fresh("OK"), fresh("NO")))
    assert result.errors is not None
    assert ("OUT_OF_RANGE", "input.rooms", ["bad"]) in [
        ((e.extensions or {}).get("code"), (e.extensions or {}).get("field"), e.path)
        for e in result.errors
    ]


# Input the GraphQL layer refuses before the write path sees it: the error still needs the
# code and field the write path would give, so clients handle one kind of error.
UNCODED: list[tuple[str, str, str, tuple[str, str]]] = [
    (
        "required-missing",
        "apartments",
        'mutation { createApartment(input: {complex: "1"}) { id } }',
        ("REQUIRED", "input.code"),
    ),
    (
        "not-in-enum",
        "apartments",
        'mutation { createApartment(input: {code: "BAD-5", complex: "1", status: gone}) { id } }',
        ("NOT_IN_ENUM", "input.status"),
    ),
]


@pytest.mark.parametrize(
    "many, mutation, expected", [c[1:] for c in UNCODED], ids=[c[0] for c in UNCODED]
)
def test_input_refused_by_graphql_also_has_a_code_and_field(
    writable_api: Api, many: str, mutation: str, expected: tuple[str, str]
) -> None:
    before = writable_api.count(many)
    errors = writable_api.errors(mutation)
    assert writable_api.count(many) == before
    assert [
        (e.get("extensions", {}).get("code"), e.get("extensions", {}).get("field")) for e in errors
    ] == [expected]


@pytest.mark.parametrize(
    "mutation, message",
    [
        (
            UNCODED[0][2],
            "Field 'ApartmentCreateInput.code' of required type 'String!' was not provided.",
        ),
        (UNCODED[1][2], "Value 'gone' does not exist in 'ApartmentStatus' enum."),
    ],
    ids=["required-missing", "not-in-enum"],
)
def test_input_refused_by_graphql_writes_nothing(
    writable_api: Api, mutation: str, message: str
) -> None:
    before = writable_api.count("apartments")
    assert [e["message"] for e in writable_api.errors(mutation)] == [message]
    assert writable_api.count("apartments") == before


def test_the_field_of_an_error_is_the_graphql_name(writable_api: Api) -> None:
    """`extensions.field` is the input key the client sent (kitchenArea, not kitchen_area)."""
    errors = writable_api.errors(
        CREATE, {"input": {"code": fresh(), "complex": "1", "kitchenArea": "500"}}
    )
    assert problems(errors) == [
        (
            "OUT_OF_RANGE",
            "input.kitchenArea",
            "input.kitchenArea: kitchen_area must be at most 100",
        )
    ]


def test_a_value_that_does_not_parse_as_its_scalar_is_a_validation_error(writable_api: Api) -> None:
    before = writable_api.count("apartments")
    result = writable_api.run(
        'mutation { createApartment(input: {code: "BAD-6", complex: "1", price: "1.234"}) { id } }'
    )
    assert result.data is None
    assert result.errors is not None
    assert [(e.message, e.extensions) for e in result.errors] == [
        ("'1.234' has more than 2 decimal places", {"code": "GRAPHQL_VALIDATION_FAILED"})
    ]
    assert writable_api.count("apartments") == before


def test_money_written_is_read_back_exactly(writable_api: Api) -> None:
    made = create_apartment(writable_api, price="98765432109.99", area="54.3")
    data = writable_api.data(f'{{ apartment(id: "{made["id"]}") {{ price area }} }}')
    assert data == {"apartment": {"price": "98765432109.99", "area": exact("54.3")}}
