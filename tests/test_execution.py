"""The API's conventions on the seeded demo, on SQLite and PostgreSQL: lists, one record, connections,
aggregates, refs and nested lists, every filter operator, exact values, aliases and fragments.
Expected answers are computed in Python from the seed files, never copied from a previous run."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from dbs import Api, complexes_by_slug, exact, seed_records

pytest_plugins = ["dbs"]

Record = dict[str, Any]

DEFAULTS: Record = {"status": "free", "finishing": "white_box", "balcony": False}


def apartments() -> list[Record]:
    """The seed's apartments with their defaults filled and their seed position as `id`."""
    out = []
    for i, raw in enumerate(seed_records("Apartment"), 1):
        record = {**DEFAULTS, **raw, "id": i}
        for name in ("area", "kitchen_area", "ceiling_height", "price", "min_price"):
            value = record.get(name)
            record[name] = None if value is None else Decimal(str(value))
        out.append(record)
    return out


APARTMENTS = apartments()
COMPLEXES = complexes_by_slug()
BUILDINGS = {r["code"]: r for r in seed_records("Building")}
FIRST_SLUG, SECOND_SLUG = list(COMPLEXES)[:2]
FIRST_COMPLEX = COMPLEXES[FIRST_SLUG]


def complex_of(record: Record) -> Record:
    return COMPLEXES[record["complex"]]


def city_of_building(record: Record) -> str | None:
    building = record.get("building")
    return COMPLEXES[BUILDINGS[building]["complex"]]["city"] if building else None


def ordered(records: list[Record], keys: list[tuple[str, bool]]) -> list[Record]:
    """Records sorted as the API sorts: by each key in turn, nulls last either way, then by id."""
    result = sorted(records, key=lambda r: int(r["id"]))
    for name, desc in reversed(keys):
        present = [r for r in result if r.get(name) is not None]
        missing = [r for r in result if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=desc)  # stable, also in reverse
        result = present + missing
    return result


def codes(records: list[Record]) -> list[str]:
    return [str(r["code"]) for r in records]


# -- lists and single records -----------------------------------------------------------------------


def test_a_list_filters_orders_limits_and_skips(demo_api: Api) -> None:
    data = demo_api.data(
        """{ apartments(where: {complex: {status: {eq: ready}}, rooms: {in: [0, 1]}},
                        orderBy: [{price: ASC}], limit: 4, offset: 2) { code price rooms } }"""
    )
    matching = [
        r for r in APARTMENTS if complex_of(r)["status"] == "ready" and r["rooms"] in (0, 1)
    ]
    expected = ordered(matching, [("price", False)])[2:6]
    assert data["apartments"] == [
        {"code": r["code"], "price": exact(r["price"]), "rooms": r["rooms"]} for r in expected
    ]


def test_a_list_without_arguments_is_every_record_in_id_order(demo_api: Api) -> None:
    data = demo_api.data("{ apartments { id code } }")
    assert data["apartments"] == [{"id": str(r["id"]), "code": r["code"]} for r in APARTMENTS]


@pytest.mark.parametrize(
    "order_by, keys",
    [
        ("[{rooms: DESC}, {price: ASC}]", [("rooms", True), ("price", False)]),
        ("[{kitchenArea: ASC}]", [("kitchen_area", False)]),
        ("[{kitchenArea: DESC}]", [("kitchen_area", True)]),
        ("[{status: ASC}, {area: DESC}]", [("status", False), ("area", True)]),
        ("[{id: DESC}]", [("id", True)]),
    ],
    ids=["two-keys", "asc-nulls-last", "desc-nulls-last", "enum-then-decimal", "id-desc"],
)
def test_order_by_sorts_by_each_key_with_nulls_last(
    demo_api: Api, order_by: str, keys: list[tuple[str, bool]]
) -> None:
    data = demo_api.data(f"{{ apartments(orderBy: {order_by}) {{ code }} }}")
    assert [r["code"] for r in data["apartments"]] == codes(ordered(APARTMENTS, keys))


def test_limit_zero_and_an_offset_past_the_end_give_empty_lists(demo_api: Api) -> None:
    data = demo_api.data(
        "{ none: apartments(limit: 0) { id } past: apartments(offset: 1000) { id }"
        " tail: apartments(offset: 249) { code } }"
    )
    assert data == {"none": [], "past": [], "tail": [{"code": c} for c in codes(APARTMENTS[249:])]}


def test_one_record_by_id(demo_api: Api) -> None:
    third = APARTMENTS[2]
    data = demo_api.data(
        '{ apartment(id: "3") { id code price status } missing: apartment(id: "100000") { id }'
        ' word: apartment(id: "three") { id } }'
    )
    assert data == {
        "apartment": {
            "id": "3",
            "code": third["code"],
            "price": exact(third["price"]),
            "status": third["status"],
        },
        "missing": None,
        "word": None,
    }


# -- connections -------------------------------------------------------------------------------------

CONNECTION = """
query Page($after: String, $first: Int, $orderBy: [ApartmentOrderBy!], $where: ApartmentWhere) {
  apartmentsConnection(first: $first, after: $after, orderBy: $orderBy, where: $where) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id code } }
  }
}"""


def walk(api: Api, variables: dict[str, Any]) -> tuple[list[str], int, int]:
    """Every page of a connection in turn: the codes seen, the page count and totalCount."""
    seen: list[str] = []
    after: str | None = None
    pages = 0
    total = -1
    while True:
        page = api.data(CONNECTION, {**variables, "after": after})["apartmentsConnection"]
        pages += 1
        total = page["totalCount"]
        edges = page["edges"]
        seen.extend(e["node"]["code"] for e in edges)
        if edges:
            assert page["pageInfo"]["endCursor"] == edges[-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return seen, pages, total
        after = page["pageInfo"]["endCursor"]
        assert pages < 100, "the connection never ends"


@pytest.mark.parametrize(
    "order_by, keys",
    [
        (None, []),
        ([{"price": "ASC"}], [("price", False)]),
        ([{"kitchenArea": "DESC"}], [("kitchen_area", True)]),
        ([{"status": "ASC"}, {"area": "DESC"}], [("status", False), ("area", True)]),
    ],
    ids=["by-id", "money", "nullable-desc", "enum-decimal"],
)
def test_paging_a_connection_visits_every_record_once_in_order(
    demo_api: Api, order_by: list[dict[str, str]] | None, keys: list[tuple[str, bool]]
) -> None:
    seen, pages, total = walk(demo_api, {"first": 40, "orderBy": order_by})
    assert seen == codes(ordered(APARTMENTS, keys))
    assert total == len(APARTMENTS)
    assert pages == -(-len(APARTMENTS) // 40)


def test_paging_a_connection_ordered_by_a_bool(demo_api: Api) -> None:
    order_by = [{"balcony": "DESC"}, {"kitchenArea": "ASC"}]
    seen, _pages, _total = walk(demo_api, {"first": 40, "orderBy": order_by})
    assert seen == codes(ordered(APARTMENTS, [("balcony", True), ("kitchen_area", False)]))


def test_paging_a_filtered_connection(demo_api: Api) -> None:
    where = {"complex": {"city": {"eq": "Москва"}}, "status": {"ne": "sold"}}
    seen, _pages, total = walk(demo_api, {"first": 7, "where": where, "orderBy": [{"area": "ASC"}]})
    matching = [
        r for r in APARTMENTS if complex_of(r)["city"] == "Москва" and r["status"] != "sold"
    ]
    assert seen == codes(ordered(matching, [("area", False)]))
    assert total == len(matching)


@pytest.mark.parametrize("first", [0, -5])
def test_a_connection_page_holds_at_least_one_record(demo_api: Api, first: int) -> None:
    errors = demo_api.errors(CONNECTION, {"first": first})
    assert [(e["message"], e["extensions"]["code"]) for e in errors] == [
        ("first: give at least 1", "BAD_USER_INPUT")
    ]


def test_a_connection_defaults_to_twenty(demo_api: Api) -> None:
    page = demo_api.data(CONNECTION)["apartmentsConnection"]
    assert [e["node"]["code"] for e in page["edges"]] == codes(APARTMENTS[:20])


def test_a_cursor_stays_valid_after_an_insert_before_it(writable_api: Api) -> None:
    by_price = {"first": 5, "orderBy": [{"price": "ASC"}]}
    first = writable_api.data(CONNECTION, by_price)["apartmentsConnection"]
    cursor = first["pageInfo"]["endCursor"]
    second = writable_api.data(CONNECTION, {**by_price, "after": cursor})["apartmentsConnection"]
    code = f"CUR-{uuid.uuid4().hex[:8]}"
    writable_api.data(
        'mutation($code: String!) { createApartment(input: {code: $code, complex: "1",'
        ' price: "0.01"}) { id } }',
        {"code": code},
    )
    again = writable_api.data(CONNECTION, {**by_price, "after": cursor})["apartmentsConnection"]
    assert again["edges"] == second["edges"]
    assert again["totalCount"] == second["totalCount"] + 1
    fresh = writable_api.data(CONNECTION, by_price)["apartmentsConnection"]
    assert fresh["edges"][0]["node"]["code"] == code


@pytest.mark.parametrize(
    "after, message",
    [
        ("not a cursor!", "after: not a cursor of this connection"),
        ("WzEsMiwzXQ", "after: the cursor belongs to another ordering"),  # [1,2,3]
    ],
)
def test_a_bad_cursor_is_refused(demo_api: Api, after: str, message: str) -> None:
    errors = demo_api.errors(CONNECTION, {"after": after})
    assert [(e["message"], e["extensions"]["code"], e["path"]) for e in errors] == [
        (message, "BAD_CURSOR", ["apartmentsConnection"])
    ]


def test_a_cursor_of_another_ordering_is_refused(demo_api: Api) -> None:
    by_two = {"first": 1, "orderBy": [{"rooms": "ASC"}, {"price": "ASC"}]}
    cursor = demo_api.data(CONNECTION, by_two)["apartmentsConnection"]["pageInfo"]["endCursor"]
    errors = demo_api.errors(CONNECTION, {"first": 1, "after": cursor})
    assert errors[0]["message"] == "after: the cursor belongs to another ordering"


def test_an_order_entry_takes_exactly_one_field(demo_api: Api) -> None:
    errors = demo_api.errors("{ apartments(orderBy: [{price: ASC, area: DESC}]) { id } }")
    assert [(e["message"], e["extensions"]["code"]) for e in errors] == [
        ("orderBy[0]: give exactly one field per entry, got 2", "BAD_USER_INPUT")
    ]


# -- aggregates ---------------------------------------------------------------------------------------


def average(values: list[Decimal], places: int = 2) -> str:
    mean = sum(values, Decimal(0)) / len(values)
    return f"{mean.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"


def stats(records: list[Record]) -> dict[str, Any]:
    """The aggregate block the API should answer for these apartments."""

    def present(name: str) -> list[Any]:
        return [r[name] for r in records if r.get(name) is not None]

    prices, areas, kitchens = present("price"), present("area"), present("kitchen_area")
    return {
        "count": len(records),
        "sum": {
            "price": exact(sum(prices, Decimal(0))),
            "minPrice": exact(sum(present("min_price"), Decimal(0))),
            "area": exact(sum(areas, Decimal(0))),
            "kitchenArea": exact(sum(kitchens, Decimal(0))),
            "rooms": sum(present("rooms")),
        },
        "avg": {"price": average(prices), "area": average(areas)},
        "min": {
            "price": exact(min(prices)),
            "area": exact(min(areas)),
            "floor": min(present("floor")),
        },
        "max": {"price": exact(max(prices)), "kitchenArea": exact(max(kitchens))},
    }


AGGREGATE = """count
  sum { price minPrice area kitchenArea rooms }
  avg { price area }
  min { price area floor }
  max { price kitchenArea }"""


def test_aggregates_are_exact(demo_api: Api) -> None:
    data = demo_api.data(f"{{ apartmentsAggregate {{ {AGGREGATE} avg {{ rooms }} }} }}")
    answer = data["apartmentsAggregate"]
    rooms = [r["rooms"] for r in APARTMENTS]
    assert answer["avg"].pop("rooms") == pytest.approx(sum(rooms) / len(rooms))
    assert answer == stats(APARTMENTS)


def test_aggregates_take_a_filter(demo_api: Api) -> None:
    data = demo_api.data(
        f"""{{ apartmentsAggregate(where: {{status: {{eq: free}}, complex: {{city: {{eq: "Москва"}}}}}})
              {{ {AGGREGATE} }} }}"""
    )
    matching = [
        r for r in APARTMENTS if r["status"] == "free" and complex_of(r)["city"] == "Москва"
    ]
    assert data["apartmentsAggregate"] == stats(matching)


def test_aggregates_over_nothing(demo_api: Api) -> None:
    data = demo_api.data(
        '{ apartmentsAggregate(where: {code: {eq: "no such"}})'
        " { count sum { price rooms } avg { price rooms } min { price } max { floor } } }"
    )
    assert data["apartmentsAggregate"] == {
        "count": 0,
        "sum": {"price": None, "rooms": None},
        "avg": {"price": None, "rooms": None},
        "min": {"price": None},
        "max": {"floor": None},
    }


def test_aggregates_of_decimals_with_their_own_scale_dates_and_moments(demo_api: Api) -> None:
    data = demo_api.data(
        "{ complexesAggregate { count sum { latitude } avg { longitude }"
        " min { completionDate latitude } max { completionDate } }"
        " touchpointsAggregate { min { occurredAt } max { occurredAt } } }"
    )
    complexes = list(COMPLEXES.values())
    latitudes = [Decimal(str(c["latitude"])) for c in complexes]
    longitudes = [Decimal(str(c["longitude"])) for c in complexes]
    dates = sorted(str(c["completion_date"]) for c in complexes)
    moments = sorted(
        dt.datetime.fromisoformat(t["occurred_at"]).astimezone(dt.UTC)
        for t in seed_records("Touchpoint")
    )
    assert data["complexesAggregate"] == {
        "count": len(complexes),
        "sum": {"latitude": exact(sum(latitudes, Decimal(0)), 6)},
        "avg": {"longitude": average(longitudes, 6)},
        "min": {"completionDate": dates[0], "latitude": exact(min(latitudes), 6)},
        "max": {"completionDate": dates[-1]},
    }
    moment_format = "%Y-%m-%dT%H:%M:%S.%f+00:00"
    assert data["touchpointsAggregate"] == {
        "min": {"occurredAt": moments[0].strftime(moment_format)},
        "max": {"occurredAt": moments[-1].strftime(moment_format)},
    }


def test_nested_aggregates(demo_api: Api) -> None:
    data = demo_api.data(
        f"""{{ complexes {{ slug
              apartmentsAggregate(where: {{status: {{ne: sold}}}}) {{ {AGGREGATE} }}
              buildingsAggregate {{ count }} }} }}"""
    )
    for answer in data["complexes"]:
        slug = answer["slug"]
        mine = [r for r in APARTMENTS if r["complex"] == slug and r["status"] != "sold"]
        assert answer["apartmentsAggregate"] == stats(mine), slug
        assert answer["buildingsAggregate"] == {
            "count": sum(1 for b in BUILDINGS.values() if b["complex"] == slug)
        }


# -- refs and nested lists ------------------------------------------------------------------------


def test_refs_resolve_to_objects(demo_api: Api) -> None:
    data = demo_api.data(
        "{ apartments { code complex { name city } building { code complex { slug } } } }"
    )
    expected = []
    for r in APARTMENTS:
        building = r.get("building")
        expected.append(
            {
                "code": r["code"],
                "complex": {"name": complex_of(r)["name"], "city": complex_of(r)["city"]},
                "building": None
                if building is None
                else {"code": building, "complex": {"slug": BUILDINGS[building]["complex"]}},
            }
        )
    assert data["apartments"] == expected


def test_an_empty_ref_is_null(demo_api: Api) -> None:
    leads = seed_records("Lead")
    data = demo_api.data("{ leads { code apartment { code } manager { email } } }")
    assert data["leads"] == [
        {
            "code": lead["code"],
            "apartment": {"code": lead["apartment"]} if lead.get("apartment") else None,
            "manager": {"email": lead["manager"]} if lead.get("manager") else None,
        }
        for lead in leads
    ]
    assert any(lead.get("apartment") is None for lead in leads)


def test_three_levels_of_nested_lists_filter_order_and_limit(demo_api: Api) -> None:
    data = demo_api.data(
        """{ complexes(orderBy: [{id: ASC}], limit: 10) { slug
              buildings(limit: 10) { code
                apartments(where: {rooms: {gte: 2}}, orderBy: [{price: DESC}], limit: 2) { code price }
              } } }"""
    )
    expected = []
    for slug in COMPLEXES:
        buildings = []
        for code, building in BUILDINGS.items():
            if building["complex"] != slug:
                continue
            mine = [r for r in APARTMENTS if r.get("building") == code and r["rooms"] >= 2]
            top = ordered(mine, [("price", True)])[:2]
            buildings.append(
                {
                    "code": code,
                    "apartments": [{"code": r["code"], "price": exact(r["price"])} for r in top],
                }
            )
        expected.append({"slug": slug, "buildings": buildings})
    assert data["complexes"] == expected


def test_a_nested_list_takes_an_offset_and_is_empty_when_nothing_matches(demo_api: Api) -> None:
    data = demo_api.data(
        """{ complex(id: "1") {
              skipped: apartments(orderBy: [{area: ASC}], offset: 3, limit: 2) { code }
              none: apartments(where: {rooms: {gt: 6}}) { code } } }"""
    )
    slug = FIRST_SLUG
    mine = ordered([r for r in APARTMENTS if r["complex"] == slug], [("area", False)])
    assert data["complex"] == {"skipped": [{"code": c} for c in codes(mine[3:5])], "none": []}


def test_lists_through_other_refs(demo_api: Api) -> None:
    data = demo_api.data(
        "{ partners { slug managedComplexes { slug } programsAggregate { count } } }"
    )
    partners = seed_records("Partner")
    programs = seed_records("MortgageProgram")
    assert data["partners"] == [
        {
            "slug": p["slug"],
            "managedComplexes": [
                {"slug": s}
                for s, c in COMPLEXES.items()
                if c.get("management_company") == p["slug"]
            ],
            "programsAggregate": {"count": sum(1 for m in programs if m["bank"] == p["slug"])},
        }
        for p in partners
    ]


# -- every filter operator -------------------------------------------------------------------------

Predicate = Callable[[Record], bool]


def dec(text: str) -> Decimal:
    return Decimal(text)


WHERE_CASES: list[tuple[str, str, Predicate]] = [
    ("eq-int", "{rooms: {eq: 2}}", lambda r: r["rooms"] == 2),
    ("eq-enum", "{status: {eq: sold}}", lambda r: r["status"] == "sold"),
    ("eq-money", '{price: {eq: "12971000"}}', lambda r: r["price"] == dec("12971000")),
    ("eq-bool", "{balcony: {eq: true}}", lambda r: r["balcony"] is True),
    ("ne-enum", "{finishing: {ne: turnkey}}", lambda r: r["finishing"] != "turnkey"),
    (
        "ne-skips-empty",
        '{kitchenArea: {ne: "10.7"}}',
        lambda r: r["kitchen_area"] is not None and r["kitchen_area"] != dec("10.7"),
    ),
    ("ne-bool", "{balcony: {ne: true}}", lambda r: r["balcony"] is False),
    ("gt-money", '{price: {gt: "30000000"}}', lambda r: r["price"] > dec("30000000")),
    ("gte-decimal", '{area: {gte: "100.5"}}', lambda r: r["area"] >= dec("100.5")),
    ("lt-int", "{floor: {lt: 3}}", lambda r: r["floor"] < 3),
    (
        "lte-skips-empty",
        '{kitchenArea: {lte: "10"}}',
        lambda r: r["kitchen_area"] is not None and r["kitchen_area"] <= 10,
    ),
    ("in-enum", "{status: {in: [free, booked]}}", lambda r: r["status"] in ("free", "booked")),
    (
        "in-money",
        '{price: {in: ["6933000", "6818000.00"]}}',
        lambda r: r["price"] in (dec("6933000"), dec("6818000")),
    ),
    ("nin-int", "{rooms: {nin: [0, 1, 2]}}", lambda r: r["rooms"] not in (0, 1, 2)),
    ("in-nothing", "{rooms: {in: []}}", lambda r: False),
    ("nin-nothing", "{rooms: {nin: []}}", lambda r: True),
    ("contains", '{code: {contains: "-2-1"}}', lambda r: "-2-1" in r["code"]),
    ("contains-case", '{code: {contains: "tb-"}}', lambda r: False),
    ("contains-percent", '{code: {contains: "%"}}', lambda r: False),
    ("startsWith", '{code: {startsWith: "TB-"}}', lambda r: r["code"].startswith("TB-")),
    ("startsWith-underscore", '{code: {startsWith: "_"}}', lambda r: False),
    (
        "contains-cyrillic",
        '{managerNote: {contains: "эркер"}}',
        lambda r: "эркер" in (r.get("manager_note") or ""),
    ),
    ("isNull-true", "{kitchenArea: {isNull: true}}", lambda r: r["kitchen_area"] is None),
    ("isNull-false", "{managerNote: {isNull: false}}", lambda r: r.get("manager_note") is not None),
    ("eq-null", "{kitchenArea: {eq: null}}", lambda r: r["kitchen_area"] is None),
    ("ne-null", "{managerNote: {ne: null}}", lambda r: r.get("manager_note") is not None),
    (
        "nin-skips-empty",
        '{kitchenArea: {nin: ["10.7", "11"]}}',
        lambda r: r["kitchen_area"] is not None and r["kitchen_area"] not in (dec("10.7"), 11),
    ),
    (
        "two-operators",
        '{price: {gte: "10000000", lt: "12000000"}}',
        lambda r: dec("10000000") <= r["price"] < dec("12000000"),
    ),
    ("and", "{and: [{rooms: {gte: 2}}, {rooms: {lte: 3}}]}", lambda r: 2 <= r["rooms"] <= 3),
    (
        "or",
        "{or: [{status: {eq: booked}}, {rooms: {eq: 4}}]}",
        lambda r: r["status"] == "booked" or r["rooms"] == 4,
    ),
    ("not", "{not: {status: {eq: sold}}}", lambda r: r["status"] != "sold"),
    (
        "nested-logic",
        '{or: [{and: [{rooms: {eq: 1}}, {balcony: {eq: true}}]}, {not: {price: {lt: "35000000"}}}]}',
        lambda r: (r["rooms"] == 1 and r["balcony"]) or not r["price"] < dec("35000000"),
    ),
    ("ref", "{complex: {status: {eq: ready}}}", lambda r: complex_of(r)["status"] == "ready"),
    (
        "ref-two-levels",
        '{building: {complex: {city: {eq: "Москва"}}}}',
        lambda r: city_of_building(r) == "Москва",
    ),
    (
        "ref-by-id",
        '{complex: {id: {eq: "2"}}}',
        lambda r: r["complex"] == SECOND_SLUG,
    ),
    (
        "ref-and-or",
        '{complex: {city: {eq: "Санкт-Петербург"}}, or: [{rooms: {eq: 0}}, {balcony: {eq: false}}]}',
        lambda r: (
            complex_of(r)["city"] == "Санкт-Петербург" and (r["rooms"] == 0 or not r["balcony"])
        ),
    ),
    (
        "not-ref",
        '{not: {complex: {city: {eq: "Москва"}}}}',
        lambda r: complex_of(r)["city"] != "Москва",
    ),
    ("id-in", '{id: {in: ["1", "3", "250"]}}', lambda r: r["id"] in (1, 3, 250)),
    ("id-nin", '{id: {nin: ["1", "2"]}}', lambda r: r["id"] not in (1, 2)),
    ("id-not-a-number", '{id: {eq: "abc"}}', lambda r: False),
    ("createdAt-gte", '{createdAt: {gte: "2000-01-01T00:00:00+00:00"}}', lambda r: True),
    ("createdAt-lt", '{createdAt: {lt: "2000-01-01T03:00:00+03:00"}}', lambda r: False),
    ("empty", "{}", lambda r: True),
]


@pytest.mark.parametrize(
    "where, predicate", [c[1:] for c in WHERE_CASES], ids=[c[0] for c in WHERE_CASES]
)
def test_where_operators(demo_api: Api, where: str, predicate: Predicate) -> None:
    data = demo_api.data(f"{{ apartments(where: {where}) {{ code }} }}")
    assert [r["code"] for r in data["apartments"]] == codes([r for r in APARTMENTS if predicate(r)])


@pytest.mark.parametrize(
    "where, has_apartment",
    [("{apartment: {id: {isNull: true}}}", False), ("{apartment: {id: {isNull: false}}}", True)],
)
def test_a_ref_filters_on_having_a_record(demo_api: Api, where: str, has_apartment: bool) -> None:
    data = demo_api.data(f"{{ leads(where: {where}) {{ code }} }}")
    leads = seed_records("Lead")
    assert [r["code"] for r in data["leads"]] == [
        lead["code"] for lead in leads if bool(lead.get("apartment")) is has_apartment
    ]
    assert 0 < len(data["leads"]) < len(leads)


def test_where_from_variables(demo_api: Api) -> None:
    where = {"or": [{"rooms": {"eq": 3}}, {"price": {"lt": "7000000"}}], "status": {"in": ["free"]}}
    data = demo_api.data(
        "query($w: ApartmentWhere) { apartments(where: $w) { code } }", {"w": where}
    )
    expected = [
        r
        for r in APARTMENTS
        if (r["rooms"] == 3 or r["price"] < dec("7000000")) and r["status"] == "free"
    ]
    assert [r["code"] for r in data["apartments"]] == codes(expected)


def test_dates_and_moments_compare_as_values(demo_api: Api) -> None:
    data = demo_api.data(
        """{ complexes(where: {completionDate: {gte: "2027-10-01"}}) { slug }
             touchpoints(where: {occurredAt: {eq: "2026-08-11T12:00:00+03:00"}}) { summary }
             later: touchpointsAggregate(where: {occurredAt: {gt: "2026-11-01T00:00:00Z"}}) { count } }"""
    )
    touchpoints = seed_records("Touchpoint")
    moment = dt.datetime.fromisoformat("2026-08-11T09:00:00+00:00")
    cut = dt.datetime.fromisoformat("2026-11-01T00:00:00+00:00")
    assert data == {
        "complexes": [
            {"slug": s} for s, c in COMPLEXES.items() if str(c["completion_date"]) >= "2027-10-01"
        ],
        "touchpoints": [
            {"summary": t["summary"]}
            for t in touchpoints
            if dt.datetime.fromisoformat(t["occurred_at"]) == moment
        ],
        "later": {
            "count": sum(
                1 for t in touchpoints if dt.datetime.fromisoformat(t["occurred_at"]) > cut
            )
        },
    }
    assert data["touchpoints"]


# -- values ------------------------------------------------------------------------------------------


def test_values_are_shown_exactly(demo_api: Api) -> None:
    data = demo_api.data(
        """{ complex(id: "1") { status completionDate latitude longitude createdAt updatedAt }
             mortgagePrograms(orderBy: [{id: ASC}], limit: 1) { rate minDownPayment maxAmount active }
             apartment(id: "1") { price area balcony rooms finishing kitchenArea } }"""
    )
    first = FIRST_COMPLEX
    program = seed_records("MortgageProgram")[0]
    apartment = APARTMENTS[0]
    created = data["complex"].pop("createdAt")
    updated = data["complex"].pop("updatedAt")
    assert data == {
        "complex": {
            "status": first["status"],
            "completionDate": first["completion_date"],
            "latitude": exact(first["latitude"], 6),
            "longitude": exact(first["longitude"], 6),
        },
        "mortgagePrograms": [
            {
                "rate": exact(program["rate"]),
                "minDownPayment": exact(program["min_down_payment"]),
                "maxAmount": exact(program["max_amount"]),
                "active": True,
            }
        ],
        "apartment": {
            "price": exact(apartment["price"]),
            "area": exact(apartment["area"]),
            "balcony": apartment["balcony"],
            "rooms": apartment["rooms"],
            "finishing": apartment["finishing"],
            "kitchenArea": exact(apartment["kitchen_area"]),
        },
    }
    for moment in (created, updated):
        parsed = dt.datetime.fromisoformat(moment)
        assert parsed.utcoffset() == dt.timedelta(0)
        assert moment == parsed.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def test_moments_are_shown_in_utc(demo_api: Api) -> None:
    data = demo_api.data('{ touchpoint(id: "1") { occurredAt } }')
    given = dt.datetime.fromisoformat(seed_records("Touchpoint")[0]["occurred_at"])
    assert data["touchpoint"]["occurredAt"] == given.astimezone(dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%f+00:00"
    )


def test_money_keeps_every_cent(writable_api: Api) -> None:
    """Sums and averages of cents are exact (in floats 0.10 + 0.20 is 0.30000000000000004)."""
    made = writable_api.data(
        'mutation { createComplex(input: {name: "Копеечный дом", city: "Тверь", status: planned}) { id } }'
    )
    complex_id = made["createComplex"]["id"]
    prices = ["0.10", "0.20", "0.05", "123456789012345.67"]
    for i, price in enumerate(prices):
        writable_api.data(
            "mutation($input: ApartmentCreateInput!) { createApartment(input: $input) { id } }",
            {
                "input": {
                    "code": f"CENT-{uuid.uuid4().hex[:6]}-{i}",
                    "complex": complex_id,
                    "price": price,
                }
            },
        )
    data = writable_api.data(
        """query($id: ID!) { complex(id: $id) {
             apartments(orderBy: [{price: ASC}]) { price }
             small: apartmentsAggregate(where: {price: {lt: "1"}}) { sum { price } avg { price } }
             all: apartmentsAggregate { sum { price } max { price } } } }""",
        {"id": complex_id},
    )
    assert data["complex"] == {
        "apartments": [{"price": p} for p in ["0.05", "0.10", "0.20", "123456789012345.67"]],
        "small": {"sum": {"price": "0.35"}, "avg": {"price": "0.12"}},
        "all": {"sum": {"price": "123456789012346.02"}, "max": {"price": "123456789012345.67"}},
    }


def test_enums_are_enum_values(demo_api: Api) -> None:
    result = demo_api.data(
        '{ __type(name: "ApartmentStatus") { kind enumValues { name } } apartment(id: "1") { status } }'
    )
    assert result["__type"] == {
        "kind": "ENUM",
        "enumValues": [{"name": "free"}, {"name": "booked"}, {"name": "sold"}],
    }
    assert result["apartment"]["status"] == APARTMENTS[0]["status"]


# -- the GraphQL language ---------------------------------------------------------------------------


def test_aliases_give_one_field_several_answers(demo_api: Api) -> None:
    data = demo_api.data(
        """{ cheap: apartments(orderBy: [{price: ASC}], limit: 2) { code cost: price }
             dear: apartments(orderBy: [{price: DESC}], limit: 1) { code }
             first: complex(id: "1") { title: name all: apartmentsAggregate { n: count } } }"""
    )
    by_price = ordered(APARTMENTS, [("price", False)])
    first = FIRST_COMPLEX
    assert data == {
        "cheap": [{"code": r["code"], "cost": exact(r["price"])} for r in by_price[:2]],
        "dear": [{"code": ordered(APARTMENTS, [("price", True)])[0]["code"]}],
        "first": {
            "title": first["name"],
            "all": {"n": sum(1 for r in APARTMENTS if r["complex"] == FIRST_SLUG)},
        },
    }


def test_fragments_and_typename(demo_api: Api) -> None:
    data = demo_api.data(
        """query {
             apartment(id: "1") { ...Flat complex { ... on Complex { __typename name } } }
           }
           fragment Flat on Apartment { __typename code ...Money }
           fragment Money on Apartment { price }"""
    )
    first = APARTMENTS[0]
    assert data == {
        "apartment": {
            "__typename": "Apartment",
            "code": first["code"],
            "price": exact(first["price"]),
            "complex": {"__typename": "Complex", "name": complex_of(first)["name"]},
        }
    }


def test_an_object_with_only_typename(demo_api: Api) -> None:
    data = demo_api.data('{ apartment(id: "1") { complex { __typename } } __typename }')
    assert data == {"apartment": {"complex": {"__typename": "Complex"}}, "__typename": "Query"}


def test_directives_and_variables(demo_api: Api) -> None:
    query = """query($n: Int!, $withComplex: Boolean!, $lean: Boolean!) {
        apartments(limit: $n) { code complex @include(if: $withComplex) { name } price @skip(if: $lean) } }"""
    lean = demo_api.data(query, {"n": 1, "withComplex": False, "lean": True})
    full = demo_api.data(query, {"n": 1, "withComplex": True, "lean": False})
    first = APARTMENTS[0]
    assert lean == {"apartments": [{"code": first["code"]}]}
    assert full == {
        "apartments": [
            {
                "code": first["code"],
                "complex": {"name": complex_of(first)["name"]},
                "price": exact(first["price"]),
            }
        ]
    }


def test_the_named_operation_runs(demo_api: Api) -> None:
    document = "query A { complexesAggregate { count } } query B { buildingsAggregate { count } }"
    result = demo_api.run(document, None, "B")
    assert result.errors is None
    assert result.data == {"buildingsAggregate": {"count": len(BUILDINGS)}}


@pytest.mark.parametrize(
    "document, operation, message",
    [
        ("{ nope }", None, "Cannot query field 'nope' on type 'Query'."),
        ("{ apartments { zzzz } }", None, "Cannot query field 'zzzz' on type 'Apartment'."),
        ('{ apartments(limit: "x") { id } }', None, 'Int cannot represent non-integer value: "x"'),
        ("{ apartments {", None, "Syntax Error: Expected Name, found <EOF>."),
        (
            "query A { complexes { id } }",
            "B",
            "the document has no operation 'B'",
        ),
        (
            "subscription { complexChanged { operation } }",
            None,
            "subscriptions are served over websockets at /graphql (graphql-transport-ws)",
        ),
    ],
    ids=[
        "unknown-root",
        "unknown-field",
        "bad-literal",
        "syntax",
        "unknown-operation",
        "subscription",
    ],
)
def test_invalid_documents_are_refused_with_a_message(
    demo_api: Api, document: str, operation: str | None, message: str
) -> None:
    result = demo_api.run(document, None, operation)
    assert result.data is None
    assert result.errors is not None
    assert [e.message for e in result.errors] == [message]


def test_a_variable_of_the_wrong_type_is_refused(demo_api: Api) -> None:
    errors = demo_api.errors("query($n: Int) { apartments(limit: $n) { id } }", {"n": "many"})
    assert [e["message"] for e in errors] == [
        "Variable '$n' got invalid value 'many'; Int cannot represent non-integer value: 'many'"
    ]
