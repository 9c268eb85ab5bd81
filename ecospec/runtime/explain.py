"""`ecospec explain`: the SQL statements a GraphQL query runs, rendered for the project's database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Select, create_engine
from sqlalchemy.exc import CompileError as SqlCompileError

from ecospec.generator.access import Access
from ecospec.generator.api import build_schema
from ecospec.generator.errors import EcospecError, UsageError
from ecospec.generator.model import Spec
from ecospec.runtime.catalog import build_catalog
from ecospec.runtime.database import database_url
from ecospec.runtime.execution import GraphQLService
from ecospec.runtime.types import Session


class QueryError(EcospecError):
    """A GraphQL document that does not fit the schema."""


def render(statement: Select[Any], dialect: Any) -> str:
    try:
        return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except (SqlCompileError, NotImplementedError, TypeError):
        return str(statement.compile(dialect=dialect))


def explain(
    spec: Spec,
    project: Path,
    query: str,
    variables: dict[str, Any],
    *,
    role: str | None = None,
    claims: dict[str, str] | None = None,
) -> list[str]:
    if role is not None and role not in spec.roles:
        raise UsageError(f"unknown role '{role}' (roles: {', '.join(spec.roles)})")
    url = database_url(spec, project)
    engine = create_engine(url)  # never connects: only its dialect is used
    access = Access.of(spec, role) if role is not None else None
    service = GraphQLService(
        build_catalog(spec),
        build_schema(spec, role),
        access=access,
        dialect_name=engine.dialect.name,
    )
    session = Session(role, dict(claims or {})) if role is not None else None
    try:
        found = service.operation(query, variables, None)
        if not isinstance(found, list) and found[1].operation.value != "query":
            raise QueryError(
                "explain shows queries; a mutation runs several statements through the write path"
            )
        statements = service.statements(query, variables, session=session)
    except GraphQLError as error:
        where = ""
        if error.locations:
            loc = error.locations[0]
            where = f"{loc.line}:{loc.column}: "
        raise QueryError(f"query: {where}{error.message}") from None
    return [render(s, engine.dialect) for s in statements]
