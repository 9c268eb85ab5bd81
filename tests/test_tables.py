"""The tables of a spec (SQLAlchemy metadata) and the column types that keep decimals, dates and
moments exact and alike on SQLite and PostgreSQL, checked against real databases."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from dbs import demo_spec, resolve
from sqlalchemy import (
    CheckConstraint,
    Column,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from ecospec.generator.columns import IsoDate, IsoDateTime, ScaledDecimal, to_utc
from ecospec.generator.tables import ColumnOrigin, build_metadata, column_name, table_name
from ecospec.runtime.database import sync_engine

pytest_plugins = ["dbs"]


def demo_tables() -> MetaData:
    metadata, _ = build_metadata(demo_spec())
    return metadata


def apartment() -> Table:
    return demo_tables().tables["apartment"]


def test_names() -> None:
    assert table_name("Apartment") == "apartment"
    assert table_name("MortgageProgram") == "mortgage_program"
    spec = demo_spec()
    fields = spec.entities["Apartment"].fields
    assert column_name("complex", fields["complex"]) == "complex_id"
    assert column_name("price", fields["price"]) == "price"


def test_every_entity_has_a_table() -> None:
    assert sorted(demo_tables().tables) == [
        "amenity",
        "apartment",
        "building",
        "complex",
        "customer",
        "deal",
        "employee",
        "lead",
        "meeting",
        "mortgage_program",
        "partner",
        "touchpoint",
    ]


def test_columns_follow_the_fields_between_id_and_the_times() -> None:
    assert [c.name for c in apartment().columns] == [
        "id",
        "code",
        "complex_id",
        "building_id",
        "number",
        "floor",
        "rooms",
        "area",
        "kitchen_area",
        "ceiling_height",
        "price",
        "min_price",
        "status",
        "finishing",
        "balcony",
        "plan_image",
        "manager_note",
        "created_at",
        "updated_at",
    ]
    table = apartment()
    assert table.c.id.primary_key and table.c.id.autoincrement is True
    assert "leads" not in table.c  # a list is the other entity's ref, not a column


def test_only_required_defaulted_and_derived_fields_are_not_null() -> None:
    table = apartment()
    not_null = {c.name for c in table.columns if not c.nullable}
    assert not_null == {
        "id",
        "code",
        "complex_id",
        "status",
        "finishing",
        "balcony",
        "created_at",
        "updated_at",
    }
    assert demo_tables().tables["complex"].c.slug.nullable is False  # made from the name


def test_column_types() -> None:
    table = apartment()
    code = table.c.code.type
    assert isinstance(code, String) and code.length == 20
    plan = table.c.plan_image.type
    assert isinstance(plan, String) and plan.length == 255
    assert isinstance(table.c.manager_note.type, Text)
    status = table.c.status.type
    assert isinstance(status, String) and status.length == len("booked")
    price = table.c.price.type
    assert isinstance(price, ScaledDecimal) and price.scale == 2
    latitude = demo_tables().tables["complex"].c.latitude.type
    assert isinstance(latitude, ScaledDecimal) and latitude.scale == 6
    assert isinstance(table.c.created_at.type, IsoDateTime)
    assert isinstance(demo_tables().tables["complex"].c.completion_date.type, IsoDate)
    assert isinstance(table.c.complex_id.type, Integer)


def foreign_keys(table: Table) -> dict[str, tuple[str, str | None]]:
    out = {}
    for constraint in table.constraints:
        if isinstance(constraint, ForeignKeyConstraint):
            (element,) = constraint.elements
            out[element.parent.name] = (element.target_fullname, constraint.ondelete)
    return out


def test_refs_are_foreign_keys_with_the_spec_on_delete() -> None:
    tables = demo_tables().tables
    assert foreign_keys(tables["apartment"]) == {
        "complex_id": ("complex.id", "CASCADE"),
        "building_id": ("building.id", "SET NULL"),
    }
    deal = foreign_keys(tables["deal"])
    assert deal["customer_id"] == ("customer.id", "RESTRICT")  # required, no on_delete: restrict
    assert deal["lead_id"] == ("lead.id", "SET NULL")
    assert foreign_keys(tables["meeting"])["manager_id"] == ("employee.id", "RESTRICT")


def test_unique_fields_and_indexes() -> None:
    table = apartment()
    uniques = {
        tuple(c.name for c in u.columns)
        for u in table.constraints
        if isinstance(u, UniqueConstraint)
    } | {(c.name,) for c in table.columns if c.unique}
    assert uniques == {("code",)}
    indexed = {tuple(c.name for c in i.columns) for i in table.indexes}
    # refs, fields marked `index`, and created_at; a unique field has its own index already
    assert indexed == {
        ("complex_id",),
        ("building_id",),
        ("floor",),
        ("rooms",),
        ("price",),
        ("status",),
        ("created_at",),
    }


def test_enums_and_bounds_are_check_constraints() -> None:
    checks = {str(c.sqltext) for c in apartment().constraints if isinstance(c, CheckConstraint)}
    assert checks == {
        "\"status\" IN ('free', 'booked', 'sold')",
        "\"finishing\" IN ('rough', 'white_box', 'turnkey')",
        '"number" >= 1',
        '"number" <= 9999',
        '"floor" >= 1',
        '"floor" <= 75',
        '"rooms" >= 0',
        '"rooms" <= 6',
    }
    names = {c.name for c in apartment().constraints if isinstance(c, CheckConstraint)}
    assert all(isinstance(n, str) and n.startswith("ck_apartment_") for n in names)


def test_comments_carry_the_spec_titles() -> None:
    table = apartment()
    assert table.comment == "Квартира в продаже; цена и статус меняются отделом продаж."
    assert table.c.price.comment == "Цена, ₽"
    assert table.c.rooms.comment == "Число комнат; 0 — студия."


def test_every_column_knows_its_spec_field() -> None:
    _, origins = build_metadata(demo_spec())
    assert origins[("apartment", "price")] == ColumnOrigin(
        "Apartment", "price", ("entities", "Apartment", "fields", "price")
    )
    assert origins[("apartment", "complex_id")].field == "complex"
    assert origins[("apartment", "created_at")] == ColumnOrigin(
        "Apartment", None, ("entities", "Apartment")
    )


def test_tables_are_deterministic() -> None:
    def shape() -> list[tuple[str, list[str]]]:
        return [(t.name, [repr(c) for c in t.columns]) for t in demo_tables().sorted_tables]

    assert shape() == shape()


# -- on real databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def engine_for(database: str) -> Iterator[Engine]:
    engine = sync_engine(resolve(database))
    try:
        yield engine
    finally:
        engine.dispose()


def values_table() -> Table:
    return Table(
        "measure",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("amount", ScaledDecimal(2)),
        Column("ratio", ScaledDecimal(6)),
        Column("day", IsoDate()),
        Column("moment", IsoDateTime()),
    )


def test_values_come_back_exactly(database: str) -> None:
    table = values_table()
    with engine_for(database) as engine:
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {
                        "amount": Decimal("123456789012.34"),
                        "ratio": "-0.000001",
                        "day": "2026-02-28",
                        "moment": "2026-05-01T10:00:00+03:00",
                    },
                    {
                        "amount": 0.1,
                        "ratio": 59.9893,
                        "day": dt.date(2025, 12, 20),
                        "moment": dt.datetime(2026, 5, 1, 7, 0),  # naive: taken as UTC
                    },
                    {"amount": None, "ratio": None, "day": None, "moment": None},
                ],
            )
            rows = [tuple(r) for r in conn.execute(select(table).order_by(table.c.id))]
    assert rows == [
        (
            1,
            Decimal("123456789012.34"),
            Decimal("-0.000001"),
            "2026-02-28",
            "2026-05-01T07:00:00.000000+00:00",
        ),
        (
            2,
            Decimal("0.10"),
            Decimal("59.989300"),
            "2025-12-20",
            "2026-05-01T07:00:00.000000+00:00",
        ),
        (3, None, None, None, None),
    ]


def test_sqlite_stores_decimals_as_scaled_integers_and_moments_as_sortable_text(
    database: str,
) -> None:
    if not database.startswith("sqlite"):
        pytest.skip("how SQLite stores values")
    table = values_table()
    with engine_for(database) as engine:
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                table.insert().values(
                    amount="12.5", ratio="1", day="2026-01-02", moment="2026-01-02T00:00:00Z"
                )
            )
            raw = conn.execute(
                text("SELECT amount, typeof(amount), ratio, day, moment FROM measure")
            ).one()
    assert tuple(raw) == (
        1250,
        "integer",
        1000000,
        "2026-01-02",
        "2026-01-02T00:00:00.000000+00:00",
    )


def test_postgresql_uses_numeric_date_and_timestamptz(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("how PostgreSQL stores values")
    table = values_table()
    with engine_for(database) as engine:
        table.metadata.create_all(engine)
        with engine.connect() as conn:
            types: dict[str, str] = dict(
                conn.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns"
                        " WHERE table_name = 'measure' AND table_schema = current_schema()"
                    )
                ).all()
            )
    assert types == {
        "id": "integer",
        "amount": "numeric",
        "ratio": "numeric",
        "day": "date",
        "moment": "timestamp with time zone",
    }


@pytest.mark.parametrize(
    "given, expected",
    [
        ("2026-05-01T10:00:00+03:00", "2026-05-01T07:00:00+00:00"),
        ("2026-05-01T07:00:00", "2026-05-01T07:00:00+00:00"),
        (
            dt.datetime(2026, 5, 1, 7, tzinfo=dt.timezone(dt.timedelta(hours=-2))),
            "2026-05-01T09:00:00+00:00",
        ),
    ],
)
def test_moments_are_taken_to_utc(given: Any, expected: str) -> None:
    assert to_utc(given).isoformat() == expected


def demo_row(**values: Any) -> dict[str, Any]:
    moment = "2026-01-01T00:00:00+00:00"
    return {"created_at": moment, "updated_at": moment, **values}


def test_the_database_enforces_constraints(database: str) -> None:
    tables = demo_tables()
    complex_, flat = tables.tables["complex"], tables.tables["apartment"]
    with engine_for(database) as engine:
        tables.create_all(engine)
        with engine.begin() as conn:
            conn.execute(complex_.insert().values(demo_row(name="Дом", slug="dom", city="Тверь")))
        bad: list[dict[str, Any]] = [
            {"code": "A-1", "complex_id": 999},  # no such complex
            {"code": "A-2", "complex_id": 1, "rooms": 7},  # above max
            {"code": "A-3", "complex_id": 1, "status": "gone"},  # not in the enum
            {"code": "A-4"},  # required ref missing
        ]
        for values in bad:
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(flat.insert().values(demo_row(**values)))
        with engine.begin() as conn:
            conn.execute(flat.insert().values(demo_row(code="A-5", complex_id=1)))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(flat.insert().values(demo_row(code="A-5", complex_id=1)))  # unique
        with engine.connect() as conn:
            row = conn.execute(select(flat.c.status, flat.c.finishing, flat.c.balcony)).one()
    assert tuple(row) == ("free", "white_box", False)  # the spec's defaults


def test_deleting_follows_on_delete(database: str) -> None:
    tables = demo_tables()
    complex_, building, flat = (tables.tables[n] for n in ("complex", "building", "apartment"))
    with engine_for(database) as engine:
        tables.create_all(engine)
        with engine.begin() as conn:
            conn.execute(complex_.insert().values(demo_row(name="Дом", slug="dom", city="Тверь")))
            conn.execute(building.insert().values(demo_row(code="D-1", complex_id=1, name="К1")))
            conn.execute(flat.insert().values(demo_row(code="D-1-1", complex_id=1, building_id=1)))
            conn.execute(building.delete())
            assert conn.execute(select(flat.c.building_id)).scalar_one() is None  # set null
            conn.execute(complex_.delete())
            assert conn.execute(select(flat.c.id)).all() == []  # cascade


def test_numeric_on_postgresql_keeps_thirty_digits() -> None:
    column = ScaledDecimal(2)
    postgresql = create_engine("postgresql+psycopg://nobody@nowhere/none").dialect
    sqlite = create_engine("sqlite://").dialect
    pg = column.load_dialect_impl(postgresql)
    assert isinstance(pg, Numeric) and (pg.precision, pg.scale) == (30, 2)
    assert isinstance(column.load_dialect_impl(sqlite), Integer)
