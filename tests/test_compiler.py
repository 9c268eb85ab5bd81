"""GraphQL compiled to SQL: one statement per root field whatever the nesting, counted for real on
SQLite and PostgreSQL with an engine event; the JSON each database builds; cursors; exact decimals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dbs import Api, WriteSpec, api_on, demo_spec, resolve
from sqlalchemy import create_engine

from ecospec.generator.api import build_schema
from ecospec.generator.build import fold
from ecospec.generator.loader import load_spec
from ecospec.runtime.catalog import build_catalog
from ecospec.runtime.cursors import decode_cursor, encode_cursor
from ecospec.runtime.execution import GraphQLService
from ecospec.runtime.explain import render
from ecospec.runtime.migrate import migrate
from ecospec.runtime.types import CompileError, to_id

pytest_plugins = ["dbs"]

THREE_LEVELS = """{
  complexes(limit: 10) { name
    buildings(limit: 10) { code
      apartments(where: {rooms: {gte: 2}}, orderBy: [{price: DESC}], limit: 3) { code price }
    }
  }
}"""

EVERYTHING_IN_ONE = """{
  complexes(limit: 10, orderBy: [{name: ASC}]) {
    name status completionDate latitude
    managementCompany { name programs(limit: 3) { name rate } }
    apartmentsAggregate(where: {status: {eq: free}}) { count sum { price } avg { area } }
    buildings(limit: 5) {
      code
      apartments(limit: 3) { code price complex { slug } leads(limit: 2) { code } }
      apartmentsAggregate { count max { price } }
    }
  }
}"""


# -- counted on a real database ----------------------------------------------------------------------


def test_a_three_level_nested_query_is_one_statement(demo_api: Api) -> None:
    sent, result = demo_api.statements(THREE_LEVELS)
    assert result.errors is None
    assert result.data is not None and len(result.data["complexes"]) == 6
    assert len(sent) == 1, sent
    assert sent[0].lstrip().startswith("SELECT")
    builder = "json_group_array" if demo_api.backend == "sqlite" else "json_agg"
    assert sent[0].count(builder) == 3


def test_refs_lists_and_aggregates_nested_together_are_still_one_statement(demo_api: Api) -> None:
    sent, result = demo_api.statements(EVERYTHING_IN_ONE)
    assert result.errors is None
    assert len(sent) == 1


def test_one_statement_per_root_field(demo_api: Api) -> None:
    sent, result = demo_api.statements(
        """{ apartments(limit: 2) { code complex { name } }
             apartment(id: "1") { code building { code } }
             apartmentsConnection(first: 2) { totalCount edges { node { code } } }
             apartmentsAggregate { count sum { price } }
             again: apartmentsAggregate(where: {rooms: {eq: 1}}) { count } }"""
    )
    assert result.errors is None
    assert len(sent) == 5


def test_a_fragment_spread_over_nesting_is_still_one_statement(demo_api: Api) -> None:
    sent, result = demo_api.statements(
        """{ complexes(limit: 10) { ...C } }
           fragment C on Complex { name buildings(limit: 10) { ...B } }
           fragment B on Building { code apartments(limit: 5) { code } }"""
    )
    assert result.errors is None
    assert len(sent) == 1


PAGE = "apartments(where: {rooms: {gte: 1}}, orderBy: [{price: DESC}], limit: 2, offset: 1)"


def test_records_nested_deeper_than_sqlite_parses_answer_as_shallow_ones(demo_api: Api) -> None:
    """Past a few levels SQLite's statement writes the deeper records as CTEs (its parser holds
    only so many nested subqueries); filters, order, limit and offset hold at every level."""
    shallow = demo_api.data(
        f"{{ complexes {{ slug {PAGE} {{ code price building {{ code }} }} }} }}"
    )
    pages = {c["slug"]: c["apartments"] for c in shallow["complexes"]}
    body = "code price building { code }"
    for _ in range(3):
        body = f"code price complex {{ slug {PAGE} {{ {body} }} }}"
    deep = f"{{ complexes {{ slug {PAGE} {{ {body} }} }} }}"
    sent, result = demo_api.statements(deep)
    assert result.errors is None and result.data is not None
    assert len(sent) == 1
    assert ("NOT MATERIALIZED" in sent[0]) == (demo_api.backend == "sqlite")
    checked = 0

    def check(complex_: dict[str, Any]) -> None:
        nonlocal checked
        page = complex_["apartments"]
        assert [(a["code"], a["price"]) for a in page] == [
            (a["code"], a["price"]) for a in pages[complex_["slug"]]
        ]
        checked += 1
        for apartment in page:
            if "complex" in apartment:
                check(apartment["complex"])
            else:
                assert apartment["building"] == next(
                    a["building"] for a in pages[complex_["slug"]] if a["code"] == apartment["code"]
                )

    for complex_ in result.data["complexes"]:
        check(complex_)
    assert checked > len(pages) * 4


def test_introspection_reads_no_data(demo_api: Api) -> None:
    sent, result = demo_api.statements('{ __typename __type(name: "Apartment") { name } }')
    assert result.errors is None
    assert sent == []


def test_a_refused_query_sends_nothing(demo_api: Api) -> None:
    sent, result = demo_api.statements("{ apartments { zzzz } }")
    assert result.errors is not None
    assert sent == []


# -- compiled without a database ---------------------------------------------------------------------


def service(dialect: str) -> GraphQLService:
    spec = demo_spec()
    return GraphQLService(build_catalog(spec), build_schema(spec), dialect_name=dialect)


def sql(dialect: str, query: str, variables: dict[str, Any] | None = None) -> list[str]:
    engine = create_engine(resolve("sqlite://" if dialect == "sqlite" else "postgresql://x/y"))
    return [render(s, engine.dialect) for s in service(dialect).statements(query, variables)]


@pytest.mark.parametrize(
    "dialect, builders",
    [
        ("sqlite", ("json_group_array", "json_object")),
        ("postgresql", ("json_agg", "json_build_object")),
    ],
)
def test_the_database_builds_the_json(dialect: str, builders: tuple[str, str]) -> None:
    statements = sql(dialect, THREE_LEVELS)
    assert len(statements) == 1
    for builder in builders:
        assert f"{builder}(" in statements[0]
    assert "'buildings'" in statements[0] and "'apartments'" in statements[0]


def test_postgresql_keeps_the_order_of_nested_lists() -> None:
    (statement,) = sql("postgresql", THREE_LEVELS)
    assert (
        "row_number() OVER (ORDER BY apartment_1.price DESC NULLS LAST, apartment_1.id ASC"
        in statement
    )
    assert "json_agg(" in statement and "ORDER BY" in statement


def test_aliases_become_the_json_keys() -> None:
    (statement,) = sql(
        "sqlite", "{ apartments(limit: 1) { cost: price where: complex { title: name } } }"
    )
    assert "'cost'" in statement and "'where'" in statement and "'title'" in statement
    assert "'price'" not in statement


def test_variables_reach_the_statement() -> None:
    (statement,) = sql(
        "sqlite",
        "query($n: Int, $w: ApartmentWhere) { apartments(limit: $n, where: $w) { code } }",
        {"n": 7, "w": {"code": {"startsWith": "TB-"}}},
    )
    assert "LIMIT 7" in statement
    assert "'TB-'" in statement


def test_compiled_plans_are_cached_per_variables(demo_api: Api) -> None:
    plans = demo_api.eco.graphql.plans
    query = "query($n: Int) { cached: complexes(limit: $n) { slug } apartmentsAggregate { count } }"
    first = demo_api.data(query, {"n": 2})
    size = len(plans)
    assert demo_api.data(query, {"n": 2}) == first
    assert len(plans) == size
    third = demo_api.data(query, {"n": 3})
    assert len(plans) == size + 2
    assert len(first["cached"]) == 2 and len(third["cached"]) == 3
    assert third["cached"][:2] == first["cached"]


def test_parsed_documents_are_cached() -> None:
    api = service("sqlite")
    query = "{ complexes { name } }"
    assert api.prepare(query) is api.prepare(query)


def test_statements_refuses_an_invalid_document() -> None:
    with pytest.raises(Exception, match=re.escape("Cannot query field 'zzzz' on type 'Query'.")):
        service("sqlite").statements("{ zzzz }")


# -- cursors and ids ---------------------------------------------------------------------------------


def test_a_cursor_round_trips() -> None:
    values = [3, "Северная", None, "12.50", True]
    cursor = encode_cursor(values)
    assert "=" not in cursor
    assert decode_cursor(cursor, 5) == values


@pytest.mark.parametrize(
    "cursor, size, message",
    [
        ("%%%", 1, "after: not a cursor of this connection"),
        (encode_cursor([1, 2]), 1, "after: the cursor belongs to another ordering"),
        ("eyJhIjogMX0", 1, "after: the cursor belongs to another ordering"),  # {"a": 1}
    ],
)
def test_a_bad_cursor(cursor: str, size: int, message: str) -> None:
    with pytest.raises(CompileError) as caught:
        decode_cursor(cursor, size)
    assert caught.value.message == message
    assert caught.value.extensions == {"code": "BAD_CURSOR"}


@pytest.mark.parametrize(
    "value, expected",
    [("5", 5), (5, 5), ("0", None), ("-3", None), ("abc", None), ("", None), ("1.5", None)],
)
def test_ids(value: object, expected: int | None) -> None:
    assert to_id(value) == expected


# -- exact decimals in SQL --------------------------------------------------------------------------

LEDGER = {
    "spec/ecosystem.yaml": """\
        ecosystem: ledger
        auth: {anonymous_role: public}
    """,
    "spec/roles.yaml": """\
        roles:
          public: {}
    """,
    "spec/entities/ledger.yaml": """\
        entities:
          Entry:
            fields:
              label: {type: string, required: true}
              amount: {type: money}
              rate: {type: decimal, scale: 4}
              units: {type: decimal, scale: 0}
              pieces: {type: int}
              extra: {type: json}
    """,
}


def test_signed_and_scaled_decimals_are_exact(
    database: str, write_spec: WriteSpec, tmp_path: Path
) -> None:
    project = write_spec(tmp_path / "ledger", LEDGER)
    spec = load_spec(project)
    migrate(spec, resolve(database))
    rows = [
        ("a", "-5.05", "0.0001", "12"),
        ("b", "-0.05", "-1.5", "-3"),
        ("c", "10", "3.1416", "0"),
        ("d", None, None, None),
    ]
    with api_on(database, project, spec) as api:
        for label, amount, rate, units in rows:
            api.data(
                "mutation($i: EntryCreateInput!) { createEntry(input: $i) { id } }",
                {"i": {"label": label, "amount": amount, "rate": rate, "units": units}},
            )
        data = api.data(
            """{ entries { label amount rate units }
                 entriesAggregate { sum { amount rate units } avg { amount rate }
                                    min { amount rate } max { amount units } } }"""
        )
    assert data["entries"] == [
        {"label": "a", "amount": "-5.05", "rate": "0.0001", "units": "12"},
        {"label": "b", "amount": "-0.05", "rate": "-1.5000", "units": "-3"},
        {"label": "c", "amount": "10.00", "rate": "3.1416", "units": "0"},
        {"label": "d", "amount": None, "rate": None, "units": None},
    ]
    assert data["entriesAggregate"] == {
        "sum": {"amount": "4.90", "rate": "1.6417", "units": "9"},
        "avg": {"amount": "1.63", "rate": "0.5472"},
        "min": {"amount": "-5.05", "rate": "-1.5000"},
        "max": {"amount": "10.00", "units": "12"},
    }


def test_averages_are_exact_and_as_the_sites_fold_them(
    database: str, write_spec: WriteSpec, tmp_path: Path
) -> None:
    """A float's 53 bits would round the average of large amounts (SQLite averaged through
    one), and an average of whole numbers is written to the same 9 places on both databases."""
    api = ledger_api(database, write_spec, tmp_path)
    try:
        for i, (amount, pieces) in enumerate([("90071992547409.93", 1), ("0", 2), (None, 2)]):
            api.data(
                "mutation($i: EntryCreateInput!) { createEntry(input: $i) { id } }",
                {"i": {"label": f"e{i}", "amount": amount, "pieces": pieces}},
            )
        data = api.data("{ entries { amount pieces } entriesAggregate { avg { amount pieces } } }")
    finally:
        api.close()
    assert data["entriesAggregate"]["avg"] == {"amount": "45035996273704.97", "pieces": 1.666666667}
    spec = api.eco.spec
    assert [fold(spec, "Entry", "avg", f, data["entries"]) for f in ("amount", "pieces")] == [
        "45035996273704.97",
        1.666666667,
    ]


def ledger_api(database: str, write_spec: WriteSpec, tmp_path: Path) -> Api:
    project = write_spec(tmp_path / "ledger", LEDGER)
    spec = load_spec(project)
    migrate(spec, resolve(database))
    return Api(database, project, spec)


def test_json_values_round_trip(database: str, write_spec: WriteSpec, tmp_path: Path) -> None:
    values: list[Any] = [
        {"tags": ["a", "б"], "n": 1.5, "nested": {"ok": True, "none": None}},
        [1, "two", None],
        "text",
        7,
        False,
    ]
    api = ledger_api(database, write_spec, tmp_path)
    try:
        for i, value in enumerate(values):
            api.data(
                "mutation($i: EntryCreateInput!) { createEntry(input: $i) { id } }",
                {"i": {"label": f"j{i}", "extra": value}},
            )
        api.data('mutation { createEntry(input: {label: "none"}) { id } }')
        data = api.data(
            "{ entries { extra } empty: entriesAggregate(where: {extra: {isNull: true}}) { count } }"
        )
    finally:
        api.close()
    assert data == {"entries": [{"extra": v} for v in [*values, None]], "empty": {"count": 1}}


def test_a_json_field_set_to_null_is_empty(
    database: str, write_spec: WriteSpec, tmp_path: Path
) -> None:
    api = ledger_api(database, write_spec, tmp_path)
    try:
        api.data('mutation { createEntry(input: {label: "null", extra: null}) { id } }')
        data = api.data(
            "{ entries { extra } empty: entriesAggregate(where: {extra: {isNull: true}}) { count } }"
        )
    finally:
        api.close()
    assert data == {"entries": [{"extra": None}], "empty": {"count": 1}}
