"""The few SQL spellings that differ between SQLite and PostgreSQL: JSON building and formats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, Text, case, cast, func, literal, literal_column, type_coerce
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ecospec.generator.fieldtypes import AVERAGE_PLACES

Expr = ColumnElement[Any]


def _key(name: str) -> Expr:
    """A JSON key written into the statement (GraphQL names and aliases are plain words)."""
    return literal_column("'" + name.replace("'", "''") + "'", String())


def _flat(pairs: list[tuple[str, Expr]]) -> list[Any]:
    args: list[Any] = []
    for key, value in pairs:
        args.extend([_key(key), value])
    return args


def _average(value: Expr, shift: int) -> Expr:
    """SQLite: the average of integers, times 10**shift, rounded half away from zero, in
    integers only (a float's 53 bits would round large amounts). Division truncates toward
    zero and a remainder takes the dividend's sign, so twice a remainder divided by the count
    is the rounding step: -1, 0 or 1."""
    total = type_coerce(func.sum(value), Integer())
    count = func.count(value)
    if shift == 0:
        return total.op("/")(count) + (2 * total.op("%")(count)).op("/")(count)
    unit: Expr = literal_column(str(10**shift))
    rest = total.op("%")(count) * unit
    return (
        total.op("/")(count) * unit + rest.op("/")(count) + (2 * rest.op("%")(count)).op("/")(count)
    )


class SqlDialect:
    """How to build JSON and format exact values on one database."""

    name = "sqlite"
    # SQLite's parser (before 3.46) has a stack of 100 entries, and each subquery nested in an
    # expression holds some until it ends: the compiler keeps its estimate of a statement within
    # this many and writes deeper records as common table expressions (None: no such limit).
    parser_stack: int | None = 96

    # SQLite's functions take at most 127 arguments: json_object 63 pairs, json_insert as many
    # after the object it adds to
    max_pairs = 63

    def obj(self, pairs: list[tuple[str, Expr]]) -> Expr:
        """A JSON object of the pairs, in their order (a client's selection order)."""
        value = func.json_object(*_flat(pairs[: self.max_pairs]), type_=Text())
        for start in range(self.max_pairs, len(pairs), self.max_pairs):
            args: list[Any] = []
            for key, item in pairs[start : start + self.max_pairs]:
                args.extend([literal_column("'$.\"" + key.replace("'", "''") + "\"'"), item])
            value = func.json_insert(value, *args, type_=Text())  # appended, in order
        return value

    def array(self, value: Expr, order: Expr | None = None) -> Expr:
        """A JSON array of `value` over the rows of a derived table, in its order."""
        return func.coalesce(
            func.json_group_array(func.json(value)), literal_column("'[]'"), type_=Text()
        )

    def embed(self, value: Any) -> Expr:
        """A JSON value from a subquery, kept as JSON (not text) inside an enclosing object."""
        return func.json(value, type_=Text())

    def json_value(self, column: Expr) -> Expr:
        return func.json(column, type_=Text())

    def id_text(self, column: Expr) -> Expr:
        """Ids are strings in GraphQL (type ID)."""
        return cast(column, Text())

    def bool_json(self, column: Expr) -> Expr:
        """SQLite keeps booleans as 0/1; JSON needs true/false."""
        return case(
            (column.is_(None), None),
            (
                type_coerce(column, Integer()) != literal_column("0"),
                func.json(literal_column("'true'")),
            ),
            else_=func.json(literal_column("'false'")),
        )

    def decimal_text(self, value: Expr, scale: int) -> Expr:
        """An exact decimal as text: SQLite stores it scaled by 10**scale in an integer."""
        raw = type_coerce(value, Integer())
        magnitude = func.abs(raw)
        unit: Expr = literal_column(str(10**scale))
        whole: Expr = cast(magnitude.op("/")(unit), Text())  # integer division on integers
        if scale == 0:
            body = whole
        else:
            padded = literal_column("'" + "0" * scale + "'").concat(
                cast(magnitude.op("%")(unit), Text())
            )
            body = whole.concat(literal_column("'.'")).concat(func.substr(padded, -scale))
        sign = case((raw < literal_column("0"), literal_column("'-'")), else_=literal_column("''"))
        return case((raw.is_(None), None), else_=sign.concat(body))

    def avg_decimal_text(self, value: Expr, scale: int) -> Expr:
        return self.decimal_text(_average(value, 0), scale)

    def avg_whole(self, value: Expr) -> Expr:
        """The average of whole numbers as a JSON number with AVERAGE_PLACES decimal places."""
        return func.json(self.decimal_text(_average(value, AVERAGE_PLACES), AVERAGE_PLACES))

    def largest_exact(self, scale: int) -> Decimal | None:
        """The largest exact decimal of this scale the database stores (None: past any value
        a field may hold). SQLite keeps it scaled in a 64-bit integer."""
        return Decimal(2**63 - 1).scaleb(-scale)

    def datetime_text(self, value: Expr) -> Expr:
        return value

    def date_text(self, value: Expr) -> Expr:
        return value

    def contains(self, column: Expr, text: Any) -> Expr:
        return func.instr(column, text) > 0

    def starts_with(self, column: Expr, text: Any) -> Expr:
        return func.substr(column, 1, func.length(literal(text))) == literal(text)

    def cursor_array(self, values: list[Expr]) -> Expr:
        return func.json_array(*values, type_=Text())


class PostgresDialect(SqlDialect):
    name = "postgresql"
    parser_stack = None

    # a PostgreSQL function takes at most 100 arguments
    max_pairs = 50

    def obj(self, pairs: list[tuple[str, Expr]]) -> Expr:
        """A JSON object of the pairs, in their order: past 50 pairs, objects of 50 spliced as
        text (jsonb's || would sort the keys)."""
        parts = [
            func.json_build_object(*_flat(pairs[start : start + self.max_pairs]), type_=Text())
            for start in range(0, len(pairs), self.max_pairs)
        ] or [func.json_build_object(type_=Text())]
        value: Expr = parts[0]
        for part in parts[1:]:
            spliced = (
                func.left(cast(value, Text()), -1)
                .concat(literal_column("','"))
                .concat(func.substr(cast(part, Text()), 2))
            )
            value = type_coerce(cast(spliced, JSON()), Text())
        return value

    def array(self, value: Expr, order: Expr | None = None) -> Expr:
        agg = (
            func.json_agg(aggregate_order_by(value, order))
            if order is not None
            else func.json_agg(value)
        )
        return func.coalesce(agg, literal_column("'[]'::json"), type_=Text())

    def embed(self, value: Any) -> Expr:
        return type_coerce(value, Text())

    def json_value(self, column: Expr) -> Expr:
        return column

    def bool_json(self, column: Expr) -> Expr:
        return column

    def decimal_text(self, value: Expr, scale: int) -> Expr:
        return cast(value, Text())

    def avg_decimal_text(self, value: Expr, scale: int) -> Expr:
        return cast(func.round(func.avg(value), scale), Text())

    def avg_whole(self, value: Expr) -> Expr:
        return func.round(func.avg(value), AVERAGE_PLACES)

    def largest_exact(self, scale: int) -> Decimal | None:
        return None

    def datetime_text(self, value: Expr) -> Expr:
        return func.to_char(
            func.timezone("UTC", value), literal('YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        )

    def date_text(self, value: Expr) -> Expr:
        return cast(value, Text())

    def contains(self, column: Expr, text: Any) -> Expr:
        return func.strpos(column, literal(text)) > 0

    def starts_with(self, column: Expr, text: Any) -> Expr:
        return func.left(column, func.length(literal(text))) == literal(text)

    def cursor_array(self, values: list[Expr]) -> Expr:
        return func.json_build_array(*values, type_=Text())


def dialect_for(name: str) -> SqlDialect:
    return PostgresDialect() if name == "postgresql" else SqlDialect()
