"""The database tables of a spec, as SQLAlchemy metadata (compared and migrated by the runtime)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from ecospec.generator.columns import IsoDate, IsoDateTime, ScaledDecimal
from ecospec.generator.errors import KeyPath
from ecospec.generator.model import Entity, FieldSpec, Spec

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


DEFAULT_LENGTH = 255  # the column length of short text fields without max_length


def table_name(entity: str) -> str:
    """'MortgageProgram' -> 'mortgage_program'."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", entity).lower()


def column_name(field: str, spec_field: FieldSpec) -> str:
    return f"{field}_id" if spec_field.type == "ref" else field


def always_set(field: FieldSpec) -> bool:
    """Whether every stored record has a value: required, defaulted, or a derived slug."""
    return (
        field.required
        or field.default is not None
        or (field.type == "slug" and field.from_ is not None)
    )


def column_type(field: FieldSpec) -> TypeEngine[Any]:
    t = field.type
    if t in ("string", "slug", "email", "phone", "url"):
        return String(field.max_length or DEFAULT_LENGTH)
    if t == "text":
        return Text()
    if t == "int":
        return Integer()
    if t in ("money", "decimal"):
        return ScaledDecimal(field.decimal_places)
    if t == "bool":
        return Boolean(create_constraint=False)
    if t == "date":
        return IsoDate()
    if t == "datetime":
        return IsoDateTime()
    if t == "enum":
        return String(max((len(v) for v in field.values or []), default=1))
    if t == "json":
        # none_as_null: a json field set to null has no value (isNull finds it)
        return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    if t == "ref":
        return Integer()
    raise ValueError(f"no column for a {t} field")  # list fields have no column


def _check_name(table: str, column: str, kind: str, condition: str) -> str:
    digest = hashlib.sha1(condition.encode()).hexdigest()[:8]
    return f"ck_{table}_{column}_{kind}_{digest}"


@dataclass(frozen=True)
class ColumnOrigin:
    """Which spec field a column comes from, for messages that point at the spec."""

    entity: str
    field: str | None
    path: KeyPath


def build_metadata(spec: Spec) -> tuple[MetaData, dict[tuple[str, str], ColumnOrigin]]:
    """Tables for every entity, and the spec origin of every column (table, column) -> origin."""
    metadata = MetaData(naming_convention=NAMING)
    origins: dict[tuple[str, str], ColumnOrigin] = {}
    for ename in sorted(spec.entities):
        entity = spec.entities[ename]
        _table(metadata, spec, ename, entity, origins)
    return metadata, origins


def _table(
    metadata: MetaData,
    spec: Spec,
    ename: str,
    entity: Entity,
    origins: dict[tuple[str, str], ColumnOrigin],
) -> Table:
    name = table_name(ename)
    columns: list[Column[Any]] = [Column("id", Integer(), primary_key=True, autoincrement=True)]
    extras: list[CheckConstraint] = []
    base: KeyPath = ("entities", ename)
    origins[(name, "id")] = ColumnOrigin(ename, None, base)
    for fname, field in entity.fields.items():
        if field.type == "list":
            continue
        col = column_name(fname, field)
        origins[(name, col)] = ColumnOrigin(ename, fname, (*base, "fields", fname))
        args: list[ForeignKey] = []
        if field.type == "ref" and field.to:
            ondelete = field.on_delete or ("restrict" if field.required else "set_null")
            args.append(
                ForeignKey(
                    f"{table_name(field.to)}.id", ondelete=ondelete.replace("_", " ").upper()
                )
            )
        columns.append(
            Column(
                col,
                column_type(field),
                *args,
                nullable=not always_set(field),
                default=field.default if field.type != "json" else None,
                unique=field.unique or None,
                index=((field.index or field.type == "ref") and not field.unique) or None,
                comment=field.description or field.title,
            )
        )
        quoted = f'"{col}"'
        if field.type == "enum" and field.values:
            cond = f"{quoted} IN ({', '.join(repr(v) for v in field.values)})"
            extras.append(
                CheckConstraint(cond, name=_check_name(name, col, "in", cond), info={"column": col})
            )
        if field.type == "int":
            for kind, bound, op in (("min", field.min, ">="), ("max", field.max, "<=")):
                if bound is not None:
                    cond = f"{quoted} {op} {int(bound)}"
                    extras.append(
                        CheckConstraint(
                            cond, name=_check_name(name, col, kind, cond), info={"column": col}
                        )
                    )
    columns.append(Column("created_at", IsoDateTime(), nullable=False))
    columns.append(Column("updated_at", IsoDateTime(), nullable=False))
    origins[(name, "created_at")] = ColumnOrigin(ename, None, base)
    origins[(name, "updated_at")] = ColumnOrigin(ename, None, base)
    table = Table(
        name,
        metadata,
        *columns,
        *extras,
        comment=entity.description or entity.title,
        sqlite_autoincrement=True,  # ids are never reused, so the event log keeps meaning one record
    )
    for col in ("created_at",):
        Index(f"ix_{name}_{col}", table.c[col])
    return table
