"""The filter language evaluated on records in Python (generator.matching), as the sites
subscriber uses it on the demo's spec to tell which pages a changed record can touch."""

from __future__ import annotations

from decimal import Decimal

from dbs import demo_spec

from ecospec.generator.matching import matches, precedes
from ecospec.generator.sitedata import cut_short

APARTMENT = {
    "id": 12,
    "complex": 3,
    "status": "free",
    "rooms": 2,
    "area": Decimal("54.30"),
    "price": Decimal("9100000.00"),
}


def test_a_failing_condition_decides_whatever_else_cannot_be_told() -> None:
    spec = demo_spec()
    # `floor` is not in the record: on its own that cannot be told without the database
    assert matches(spec, "Apartment", {"floor": {"gt": 3}}, APARTMENT) is None
    assert (
        matches(spec, "Apartment", {"complex": {"eq": "4"}, "floor": {"gt": 3}}, APARTMENT) is False
    )
    assert (
        matches(spec, "Apartment", {"floor": {"gt": 3}, "complex": {"eq": "4"}}, APARTMENT) is False
    )
    assert (
        matches(spec, "Apartment", {"complex": {"eq": "3"}, "floor": {"gt": 3}}, APARTMENT) is None
    )
    where = {
        "complex": {"eq": "3"},
        "status": {"eq": "free"},
        "area": {"gte": "43.4", "lte": "67.9"},
    }
    assert matches(spec, "Apartment", where, APARTMENT) is True
    assert matches(spec, "Apartment", {"or": [{"rooms": {"eq": 1}}, where]}, APARTMENT) is True
    assert matches(spec, "Apartment", {"not": where}, APARTMENT) is False


def test_a_record_precedes_the_last_of_a_list_cut_short_by_its_order() -> None:
    spec = demo_spec()
    cheaper = {**APARTMENT, "price": Decimal("8000000")}
    assert precedes(spec, "Apartment", cheaper, ["price"], ["9100000.00"]) is True
    assert precedes(spec, "Apartment", APARTMENT, ["price"], ["9100000.00"]) is True  # level
    assert precedes(spec, "Apartment", APARTMENT, ["price"], ["8000000.00"]) is False
    assert precedes(spec, "Apartment", APARTMENT, ["-price"], ["8000000.00"]) is True
    # the first order field decides unless level; then the next one
    assert precedes(spec, "Apartment", APARTMENT, ["rooms", "price"], [2, "9000000"]) is False
    assert precedes(spec, "Apartment", APARTMENT, ["rooms", "price"], [3, "1"]) is True
    # text sorts by the database's collation, and a missing value cannot be placed
    assert precedes(spec, "Apartment", {**APARTMENT, "code": "A-1"}, ["code"], ["B-1"]) is None
    assert precedes(spec, "Apartment", {**APARTMENT, "price": None}, ["price"], ["1"]) is None


def test_only_a_list_its_limit_cut_short_has_a_last_record() -> None:
    rows = [{"id": i, "price": str(100 * i), "complex": {"id": 3}} for i in range(1, 5)]
    assert cut_short(rows, ["price"], 4) == (["price"], ["400"])
    assert cut_short(rows, ["complex", "-price"], 2) == (["complex", "-price"], [3, "200"])
    assert cut_short(rows, ["price"], 5) is None  # fewer rows than the limit: nothing was cut
    assert cut_short(rows, ["price"], None) is None
    assert cut_short(rows, [], 4) is None  # no order: which rows were cut is the database's


def test_a_missing_value_is_unknown_and_not_keeps_it_so() -> None:
    spec = demo_spec()
    bare = {**APARTMENT, "floor": None}
    assert matches(spec, "Apartment", {"floor": {"ne": 3}}, bare) is False
    assert matches(spec, "Apartment", {"not": {"floor": {"eq": 3}}}, bare) is False
    assert matches(spec, "Apartment", {"not": {"floor": {"nin": [3]}}}, bare) is False
    assert matches(spec, "Apartment", {"or": [{"floor": {"eq": 3}}, {"rooms": {"eq": 2}}]}, bare)
    assert matches(spec, "Apartment", {"not": {"floor": {"isNull": True}}}, bare) is False
    assert matches(spec, "Apartment", {"floor": {"eq": None}}, bare) is True


def test_values_compare_as_their_field_s_type() -> None:
    spec = demo_spec()
    assert matches(spec, "Apartment", {"area": {"eq": "54.3"}, "rooms": {"eq": "2"}}, APARTMENT)
    assert matches(spec, "Apartment", {"area": {"gte": 54.305}}, APARTMENT) is False
    assert matches(spec, "Apartment", {"complex": {"in": ["03", 7]}}, APARTMENT) is True
    assert matches(spec, "Apartment", {"code": {"eq": "1"}}, {**APARTMENT, "code": "1.0"}) is False
    # text order is the database's collation
    assert matches(spec, "Apartment", {"code": {"gt": "A"}}, {**APARTMENT, "code": "B"}) is None
    lead = {"id": 1, "created_at": "2026-05-01T07:00:00.000000+00:00"}
    assert matches(spec, "Lead", {"created_at": {"eq": "2026-05-01T10:00:00+03:00"}}, lead)
    assert matches(spec, "Lead", {"created_at": {"lt": "2026-05-02"}}, lead) is True


def test_a_role_s_filter_takes_the_session_s_variables() -> None:
    spec = demo_spec()
    lead = {"id": 4, "manager": {"id": "3"}, "status": "new"}
    mine = {"or": [{"manager": {"eq": "$user.id"}}, {"status": {"eq": "won"}}]}
    assert matches(spec, "Lead", mine, lead, {"id": "3"}) is True
    assert matches(spec, "Lead", mine, lead, {"id": 5}) is False
    # a variable the session does not carry denies the whole filter
    assert matches(spec, "Lead", mine, {**lead, "status": "won"}, {}) is False
