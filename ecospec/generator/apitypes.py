"""The GraphQL types every part of the API shares: the scalars of the spec's field types (exact
money and decimals as strings, ISO 8601 dates and moments, JSON), the operations of a write, the
sort direction, a page's end and the answer to a write the role may not read back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
    ValueNode,
    value_from_ast_untyped,
)
from graphql.language import FloatValueNode, IntValueNode, StringValueNode

from ecospec.generator.types import RECORD_OPERATIONS


def _decimal_parser(places: int | None, name: str) -> Any:
    def parse(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise GraphQLError(f"{name} takes a decimal number as a string or number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise GraphQLError(f"'{value}' is not a decimal number") from None
        if not number.is_finite():
            raise GraphQLError(f"'{value}' is not a finite number")
        if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
            raise GraphQLError(f"'{value}' has more than {places} decimal places")
        return str(number)

    def literal(node: ValueNode, _variables: Any = None) -> str:
        if isinstance(node, IntValueNode | FloatValueNode | StringValueNode):
            return parse(node.value)
        raise GraphQLError(f"{name} takes a decimal number as a string or number")

    return parse, literal


def _iso_parser(kind: type[dt.date], name: str) -> Any:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise GraphQLError(f"{name} takes an ISO 8601 string")
        try:
            kind.fromisoformat(value)
        except ValueError:
            raise GraphQLError(f"'{value}' is not an ISO 8601 {name.lower()}") from None
        return value

    def literal(node: ValueNode, _variables: Any = None) -> str:
        if isinstance(node, StringValueNode):
            return parse(node.value)
        raise GraphQLError(f"{name} takes an ISO 8601 string")

    return parse, literal


def _as_text(value: Any) -> str:
    return str(value)


_money_parse, _money_literal = _decimal_parser(2, "Money")
_decimal_parse, _decimal_literal = _decimal_parser(None, "Decimal")
_date_parse, _date_literal = _iso_parser(dt.date, "Date")
_datetime_parse, _datetime_literal = _iso_parser(dt.datetime, "DateTime")

MONEY = GraphQLScalarType(
    "Money",
    description='An exact amount with two decimal places, as a string: "5200000.00".',
    serialize=_as_text,
    parse_value=_money_parse,
    parse_literal=_money_literal,
)
DECIMAL = GraphQLScalarType(
    "Decimal",
    description='An exact decimal number, as a string: "54.30".',
    serialize=_as_text,
    parse_value=_decimal_parse,
    parse_literal=_decimal_literal,
)
DATE = GraphQLScalarType(
    "Date",
    description='A calendar date, ISO 8601: "2026-05-01".',
    serialize=_as_text,
    parse_value=_date_parse,
    parse_literal=_date_literal,
)
DATETIME = GraphQLScalarType(
    "DateTime",
    description='A moment, ISO 8601 with time zone: "2026-05-01T10:00:00+00:00".',
    serialize=_as_text,
    parse_value=_datetime_parse,
    parse_literal=_datetime_literal,
)


def _json_serialize(value: Any) -> Any:
    return value  # the database already built it as JSON


def _json_parse(value: Any) -> Any:
    return value


def _json_literal(node: ValueNode, variables: Any = None) -> Any:
    return value_from_ast_untyped(node, variables)


JSON = GraphQLScalarType(
    "JSON",
    description="Any JSON value.",
    serialize=_json_serialize,
    parse_value=_json_parse,
    parse_literal=_json_literal,
)

SCALARS: dict[str, GraphQLScalarType] = {
    "string": GraphQLString,
    "text": GraphQLString,
    "slug": GraphQLString,
    "email": GraphQLString,
    "phone": GraphQLString,
    "url": GraphQLString,
    "int": GraphQLInt,
    "decimal": DECIMAL,
    "money": MONEY,
    "bool": GraphQLBoolean,
    "date": DATE,
    "datetime": DATETIME,
    "json": JSON,
    "ref": GraphQLID,
}

SORT_DIRECTION = GraphQLEnumType(
    "SortDirection",
    {
        "ASC": GraphQLEnumValue("ASC", description="Smallest first; nulls last."),
        "DESC": GraphQLEnumValue("DESC", description="Largest first; nulls last."),
    },
    description="The direction of one sort key.",
)
PAGE_INFO = GraphQLObjectType(
    "PageInfo",
    {
        "hasNextPage": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        "endCursor": GraphQLField(GraphQLString, description="Pass as `after` for the next page."),
    },
    description="Where a page of a connection ends.",
)


MUTATION_RESULT = GraphQLObjectType(
    "MutationResult",
    {"id": GraphQLField(GraphQLNonNull(GraphQLID), description="The id of the record written.")},
    description="What a write returns to a role that may not read the entity it wrote.",
)
AUDIT_OPERATION = GraphQLEnumType(
    "AuditOperation", {str(v): GraphQLEnumValue(v) for v in RECORD_OPERATIONS}
)
