"""Running a GraphQL request: parse and validate (cached), compile each root field to one SQL
statement, write through the one write path, and let graphql-core shape and serialize the answer."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSyntaxError,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    execute,
    get_named_type,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language.visitor import BREAK
from graphql.utilities import get_operation_ast
from graphql.validation import NoSchemaIntrospectionCustomRule
from sqlalchemy import Select, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecospec.generator.access import Access
from ecospec.generator.api import MUTATION_RESULT
from ecospec.runtime.catalog import Catalog, EntityInfo
from ecospec.runtime.compiler import Compiler, FullAccess, Policy, encode_cursor, to_id
from ecospec.runtime.database import read_only
from ecospec.runtime.limits import cost_error, limit_rules, without_suggestions
from ecospec.runtime.permissions import RolePolicy, Session
from ecospec.runtime.sqldialect import dialect_for
from ecospec.runtime.system import attempts, audit, deliveries
from ecospec.runtime.writes import Actor, Problem, Writer, WriteRejected, now

log = logging.getLogger("ecospec.graphql")


@dataclass
class Prepared:
    """A parsed, validated document with its fragments."""

    document: DocumentNode
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)


class LRU(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: Any, value: Any) -> Any:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)
        return value


def _by_response_key(source: Any, info: GraphQLResolveInfo, **_args: Any) -> Any:
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


async def read_audit(conn: AsyncConnection, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Audit entries by field name (AuditEntry's fields resolve by name, not by alias)."""
    query = select(audit).order_by(audit.c.id.desc())
    if args.get("entity"):
        query = query.where(audit.c.entity == args["entity"])
    if args.get("recordId") is not None:
        query = query.where(audit.c.record_id == to_id(args["recordId"]))
    if args.get("operation"):
        query = query.where(audit.c.operation == args["operation"])
    if args.get("ids"):
        query = query.where(audit.c.id.in_(args["ids"]))
    query = query.limit(max(0, min(int(args.get("limit") or 100), 1000))).offset(
        max(0, int(args.get("offset") or 0))
    )
    rows = (await conn.execute(query)).mappings().all()
    return [
        {
            "id": r["id"],
            "at": r["at"],
            "role": r["role"],
            "userId": r["user_id"],
            "keyId": r["key_id"],
            "entity": r["entity"],
            "recordId": r["record_id"],
            "operation": r["operation"],
            "changes": r["changes"],
        }
        for r in rows
    ]


_MISSING = re.compile(r"^Field '(\w+)\.(\w+)' of required type '[^']+' was not provided")
_ENUM = re.compile(
    r"(?:Value '[^']*' does not exist in '(\w+)' enum|Enum '(\w+)' cannot represent)"
)
_AT = re.compile(r" at '([\w.\[\]]+)'")


def _input_path(document: DocumentNode | None, target: Any) -> str | None:
    """Where a literal value sits in an argument: input.status."""
    if document is None or target is None:
        return None
    found: list[str] = []

    def search(node: Any, path: list[str]) -> bool:
        if node is target:
            found.extend(path)
            return True
        if isinstance(node, ObjectValueNode):
            return any(search(f.value, [*path, f.name.value]) for f in node.fields)
        if isinstance(node, ListValueNode):
            return any(search(v, path) for v in node.values)
        return False

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_args: Any) -> Any:
            if search(node.value, [node.name.value]):
                return BREAK
            return None

    visit(document, Finder())
    return ".".join(found) if found else None


def _refine(error: GraphQLError, document: DocumentNode | None = None) -> None:
    """Input mistakes GraphQL itself catches (a required field left out, a value outside an enum)
    get the same code and field path as the ones the write path catches."""
    message = error.message
    at = _AT.search(message)
    missing = _MISSING.search(message)
    if missing and missing.group(1).endswith(("CreateInput", "UpdateInput")):
        field = (at.group(1) + "." if at else "input.") + missing.group(2)
        error.extensions = {**(error.extensions or {}), "code": "REQUIRED", "field": field}
    elif _ENUM.search(message):
        extensions: dict[str, Any] = {**(error.extensions or {}), "code": "NOT_IN_ENUM"}
        field = (
            at.group(1) if at else _input_path(document, error.nodes[0] if error.nodes else None)
        )
        if field:
            extensions["field"] = field
        error.extensions = extensions


def _code(error: GraphQLError, code: str) -> None:
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": code}


class _Failed(Exception):
    def __init__(self, key: str, errors: list[GraphQLError]) -> None:
        super().__init__(key)
        self.key = key
        self.errors = errors


async def read_deliveries(
    conn: AsyncConnection, args: dict[str, Any], only: int | None = None
) -> list[dict[str, Any]]:
    """Webhook deliveries with their events and attempts (fields resolve by name)."""
    query = (
        select(deliveries)
        .where(deliveries.c.subscriber.startswith("webhook:"))
        .order_by(deliveries.c.id.desc())
    )
    if only is not None:
        query = query.where(deliveries.c.id == only)
    if args.get("webhook"):
        query = query.where(deliveries.c.subscriber == "webhook:" + args["webhook"])
    if args.get("status"):
        query = query.where(deliveries.c.status == args["status"])
    limit = max(0, min(int(args.get("limit") or 100), 1000))
    query = query.limit(limit).offset(max(0, int(args.get("offset") or 0)))
    rows = (await conn.execute(query)).mappings().all()
    if not rows:
        return []
    events = await read_audit(conn, {"ids": [r["event_id"] for r in rows], "limit": 1000})
    by_event = {int(e["id"]): e for e in events}
    tries = (
        (
            await conn.execute(
                select(attempts)
                .where(attempts.c.delivery_id.in_([r["id"] for r in rows]))
                .order_by(attempts.c.id)
            )
        )
        .mappings()
        .all()
    )
    logs: dict[int, list[dict[str, Any]]] = {}
    for t in tries:
        logs.setdefault(int(t["delivery_id"]), []).append(
            {
                "at": t["at"],
                "statusCode": t["status_code"],
                "latencyMs": t["latency_ms"],
                "error": t["error"],
            }
        )
    return [
        {
            "id": r["id"],
            "webhook": str(r["subscriber"]).removeprefix("webhook:"),
            "status": r["status"],
            "attempts": r["attempts"],
            "nextAttemptAt": r["next_attempt_at"] if r["status"] == "pending" else None,
            "lastError": r["last_error"],
            "event": by_event[int(r["event_id"])],
            "log": logs.get(int(r["id"]), []),
        }
        for r in rows
    ]


async def redeliver(conn: AsyncConnection, delivery_id: Any) -> dict[str, Any] | None:
    rid = to_id(delivery_id)
    if rid is None:
        return None
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == rid, deliveries.c.subscriber.startswith("webhook:"))
        .values(status="pending", next_attempt_at=now(), locked_until=None, updated_at=now())
    )
    if not result.rowcount:
        return None
    found = await read_deliveries(conn, {}, only=rid)
    return found[0] if found else None


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
    ) -> None:
        self.catalog = catalog
        self.schema = schema
        self._engine = engine
        self.access = access or Access.full(catalog.spec)
        self.limits = catalog.spec.limits
        self.production = production
        self.dialect = dialect_for(dialect_name or (engine.dialect.name if engine else "sqlite"))
        self.writer = Writer(catalog)
        self.on_commit: Callable[[], None] | None = None  # wakes the bus after a write
        self.documents = LRU(512)
        self.plans = LRU(1024)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("this service only compiles; it has no database")
        return self._engine

    def prepare(self, query: str) -> Prepared:
        cached = self.documents.get(query)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        try:
            document = parse(query, max_tokens=self.limits.tokens)
        except GraphQLError as error:
            return Prepared(DocumentNode(definitions=()), [error])
        rules = [*specified_rules, *limit_rules(self.limits)]
        if self.production:
            rules.append(NoSchemaIntrospectionCustomRule)
        errors = validate(self.schema, document, rules)
        if self.production:
            errors = [without_suggestions(e) for e in errors]
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return self.documents.remember(query, Prepared(document, list(errors), fragments))  # type: ignore[no-any-return]

    def compiler(self, prepared: Prepared, variables: dict[str, Any], policy: Policy) -> Compiler:
        return Compiler(
            self.catalog, self.schema, self.dialect, prepared.fragments, variables, policy
        )

    def operation(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None
    ) -> tuple[Prepared, OperationDefinitionNode, dict[str, Any]] | list[GraphQLError]:
        prepared = self.prepare(query)
        if prepared.errors:
            for error in prepared.errors:
                _refine(error, prepared.document)
                code = (
                    "GRAPHQL_PARSE_FAILED"
                    if isinstance(error, GraphQLSyntaxError)
                    else "GRAPHQL_VALIDATION_FAILED"
                )
                _code(error, code)
            return prepared.errors
        op = get_operation_ast(prepared.document, operation_name)
        if op is None:
            if operation_name:
                return [GraphQLError(f"the document has no operation '{operation_name}'")]
            return [
                GraphQLError("the document has several operations: name one with operationName")
            ]
        coerced = get_variable_values(self.schema, op.variable_definitions or [], variables or {})
        if isinstance(coerced, list):
            errors = [without_suggestions(e) for e in coerced] if self.production else coerced
            for error in errors:
                _refine(error)
                _code(error, "BAD_USER_INPUT")
            return errors
        too_costly = cost_error(self.schema, prepared.fragments, op, self.limits, coerced)
        if too_costly is not None:
            _code(too_costly, "GRAPHQL_VALIDATION_FAILED")
            return [too_costly]
        return prepared, op, coerced

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
        *,
        allow_mutations: bool = True,
    ) -> bytes:
        """The HTTP body of a request. Queries whose root fields are all lists, lookups or
        aggregates are answered with the JSON the database built, spliced together unparsed;
        everything else goes through graphql-core."""
        found = self.operation(query, variables, operation_name)
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
                    return _body(ExecutionResult(data=None, errors=[self.unexpected(exc)]))
                if statements:
                    return await self.direct(statements, fields)
        result = await self.run(
            query, variables, operation_name, session, allow_mutations=allow_mutations
        )
        return _body(result)

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
                await self.queries(compiler, prepared, op, coerced, root_value, plan_key)
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
            field_resolver=_by_response_key,
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
    ) -> None:
        root = self.schema.query_type
        assert root is not None
        fields = collect_fields(self.schema, prepared.fragments, variables, root, op.selection_set)
        async with self.engine.connect() as conn:
            await self.reading(conn)
            for key, nodes in fields.items():
                name = nodes[0].name.value
                if name == "auditLog":
                    args = get_argument_values(root.fields[name], nodes[0], variables)
                    root_value[key] = await read_audit(conn, args)
                    continue
                if name == "webhookDeliveries":
                    args = get_argument_values(root.fields[name], nodes[0], variables)
                    root_value[key] = await read_deliveries(conn, args)
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
                    if name == "redeliverWebhook":
                        args = get_argument_values(root.fields[name], nodes[0], variables)
                        answers[key] = await redeliver(conn, args["id"])
                        if answers[key] is None:
                            problem = Problem(
                                None, f"no webhook delivery with id {args['id']}", "NOT_FOUND"
                            )
                            raise _Failed(key, write_errors([problem], "id"))
                        continue
                    if name not in self.catalog.mutations:
                        continue
                    field = root.fields[name]
                    args = get_argument_values(field, nodes[0], variables)
                    entity_name, verb = self.catalog.mutations[name]
                    try:
                        if verb == "delete":
                            # the answer is the record as it was: read it (as the role) before it goes
                            rid = await self.writer.find(
                                conn,
                                self.catalog.entities[entity_name],
                                args["id"],
                                actor,
                                "delete",
                            )
                            answers[key] = await self.answer(
                                conn, compiler, entity_name, rid, nodes, field
                            )
                            await self.writer.delete(conn, entity_name, rid, actor)
                        else:
                            rid = await self.write(conn, name, args, actor)
                            answers[key] = await self.answer(
                                conn, compiler, entity_name, rid, nodes, field
                            )
                    except WriteRejected as rejected:
                        entity = self.catalog.entities[entity_name]
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

    async def write(
        self, conn: AsyncConnection, name: str, args: dict[str, Any], actor: Actor
    ) -> int:
        entity_name, verb = self.catalog.mutations[name]
        entity = self.catalog.entities[entity_name]
        data = {entity.fields[k].name: v for k, v in (args.get("input") or {}).items()}
        if verb == "create":
            return await self.writer.create(conn, entity_name, data, actor)
        if verb == "update":
            return await self.writer.update(conn, entity_name, args["id"], data, actor)
        return await self.writer.upsert(conn, entity_name, args["on"], data, actor)
