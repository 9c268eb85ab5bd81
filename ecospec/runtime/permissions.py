"""A role's grants as SQL: row filters at every level of a read, and the where, set and check of
its writes. Deny by default: what is not granted compiles to FALSE."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from ecospec.generator.access import Access
from ecospec.generator.fieldtypes import ALL_OPERATORS
from ecospec.generator.model import VARIABLE_RE, CreateRule, UpdateRule, Where
from ecospec.runtime.catalog import Catalog
from ecospec.runtime.compiler import Compiler
from ecospec.runtime.sqldialect import SqlDialect
from ecospec.runtime.types import FullAccess, Session


class Forbidden(Exception):
    """The session may not do this (a write outside its grants, a missing session variable)."""


class _Missing(Exception):
    """A filter names a session variable the request does not carry: the filter denies."""


class RolePolicy:
    def __init__(
        self, catalog: Catalog, dialect: SqlDialect, access: Access, session: Session
    ) -> None:
        self.catalog = catalog
        self.access = access
        self.session = session
        self.compiler = Compiler(catalog, None, dialect, {}, {}, FullAccess())  # type: ignore[arg-type]

    # reads ------------------------------------------------------------------------------------

    def row_filter(self, entity: str, table: FromClause) -> ColumnElement[bool] | None:
        rule = self.access.read(entity)
        if rule is None:
            return false()
        return self.compile(entity, rule.where, table)

    def row_limit(self, entity: str) -> int | None:
        rule = self.access.read(entity)
        return rule.limit if rule is not None else 0

    # writes -----------------------------------------------------------------------------------

    def write_filter(self, entity: str, op: str, table: FromClause) -> ColumnElement[bool] | None:
        rule = self.access.update(entity) if op == "update" else self.access.delete(entity)
        if rule is None:
            return false()
        return self.compile(entity, rule.where, table)

    def check_filter(self, entity: str, op: str, table: FromClause) -> ColumnElement[bool] | None:
        rule = self._rule(entity, op)
        if rule is None:
            return false()
        return self.compile(entity, rule.check, table)

    def presets(self, entity: str, op: str) -> dict[str, Any]:
        rule = self._rule(entity, op)
        if rule is None:
            return {}
        try:
            return {name: self.substitute(value) for name, value in rule.set.items()}
        except _Missing as missing:
            raise Forbidden(f"this session has no $user.{missing} for the role's presets") from None

    def writable(self, entity: str, op: str) -> set[str] | None:
        rule = self._rule(entity, op)
        if rule is None:
            return set()
        return set(self.access.writable(entity, rule))

    def _rule(self, entity: str, op: str) -> CreateRule | UpdateRule | None:
        return self.access.create(entity) if op == "create" else self.access.update(entity)

    # the spec's filter language -------------------------------------------------------------

    def compile(
        self, entity: str, where: Where | None, table: FromClause
    ) -> ColumnElement[bool] | None:
        if not where:
            return None
        try:
            translated = self.translate(entity, where)
        except _Missing:
            return false()
        info = self.catalog.entities[entity]
        return self.compiler.where(info, table, translated, secure=False)

    def translate(self, entity: str, where: Where) -> dict[str, Any]:
        """A spec filter (spec field names, $user variables) as a where input (API names)."""
        info = self.catalog.entities[entity]
        out: dict[str, Any] = {}
        for key, cond in where.items():
            if key in ("and", "or"):
                out[key] = [self.translate(entity, w) for w in cond]
            elif key == "not":
                out[key] = self.translate(entity, cond)
            else:
                field_info = info.by_name[key]
                if field_info.kind == "ref" and any(op not in ALL_OPERATORS for op in cond):
                    out[field_info.gql] = self.translate(field_info.target or "", cond)
                else:
                    out[field_info.gql] = {op: self.substitute(v) for op, v in cond.items()}
        return out

    def substitute(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, str):
            match = VARIABLE_RE.match(value)
            if match:
                found = self.session.variables.get(match.group(1))
                if found is None:
                    raise _Missing(match.group(1))
                return found
        return value
