"""Running a GraphQL request: parse and validate (cached), compile each root field to one SQL
statement, write through the one write path, and let graphql-core shape and serialize the answer."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_named_type,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values
from sqlalchemy import Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecospec.generator.access import Access
from ecospec.generator.apitypes import MUTATION_RESULT
from ecospec.runtime.catalog import Catalog, EntityInfo
from ecospec.runtime.compiler import Compiler
from ecospec.runtime.cursors import encode_cursor
from ecospec.runtime.database import read_only
from ecospec.runtime.documents import LRU, Documents, Prepared
from ecospec.runtime.permissions import RolePolicy
from ecospec.runtime.sqldialect import dialect_for
from ecospec.runtime.types import (
    Actor,
    FullAccess,
    Handlers,
    Policy,
    ReadRequest,
    Session,
    WriteRequest,
)
from ecospec.runtime.writes import Problem, Writer, WriteRejected

log = logging.getLogger("ecospec.graphql")


def by_response_key(source: Any, info: GraphQLResolveInfo, **_args: Any) -> Any:
    if isinstance(source, dict):
        value = source.get(info.path.key)
        if isinstance(value, Exception):
            raise value
        return value
    return None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _plan_key(
    query: str, operation_name: str | None, variables: dict[str, Any], session: Session | None
) -> tuple[Any, ...]:
    """What a compiled plan depends on: the document, its variables, the session's role and vars."""
    who = (
        None
        if session is None
        else (session.role, json.dumps(session.variables, sort_keys=True, default=str))
    )
    return (query, operation_name, json.dumps(variables, sort_keys=True, default=str), who)


def _body(result: ExecutionResult) -> bytes:
    return json.dumps(result.formatted, ensure_ascii=False, separators=(",", ":")).encode()


def _timeout(ms: int) -> GraphQLError:
    return GraphQLError(
        f"the query ran longer than {ms} ms and was stopped", extensions={"code": "TIMEOUT"}
    )


class _Failed(Exception):
    def __init__(self, key: str, errors: list[GraphQLError]) -> None:
        super().__init__(key)
        self.key = key
        self.errors = errors


def write_errors(
    problems: Sequence[Problem], path: str, entity: EntityInfo | None = None
) -> list[GraphQLError]:
    """A refused write as GraphQL errors; `extensions.field` names the input field as sent."""
    errors = []
    for problem in problems:
        name = problem.field
        if name and entity is not None and name in entity.by_name:
            name = entity.by_name[name].gql
        where = f"{path}.{name}" if name else None
        extensions: dict[str, Any] = {"code": problem.code}
        if where:
            extensions["field"] = where
        errors.append(
            GraphQLError(
                f"{where}: {problem.message}" if where else problem.message, extensions=extensions
            )
        )
    return errors


@dataclass(frozen=True)
class Answer:
    """An HTTP answer's JSON body and status."""

    body: bytes
    status: int = 200


class GraphQLService:
    """One ecosystem's API over one database."""

    def __init__(
        self,
        catalog: Catalog,
        schema: GraphQLSchema,
        engine: AsyncEngine | None = None,
        *,
        access: Access | None = None,
        dialect_name: str | None = None,
        production: bool = False,
        writer: Writer | None = None,
        handlers: Handlers | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.schema = schema
        self._engine = engine
        self.access = access or Access.full(catalog.spec)
        self.limits = catalog.spec.limits
        self.production = production
        self.dialect = dialect_for(dialect_name or (engine.dialect.name if engine else "sqlite"))
        self.writer = writer or Writer(catalog)
        self.handlers = handlers or Handlers()
        self.on_commit = on_commit  # wakes the bus after a write
        self.documents = Documents(schema, self.limits, production=production)
        self.plans = LRU(1024)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("this service only compiles; it has no database")
        return self._engine

    def prepare(self, query: str) -> Prepared:
        return self.documents.prepare(query)

    def operation(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None
    ) -> tuple[Prepared, OperationDefinitionNode, dict[str, Any]] | list[GraphQLError]:
        return self.documents.operation(query, variables, operation_name)

    def compiler(self, prepared: Prepared, variables: dict[str, Any], policy: Policy) -> Compiler:
        return Compiler(
            self.catalog, self.schema, self.dialect, prepared.fragments, variables, policy
        )

    def unexpected(self, exc: Exception) -> GraphQLError:
        incident = uuid.uuid4().hex[:12]
        log.exception("incident %s", incident, exc_info=exc)
        if self.production:
            return GraphQLError(
                f"internal error (incident {incident})",
                extensions={"code": "INTERNAL", "incident": incident},
            )
        return GraphQLError(
            f"internal error (incident {incident}): {type(exc).__name__}: {exc}",
            extensions={"code": "INTERNAL", "incident": incident},
        )

    async def scalar(self, conn: AsyncConnection, statement: Select[Any]) -> Any:
        """Run one statement within the statement timeout."""
        timeout = self.limits.statement_timeout_ms
        if conn.dialect.name == "postgresql":
            try:  # the engine's connections carry the statement timeout
                return await conn.scalar(statement)
            except DBAPIError as exc:
                if "statement timeout" in str(exc.orig):
                    raise _timeout(timeout) from None
                raise
        raw = await conn.get_raw_connection()
        try:
            return await asyncio.wait_for(conn.scalar(statement), timeout / 1000)
        except TimeoutError:
            driver: Any = raw.driver_connection
            inner = getattr(driver, "_conn", None)
            if inner is not None:
                inner.interrupt()
            raise _timeout(timeout) from None

    async def respond(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        session: Session | None = None,
    ) -> bytes:
        """The HTTP body of a request sent by POST."""
        return (await self.answer_http(query, variables, operation_name, session)).body

    async def answer_http(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        session: Session | None = None,
        *,
        allow_mutations: bool = True,
    ) -> Answer:
        """The HTTP answer to a request: 405 for a mutation sent where only queries may be
        (GET). Queries whose root fields are all lists, lookups or aggregates are answered with
        the JSON the database built, spliced together unparsed; everything else goes through
        graphql-core."""
        found = self.operation(query, variables, operation_name)
        if (
            not allow_mutations
            and not isinstance(found, list)
            and found[1].operation is OperationType.MUTATION
        ):
            error = GraphQLError("mutations need POST", extensions={"code": "METHOD_NOT_ALLOWED"})
            return Answer(_body(ExecutionResult(data=None, errors=[error])), 405)
        if not isinstance(found, list) and found[1].operation is OperationType.QUERY:
            prepared, op, coerced = found
            root = self.schema.query_type
            assert root is not None
            fields = collect_fields(
                self.schema, prepared.fragments, coerced, root, op.selection_set
            )
            direct = all(
                self.catalog.roots.get(nodes[0].name.value, ("", "connection"))[1] != "connection"
                for nodes in fields.values()
            )
            if direct and fields:
                compiler = self.compiler(prepared, coerced, self.policy(session))
                plan_key = _plan_key(query, operation_name, coerced, session)
                statements: list[tuple[str, Select[Any]]] = []
                try:
                    for key, nodes in fields.items():
                        name = nodes[0].name.value
                        plan = self.plan(compiler, plan_key, key, name, nodes, root.fields[name])
                        statements.append((key, plan))
                except GraphQLError:
                    # a request error, found before any SQL ran: the general path reports it
                    # with its path
                    statements = []
                except Exception as exc:  # unexpected: masked like everywhere else
                    return Answer(_body(ExecutionResult(data=None, errors=[self.unexpected(exc)])))
                if statements:
                    return Answer(await self.direct(statements, fields))
        return Answer(_body(await self.run(query, variables, operation_name, session)))

    async def direct(
        self, statements: list[tuple[str, Select[Any]]], fields: dict[str, list[FieldNode]]
    ) -> bytes:
        """The answer spliced from the JSON the statements return. Once SQL runs, an error (the
        statement timeout) is the answer: the request is not run again another way."""
        parts = []
        key = ""
        try:
            async with self.engine.connect() as conn:
                await self.reading(conn)
                for key, statement in statements:
                    value = await self.scalar(conn, statement)
                    text_value = value if isinstance(value, str) else json.dumps(value)
                    parts.append(f"{json.dumps(key)}:{text_value if value is not None else 'null'}")
        except GraphQLError as error:
            located = GraphQLError(
                error.message, fields[key], path=[key], extensions=error.extensions
            )
            return _body(ExecutionResult(data=None, errors=[located]))
        except Exception as exc:  # unexpected: masked like everywhere else
            return _body(ExecutionResult(data=None, errors=[self.unexpected(exc)]))
        return ('{"data":{' + ",".join(parts) + "}}").encode()

    @staticmethod
    async def reading(conn: AsyncConnection) -> None:
        """Reads need no transaction of their own, and never the write lock (SQLite)."""
        await read_only(conn)

    def policy(self, session: Session | None) -> Policy:
        if self.access.unrestricted or session is None:
            return FullAccess()
        return RolePolicy(self.catalog, self.dialect, self.access, session)

    def statements(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        session: Session | None = None,
    ) -> list[Select[Any]]:
        """The SQL statements a query runs, one per root field (for `ecospec explain`)."""
        found = self.operation(query, variables, operation_name)
        if isinstance(found, list):
            raise found[0]
        prepared, op, coerced = found
        compiler = self.compiler(prepared, coerced, self.policy(session))
        root = self.schema.query_type
        assert root is not None
        out = []
        for nodes in collect_fields(
            self.schema, prepared.fragments, coerced, root, op.selection_set
        ).values():
            name = nodes[0].name.value
            if name in self.catalog.roots:
                out.append(compiler.root(name, nodes, root.fields[name]))
        return out

    async def run(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        session: Session | None = None,
        *,
        allow_mutations: bool = True,
    ) -> ExecutionResult:
        found = self.operation(query, variables, operation_name)
        if isinstance(found, list):
            return ExecutionResult(data=None, errors=found)
        prepared, op, coerced = found
        if op.operation is OperationType.MUTATION and not allow_mutations:
            error = GraphQLError("mutations need POST", extensions={"code": "METHOD_NOT_ALLOWED"})
            return ExecutionResult(data=None, errors=[error])
        policy = self.policy(session)
        compiler = self.compiler(prepared, coerced, policy)
        root_value: dict[str, Any] = {}
        extra: list[GraphQLError] = []
        try:
            if op.operation is OperationType.QUERY:
                plan_key = _plan_key(query, operation_name, coerced, session)
                await self.queries(compiler, prepared, op, coerced, root_value, plan_key, session)
            elif op.operation is OperationType.MUTATION:
                actor = Actor(
                    policy,
                    session.role if session else None,
                    session.user_id if session else None,
                    session.key_id if session else None,
                )
                try:
                    extra = await self.mutations(compiler, prepared, op, coerced, root_value, actor)
                except _Failed as failed:
                    return ExecutionResult(data=None, errors=failed.errors)
            else:
                return ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            "subscriptions are served over websockets at /graphql (graphql-transport-ws)"
                        )
                    ],
                )
        except Exception as exc:  # the one place unexpected failures become a clean error
            return ExecutionResult(data=None, errors=[self.unexpected(exc)])
        result = execute(
            self.schema,
            prepared.document,
            root_value=root_value,
            variable_values=variables,
            operation_name=operation_name,
            field_resolver=by_response_key,
        )
        assert isinstance(result, ExecutionResult)
        if extra:
            result.errors = [*(result.errors or []), *extra]
        return result

    def plan(
        self,
        compiler: Compiler,
        plan_key: tuple[Any, ...],
        key: str,
        name: str,
        nodes: Sequence[FieldNode],
        field: GraphQLField,
    ) -> Select[Any]:
        """A root field's compiled statement, cached per document, variables and session."""
        cache_key = (*plan_key, key)
        found = self.plans.get(cache_key)
        if found is None:
            found = self.plans.remember(cache_key, compiler.root(name, nodes, field))
        return found  # type: ignore[no-any-return]

    async def queries(
        self,
        compiler: Compiler,
        prepared: Prepared,
        op: OperationDefinitionNode,
        variables: dict[str, Any],
        root_value: dict[str, Any],
        plan_key: tuple[Any, ...] = (),
        session: Session | None = None,
    ) -> None:
        root = self.schema.query_type
        assert root is not None
        fields = collect_fields(self.schema, prepared.fragments, variables, root, op.selection_set)
        async with self.engine.connect() as conn:
            await self.reading(conn)
            for key, nodes in fields.items():
                name = nodes[0].name.value
                handler = self.handlers.reads.get(name)
                if handler is not None:
                    args = get_argument_values(root.fields[name], nodes[0], variables)
                    root_value[key] = await handler(ReadRequest(conn, args, session))
                    continue
                if name not in self.catalog.roots:
                    continue  # __typename, __schema, __type: graphql-core answers these
                try:
                    statement = self.plan(compiler, plan_key, key, name, nodes, root.fields[name])
                    data = _json(await self.scalar(conn, statement))
                except GraphQLError as error:
                    root_value[key] = error
                    continue
                if self.catalog.roots[name][1] == "connection":
                    data = self.connection(compiler, root.fields[name].type, nodes, data)
                root_value[key] = data

    def connection(
        self, compiler: Compiler, type_: Any, nodes: Sequence[FieldNode], data: dict[str, Any]
    ) -> dict[str, Any]:
        connection = get_named_type(type_)
        assert isinstance(connection, GraphQLObjectType)
        rows = data["rows"]
        first = int(data["first"])
        page, more = rows[:first], len(rows) > first
        out: dict[str, Any] = {}
        for key, sub in compiler.subfields(connection, nodes).items():
            name = sub[0].name.value
            if name == "totalCount":
                out[key] = data["total"]
            elif name == "pageInfo":
                info_type = get_named_type(connection.fields["pageInfo"].type)
                assert isinstance(info_type, GraphQLObjectType)
                info: dict[str, Any] = {}
                for ikey, inodes in compiler.subfields(info_type, sub).items():
                    iname = inodes[0].name.value
                    if iname == "hasNextPage":
                        info[ikey] = more
                    elif iname == "endCursor":
                        info[ikey] = encode_cursor(page[-1]["c"]) if page else None
                out[key] = info
            elif name == "edges":
                edge_type = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge_type, GraphQLObjectType)
                edge_fields = compiler.subfields(edge_type, sub)
                edges = []
                for row in page:
                    edge: dict[str, Any] = {}
                    for ekey, enodes in edge_fields.items():
                        ename = enodes[0].name.value
                        if ename == "cursor":
                            edge[ekey] = encode_cursor(row["c"])
                        elif ename == "node":
                            edge[ekey] = row["n"]
                    edges.append(edge)
                out[key] = edges
        return out

    async def mutations(
        self,
        compiler: Compiler,
        prepared: Prepared,
        op: OperationDefinitionNode,
        variables: dict[str, Any],
        root_value: dict[str, Any],
        actor: Actor,
    ) -> list[GraphQLError]:
        """Every mutation field of a request, in order, in one transaction: all or nothing."""
        root = self.schema.mutation_type
        assert root is not None
        fields = collect_fields(self.schema, prepared.fragments, variables, root, op.selection_set)
        answers: dict[str, Any] = {}
        try:
            async with self.engine.begin() as conn:
                for key, nodes in fields.items():
                    name = nodes[0].name.value
                    handler = self.handlers.writes.get(name)
                    if handler is None:
                        continue
                    field = root.fields[name]
                    args = get_argument_values(field, nodes[0], variables)
                    answer = partial(self.answer, conn, compiler, nodes=nodes, field=field)
                    try:
                        answers[key] = await handler(WriteRequest(conn, args, actor, answer))
                    except WriteRejected as rejected:
                        entity = self.catalog.entities.get(
                            rejected.entity or self.catalog.mutations.get(name, ("", ""))[0]
                        )
                        raise _Failed(
                            key, write_errors(rejected.problems, "input", entity)
                        ) from None
        except _Failed as failed:
            # nothing was written; the answer is the failure, with the field it happened at
            for error in failed.errors:
                error.path = [failed.key]
            raise
        root_value.update(answers)
        if answers and self.on_commit is not None:
            self.on_commit()
        return []

    async def answer(
        self,
        conn: AsyncConnection,
        compiler: Compiler,
        entity_name: str,
        record_id: int,
        nodes: Sequence[FieldNode],
        field: GraphQLField,
    ) -> dict[str, Any]:
        """A mutation's result: the record as the role reads it, or just its id."""
        result_type = get_named_type(field.type)
        if result_type is MUTATION_RESULT:
            assert isinstance(result_type, GraphQLObjectType)
            return {
                key: str(record_id)
                for key, sub in compiler.subfields(result_type, nodes).items()
                if sub[0].name.value == "id"
            }
        data = _json(await conn.scalar(compiler.record(entity_name, record_id, nodes, field)))
        if data is None:
            raise WriteRejected(
                [
                    Problem(
                        None,
                        f"the {entity_name} would not be visible to this role after the write",
                        "FORBIDDEN",
                    )
                ]
            )
        return data  # type: ignore[no-any-return]
