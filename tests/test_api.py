"""The GraphQL API a spec compiles to: the committed schema.graphql, `ecospec schema [--check]`,
and the naming and typing conventions of every entity's queries, filters, inputs and mutations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dbs import ROOT, SHOP, WriteSpec, demo_spec
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
)

from ecospec.cli import main
from ecospec.generator.api import build_schema, schema_sdl
from ecospec.generator.apitypes import DATE, DATETIME, DECIMAL, MONEY
from ecospec.generator.loader import load_spec
from ecospec.generator.naming import camel, entity_names, pascal, pluralize

pytest_plugins = ["dbs"]


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(demo_spec())


def fields(schema: GraphQLSchema, type_name: str) -> dict[str, str]:
    """A type's fields (or input fields) and their types, as SDL writes them."""
    type_ = schema.get_type(type_name)
    assert isinstance(type_, GraphQLObjectType | GraphQLInputObjectType), type_name
    return {name: str(f.type) for name, f in type_.fields.items()}


def args(schema: GraphQLSchema, type_name: str, field: str) -> dict[str, str]:
    type_ = schema.get_type(type_name)
    assert isinstance(type_, GraphQLObjectType)
    return {name: str(a.type) for name, a in type_.fields[field].args.items()}


# -- schema.graphql ----------------------------------------------------------------------------------


def test_the_committed_schema_is_what_the_demo_generates() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert schema_sdl(demo_spec()) == committed


def test_the_schema_is_deterministic() -> None:
    first = schema_sdl(load_spec(ROOT))
    second = schema_sdl(load_spec(ROOT))
    assert first == second
    assert first.endswith("}\n") and not first.endswith("\n\n")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_demo_schema_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "schema", "--check", "--project", str(ROOT)) == (
        0,
        f"{ROOT / 'schema.graphql'}: up to date\n",
        "",
    )


def test_schema_writes_the_same_file_every_time(
    capsys: pytest.CaptureFixture[str], write_spec: WriteSpec, tmp_path: Path
) -> None:
    project = write_spec(tmp_path / "shop", SHOP)
    target = project / "schema.graphql"
    assert run(capsys, "schema", "--project", str(project)) == (0, f"wrote {target}\n", "")
    first = target.read_bytes()
    assert run(capsys, "schema", "--project", str(project))[0] == 0
    assert target.read_bytes() == first
    assert first.decode() == schema_sdl(load_spec(project))
    code, out, _ = run(capsys, "schema", "--out", "-", "--project", str(project))
    assert (code, out) == (0, first.decode())


def test_schema_check_shows_the_drift_and_exits_1(
    capsys: pytest.CaptureFixture[str], write_spec: WriteSpec, tmp_path: Path
) -> None:
    project = write_spec(tmp_path / "shop", SHOP)
    target = project / "schema.graphql"
    assert run(capsys, "schema", "--project", str(project))[0] == 0
    assert run(capsys, "schema", "--check", "--project", str(project)) == (
        0,
        f"{target}: up to date\n",
        "",
    )
    entities = (
        SHOP["spec/entities/shop.yaml"] + "      weight: {type: int, title: Weight in grams}\n"
    )
    write_spec(project, {"spec/entities/shop.yaml": entities})
    before = target.read_bytes()
    code, out, err = run(capsys, "schema", "--check", "--project", str(project))
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[:2] == [f"--- {target}", "+++ spec/"]
    assert '+  """Weight in grams"""' in lines
    assert "+  weight: Int" in lines
    assert lines[-1] == f"{target} is out of date with spec/: run `ecospec schema`"
    assert target.read_bytes() == before  # --check writes nothing


def test_schema_check_without_a_file(
    capsys: pytest.CaptureFixture[str], write_spec: WriteSpec, tmp_path: Path
) -> None:
    project = write_spec(tmp_path / "shop", SHOP)
    code, out, _ = run(capsys, "schema", "--check", "--project", str(project))
    assert code == 1
    assert out.splitlines()[-1] == (
        f"{project / 'schema.graphql'} is out of date with spec/: run `ecospec schema`"
    )
    assert not (project / "schema.graphql").exists()


# -- the conventions, on Apartment -------------------------------------------------------------------


def test_the_queries_of_an_entity(schema: GraphQLSchema) -> None:
    query = fields(schema, "Query")
    assert query["apartments"] == "[Apartment!]!"
    assert args(schema, "Query", "apartments") == {
        "where": "ApartmentWhere",
        "orderBy": "[ApartmentOrderBy!]",
        "limit": "Int",
        "offset": "Int",
    }
    assert query["apartment"] == "Apartment"
    assert args(schema, "Query", "apartment") == {"id": "ID!"}
    assert query["apartmentsConnection"] == "ApartmentConnection!"
    assert args(schema, "Query", "apartmentsConnection") == {
        "first": "Int",
        "after": "String",
        "where": "ApartmentWhere",
        "orderBy": "[ApartmentOrderBy!]",
    }
    assert query["apartmentsAggregate"] == "ApartmentAggregate!"
    assert args(schema, "Query", "apartmentsAggregate") == {"where": "ApartmentWhere"}


def test_every_entity_has_the_same_four_queries(schema: GraphQLSchema) -> None:
    query = fields(schema, "Query")
    for name, entity in demo_spec().entities.items():
        names = entity_names(name, entity)
        for root in (names.many, names.one, names.connection, names.aggregate):
            assert root in query, root


def test_the_mutations_of_an_entity(schema: GraphQLSchema) -> None:
    mutation = fields(schema, "Mutation")
    assert mutation["createApartment"] == "Apartment!"
    assert args(schema, "Mutation", "createApartment") == {"input": "ApartmentCreateInput!"}
    assert mutation["updateApartment"] == "Apartment!"
    assert args(schema, "Mutation", "updateApartment") == {
        "id": "ID!",
        "input": "ApartmentUpdateInput!",
    }
    assert mutation["deleteApartment"] == "Apartment!"
    assert args(schema, "Mutation", "deleteApartment") == {"id": "ID!"}
    assert args(schema, "Mutation", "upsertApartment") == {
        "on": "ApartmentUniqueField!",
        "input": "ApartmentCreateInput!",
    }
    on = schema.get_type("ApartmentUniqueField")
    assert isinstance(on, GraphQLEnumType) and list(on.values) == ["code"]
    complex_on = schema.get_type("ComplexUniqueField")
    assert isinstance(complex_on, GraphQLEnumType) and list(complex_on.values) == ["slug"]
    assert "upsertAmenity" not in mutation  # no unique field to match on


def test_the_object_type(schema: GraphQLSchema) -> None:
    apartment = fields(schema, "Apartment")
    assert {k: apartment[k] for k in ("id", "code", "complex", "building", "rooms")} == {
        "id": "ID!",
        "code": "String!",
        "complex": "Complex!",
        "building": "Building",
        "rooms": "Int",
    }
    assert {k: apartment[k] for k in ("area", "price", "status", "balcony", "planImage")} == {
        "area": "Decimal",
        "price": "Money",
        "status": "ApartmentStatus",  # only `required` fields are non-null
        "balcony": "Boolean",
        "planImage": "String",
    }
    assert (apartment["createdAt"], apartment["updatedAt"]) == ("DateTime!", "DateTime!")
    assert fields(schema, "Complex")["completionDate"] == "Date"
    status = schema.get_type("ApartmentStatus")
    assert isinstance(status, GraphQLEnumType) and list(status.values) == ["free", "booked", "sold"]


def test_lists_take_list_arguments_and_have_aggregates(schema: GraphQLSchema) -> None:
    complex_ = fields(schema, "Complex")
    assert complex_["apartments"] == "[Apartment!]!"
    assert args(schema, "Complex", "apartments") == {
        "where": "ApartmentWhere",
        "orderBy": "[ApartmentOrderBy!]",
        "limit": "Int",
        "offset": "Int",
    }
    assert complex_["apartmentsAggregate"] == "ApartmentAggregate!"
    assert args(schema, "Complex", "apartmentsAggregate") == {"where": "ApartmentWhere"}


def test_connections_and_aggregates(schema: GraphQLSchema) -> None:
    assert fields(schema, "ApartmentConnection") == {
        "edges": "[ApartmentEdge!]!",
        "pageInfo": "PageInfo!",
        "totalCount": "Int!",
    }
    assert fields(schema, "ApartmentEdge") == {"cursor": "String!", "node": "Apartment!"}
    assert fields(schema, "PageInfo") == {"hasNextPage": "Boolean!", "endCursor": "String"}
    assert fields(schema, "ApartmentAggregate") == {
        "count": "Int!",
        "sum": "ApartmentSumFields!",
        "avg": "ApartmentAvgFields!",
        "min": "ApartmentMinFields!",
        "max": "ApartmentMaxFields!",
    }
    assert fields(schema, "ApartmentSumFields") == {
        "number": "Int",
        "floor": "Int",
        "rooms": "Int",
        "area": "Decimal",
        "kitchenArea": "Decimal",
        "ceilingHeight": "Decimal",
        "price": "Money",
        "minPrice": "Money",
    }
    avg = fields(schema, "ApartmentAvgFields")
    assert (avg["rooms"], avg["price"], avg["area"]) == ("Float", "Money", "Decimal")
    assert fields(schema, "ComplexMinFields") == {
        "completionDate": "Date",
        "latitude": "Decimal",
        "longitude": "Decimal",
        "createdAt": "DateTime",
        "updatedAt": "DateTime",
    }


def test_where_has_every_field_refs_and_logic(schema: GraphQLSchema) -> None:
    where = fields(schema, "ApartmentWhere")
    assert where["id"] == "IDFilter"
    assert where["complex"] == "ComplexWhere"  # through the ref
    assert where["price"] == "MoneyFilter"
    assert where["status"] == "ApartmentStatusFilter"
    assert where["managerNote"] == "TextFilter"
    assert (where["createdAt"], where["updatedAt"]) == ("DateTimeFilter", "DateTimeFilter")
    assert (where["and"], where["or"], where["not"]) == (
        "[ApartmentWhere!]",
        "[ApartmentWhere!]",
        "ApartmentWhere",
    )
    assert "leads" not in where  # lists are filtered from the other side


@pytest.mark.parametrize(
    "filter_name, operators",
    [
        ("StringFilter", "eq ne in nin isNull gt gte lt lte contains startsWith"),
        ("TextFilter", "eq ne in nin isNull contains startsWith"),
        ("IntFilter", "eq ne in nin isNull gt gte lt lte"),
        ("MoneyFilter", "eq ne in nin isNull gt gte lt lte"),
        ("DecimalFilter", "eq ne in nin isNull gt gte lt lte"),
        ("DateFilter", "eq ne in nin isNull gt gte lt lte"),
        ("DateTimeFilter", "eq ne in nin isNull gt gte lt lte"),
        ("BooleanFilter", "eq ne isNull"),
        ("ApartmentStatusFilter", "eq ne in nin isNull"),
        ("IDFilter", "eq ne in nin isNull"),
    ],
)
def test_each_filter_has_the_operators_of_its_type(
    schema: GraphQLSchema, filter_name: str, operators: str
) -> None:
    assert list(fields(schema, filter_name)) == operators.split()


def test_filter_operand_types(schema: GraphQLSchema) -> None:
    money = fields(schema, "MoneyFilter")
    assert (money["eq"], money["in"], money["isNull"]) == ("Money", "[Money!]", "Boolean")
    status = fields(schema, "ApartmentStatusFilter")
    assert (status["eq"], status["nin"]) == ("ApartmentStatus", "[ApartmentStatus!]")


def test_order_by_has_every_sortable_field(schema: GraphQLSchema) -> None:
    order = fields(schema, "ApartmentOrderBy")
    assert set(order.values()) == {"SortDirection"}
    assert list(order)[:4] == ["id", "code", "complex", "building"]
    assert list(order)[-2:] == ["createdAt", "updatedAt"]
    assert "leads" not in order


def test_inputs(schema: GraphQLSchema) -> None:
    create = fields(schema, "ApartmentCreateInput")
    assert {k: create[k] for k in ("code", "complex", "building", "price", "status")} == {
        "code": "String!",  # required
        "complex": "ID!",  # a required ref, by id
        "building": "ID",
        "price": "Money",
        "status": "ApartmentStatus",  # has a default
    }
    assert "leads" not in create and "id" not in create and "createdAt" not in create
    assert (
        fields(schema, "ComplexCreateInput")["slug"] == "String"
    )  # made from the name if left out
    update = fields(schema, "ApartmentUpdateInput")
    assert list(update) == list(create)
    assert all(not t.endswith("!") for t in update.values())


# -- names and scalars -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word, plural",
    [
        ("Apartment", "Apartments"),
        ("Complex", "Complexes"),
        ("Amenity", "Amenities"),
        ("Day", "Days"),
        ("Branch", "Branches"),
        ("MortgageProgram", "MortgagePrograms"),
    ],
)
def test_plurals(word: str, plural: str) -> None:
    assert pluralize(word) == plural


def test_camel_and_pascal() -> None:
    assert camel("kitchen_area") == "kitchenArea"
    assert camel("utm_source") == "utmSource"
    assert pascal("white_box") == "WhiteBox"


def test_an_entity_may_name_its_plural(write_spec: WriteSpec, tmp_path: Path) -> None:
    entities = SHOP["spec/entities/shop.yaml"] + (
        "  Person:\n    plural: People\n    fields:\n      name: {type: string}\n"
    )
    project = write_spec(tmp_path / "shop", {**SHOP, "spec/entities/shop.yaml": entities})
    query = fields(build_schema(load_spec(project)), "Query")
    assert {"people", "person", "peopleConnection", "peopleAggregate"} <= set(query)


@pytest.mark.parametrize(
    "scalar, value, parsed",
    [
        (MONEY, "5200000", "5200000"),
        (MONEY, "5200000.5", "5200000.5"),
        (MONEY, 12, "12"),
        (DECIMAL, "54.123456", "54.123456"),
        (DATE, "2026-05-01", "2026-05-01"),
        (DATETIME, "2026-05-01T10:00:00+03:00", "2026-05-01T10:00:00+03:00"),
    ],
)
def test_scalars_take_exact_values(scalar: Any, value: Any, parsed: str) -> None:
    assert scalar.parse_value(value) == parsed


@pytest.mark.parametrize(
    "scalar, value, message",
    [
        (MONEY, "1.234", "'1.234' has more than 2 decimal places"),
        (MONEY, "lots", "'lots' is not a decimal number"),
        (MONEY, True, "Money takes a decimal number as a string or number"),
        (DECIMAL, "NaN", "'NaN' is not a finite number"),
        (DATE, "2026-02-30", "'2026-02-30' is not an ISO 8601 date"),
        (DATE, 20260501, "Date takes an ISO 8601 string"),
        (DATETIME, "tomorrow", "'tomorrow' is not an ISO 8601 datetime"),
    ],
)
def test_scalars_refuse_what_is_not_exact(scalar: Any, value: Any, message: str) -> None:
    with pytest.raises(GraphQLError) as refused:
        scalar.parse_value(value)
    assert refused.value.message == message
