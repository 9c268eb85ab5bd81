"""Column types that store exact decimals, dates and moments the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Dialect, Integer, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


class ScaledDecimal(TypeDecorator[Decimal]):
    """An exact decimal with a fixed scale: NUMERIC on PostgreSQL, a scaled INTEGER on SQLite."""

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(30, self.scale))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = Decimal(str(value))
        if dialect.name == "sqlite":
            return int(number.scaleb(self.scale).to_integral_value())
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value)


class IsoDate(TypeDecorator[str]):
    """A calendar date: DATE on PostgreSQL, 'YYYY-MM-DD' text on SQLite; ISO strings both ways."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(10))
        return dialect.type_descriptor(Date())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return day.isoformat() if dialect.name == "sqlite" else day

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return value.isoformat() if isinstance(value, dt.date) else str(value)


class IsoDateTime(TypeDecorator[str]):
    """A moment in UTC: TIMESTAMPTZ on PostgreSQL, fixed-width ISO text on SQLite (sorts right)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        moment = to_utc(value)
        return moment.strftime(DATETIME_FORMAT) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return to_utc(value).strftime(DATETIME_FORMAT)


def to_utc(value: Any) -> dt.datetime:
    """A datetime or ISO string as an aware UTC datetime (naive values are taken as UTC)."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
