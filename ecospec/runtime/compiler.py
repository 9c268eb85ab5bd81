"""GraphQL selections compiled to SQL: one statement per root field, the database builds the JSON."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from graphql.execution.collect_fields import collect_sub_fields
from graphql.execution.values import get_argument_values
from sqlalchemy import (
    Boolean,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from ecospec.generator.fieldtypes import ALL_OPERATORS
from ecospec.generator.matching import emptiness, typed
from ecospec.runtime.catalog import Catalog, EntityInfo, FieldInfo
from ecospec.runtime.cursors import cursor_value_fits, decode_cursor
from ecospec.runtime.sqldialect import Expr, SqlDialect
from ecospec.runtime.types import CompileError, Policy, to_id

NUMERIC = ("int", "decimal", "money")
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
OPERATORS = frozenset(ALL_OPERATORS)

# Entries of SQLite's parser stack a statement holds at the point where a record's fields are
# written (measured on SQLite 3.40; see SqlDialect.parser_stack), and what each nesting adds.
TOP = 13  # a record at the top of a statement: one by id, an aggregate, a record after a write
TOP_LIST = 24  # the records of a root list
TOP_CONNECTION = 37  # the nodes of a connection
TOP_CTE = 18  # a record written as a common table expression
NESTED_REF = 13
NESTED_LIST = 19
# a filter through a ref: `column IN (SELECT id FROM … WHERE …)`, and beside it whether the ref
# shows as empty
NESTED_FILTER = 12
# What a record's own fields may add beyond where it starts: a scalar (an exact decimal is the
# tallest), a nested record written apart, a row filter two refs deep (with, beside it, whether
# a ref shows as empty); or, with an aggregate among them, an average of exact decimals.
TALLEST_FIELD = 19
TALLEST_AGGREGATE = 42
TALLEST_CONDITION = 16


@dataclass
class Compiler:
    catalog: Catalog
    schema: GraphQLSchema
    dialect: SqlDialect
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    policy: Policy
    depth: int = TOP  # parser stack entries in use where the current record is written

    # selections -------------------------------------------------------------------------------

    def subfields(
        self, type_: GraphQLObjectType, nodes: Sequence[FieldNode]
    ) -> dict[str, list[FieldNode]]:
        return collect_sub_fields(self.schema, self.fragments, self.variables, type_, list(nodes))

    def args(self, field: GraphQLField, node: FieldNode) -> dict[str, Any]:
        return get_argument_values(field, node, self.variables)

    def value(self, entity: EntityInfo, table: FromClause, info: FieldInfo) -> Expr:
        """A scalar field formatted the way the API shows it."""
        column = table.c[info.column]
        kind = info.type
        if kind in ("money", "decimal") and info.spec is not None:
            return self.dialect.decimal_text(column, info.spec.decimal_places)
        if kind == "datetime":
            return self.dialect.datetime_text(column)
        if kind == "date":
            return self.dialect.date_text(column)
        if kind == "json":
            return self.dialect.json_value(column)
        return column

    def object(
        self,
        entity: EntityInfo,
        table: FromClause,
        type_: GraphQLObjectType,
        nodes: Sequence[FieldNode],
    ) -> Expr:
        pairs: list[tuple[str, Expr]] = []
        for key, field_nodes in self.subfields(type_, nodes).items():
            node = field_nodes[0]
            name = node.name.value
            if name == "__typename":
                pairs.append((key, literal_column(f"'{type_.name}'")))
                continue
            info = entity.fields[name]
            field = type_.fields[name]
            if info.kind == "id":
                pairs.append((key, self.dialect.id_text(table.c.id)))
            elif info.type == "bool":
                pairs.append((key, self.dialect.bool_json(table.c[info.column])))
            elif info.kind in ("scalar", "system"):
                pairs.append((key, self.value(entity, table, info)))
            elif info.kind == "ref":
                pairs.append((key, self.ref(entity, table, info, field, field_nodes)))
            elif info.kind == "list":
                pairs.append((key, self.nested_list(table, info, field, field_nodes)))
            else:
                pairs.append((key, self.nested_aggregate(table, info, field, field_nodes)))
        if not pairs:
            pairs.append(("__typename", literal(type_.name)))
        return self.dialect.obj(pairs)

    @contextmanager
    def at(self, depth: int) -> Iterator[None]:
        saved, self.depth = self.depth, depth
        try:
            yield
        finally:
            self.depth = saved

    @contextmanager
    def level(self, cost: int, tallest: int) -> Iterator[bool]:
        """One level of nesting down, `cost` entries of the parser's stack deeper, with content
        `tallest` entries tall. Yields True when it would not fit the dialect's parser and is to
        be written as a common table expression: those do not nest, and the database folds each
        back into the subquery that reads it, so it still reads only the rows asked for."""
        limit = self.dialect.parser_stack
        hoisted = limit is not None and self.depth + cost + tallest > limit
        with self.at(TOP_CTE if hoisted else self.depth + cost):
            yield hoisted

    def tallest(
        self, entity: EntityInfo, type_: GraphQLObjectType, nodes: Sequence[FieldNode]
    ) -> int:
        """How tall a record's own fields are (nested records counted as written apart)."""
        if self.dialect.parser_stack is None:
            return 0
        for field_nodes in self.subfields(type_, nodes).values():
            info = entity.fields.get(field_nodes[0].name.value)
            if info is not None and info.kind == "aggregate":
                return TALLEST_AGGREGATE
        return TALLEST_FIELD

    def ref(
        self,
        entity: EntityInfo,
        table: FromClause,
        info: FieldInfo,
        field: GraphQLField,
        nodes: Sequence[FieldNode],
    ) -> Expr:
        target = self.catalog.entities[info.target or ""]
        alias = target.table.alias()
        type_ = get_named_type(field.type)
        assert isinstance(type_, GraphQLObjectType)
        visible = self.policy.row_filter(target.name, alias)
        shown = [visible] if visible is not None else []
        with self.level(NESTED_REF, self.tallest(target, type_, nodes)) as hoisted:
            obj = self.object(target, alias, type_, nodes)
        if hoisted:
            body = _cte(select(alias.c.id.label("k"), obj.label("v")).where(*shown))
            sub = select(body.c.v).where(body.c.k == table.c[info.column])
        else:
            sub = select(obj).where(alias.c.id == table.c[info.column], *shown)
        return self.dialect.embed(sub.correlate(table).scalar_subquery())

    def rows(
        self,
        entity: EntityInfo,
        alias: FromClause,
        type_: GraphQLObjectType,
        nodes: Sequence[FieldNode],
        args: dict[str, Any],
        via: str | None = None,
        parent: FromClause | None = None,
        *,
        hoisted: bool = False,
    ) -> Expr:
        """A JSON array of the matching records, filtered, ordered and limited; nested, the
        records whose ref `via` points at the `parent` row."""
        conditions = self.filters(entity, alias, args.get("where"))
        obj: Expr = self.object(entity, alias, type_, nodes)
        order = self.order(entity, alias, args.get("orderBy"))
        source: FromClause = alias
        if via is not None and parent is not None:
            if hoisted:  # the records, filtered, with their link and sort keys, written apart
                keys = self.sort_keys(entity, args.get("orderBy"))
                body = _cte(
                    select(
                        alias.c[via].label("k"),
                        obj.label("o"),
                        *(alias.c[info.column].label(f"s{i}") for i, (info, _) in enumerate(keys)),
                    ).where(*conditions)
                )
                source, obj, conditions = body, body.c.o, [body.c.k == parent.c.id]
                order = [
                    (body.c[f"s{i}"].desc() if desc else body.c[f"s{i}"].asc()).nulls_last()
                    for i, (_, desc) in enumerate(keys)
                ]
            else:
                conditions.insert(0, alias.c[via] == parent.c.id)
        limit = self.limit(entity, args.get("limit"))
        inner: Select[Any] = (
            select(obj.label("o"), *self.rank(order))
            .select_from(source)
            .where(*conditions)
            .order_by(*order)
        )
        if limit is not None:
            inner = inner.limit(limit)
        if args.get("offset"):
            inner = inner.offset(max(0, int(args["offset"])))
        if parent is not None:
            inner = inner.correlate(parent)
        sub = inner.subquery()
        outer = select(self.dialect.array(sub.c.o, sub.c.get("r"))).select_from(sub)
        if parent is not None:
            outer = outer.correlate(parent)
        return outer.scalar_subquery()

    def nested_list(
        self, table: FromClause, info: FieldInfo, field: GraphQLField, nodes: Sequence[FieldNode]
    ) -> Expr:
        target = self.catalog.entities[info.target or ""]
        alias = target.table.alias()
        type_ = get_named_type(field.type)
        assert isinstance(type_, GraphQLObjectType)
        args = self.args(field, nodes[0])
        with self.level(NESTED_LIST, self.tallest(target, type_, nodes)) as hoisted:
            found = self.rows(target, alias, type_, nodes, args, info.via, table, hoisted=hoisted)
        return self.dialect.embed(found)

    def nested_aggregate(
        self, table: FromClause, info: FieldInfo, field: GraphQLField, nodes: Sequence[FieldNode]
    ) -> Expr:
        target = self.catalog.entities[info.target or ""]
        alias = target.table.alias()
        args = self.args(field, nodes[0])
        link = alias.c[info.via or ""] == table.c.id
        type_ = get_named_type(field.type)
        assert isinstance(type_, GraphQLObjectType)
        sub = self.aggregate(target, alias, type_, nodes, args, [link]).correlate(table)
        return self.dialect.embed(sub.scalar_subquery())

    def limit(self, entity: EntityInfo, asked: Any) -> int | None:
        cap = self.policy.row_limit(entity.name)
        if asked is None:
            return cap
        n = max(0, int(asked))
        return min(n, cap) if cap is not None else n

    def aggregate(
        self,
        entity: EntityInfo,
        alias: FromClause,
        type_: GraphQLObjectType,
        nodes: Sequence[FieldNode],
        args: dict[str, Any],
        extra: list[ColumnElement[bool]],
    ) -> Select[Any]:
        conditions = [*extra, *self.filters(entity, alias, args.get("where"))]
        pairs: list[tuple[str, Expr]] = []
        for key, field_nodes in self.subfields(type_, nodes).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key, literal_column(f"'{type_.name}'")))
            elif name == "count":
                pairs.append((key, func.count()))
            elif name in ("sum", "avg", "min", "max"):
                part = get_named_type(type_.fields[name].type)
                assert isinstance(part, GraphQLObjectType)
                members: list[tuple[str, Expr]] = []
                for mkey, mnodes in self.subfields(part, field_nodes).items():
                    mname = mnodes[0].name.value
                    if mname == "__typename":
                        members.append((mkey, literal_column(f"'{part.name}'")))
                        continue
                    members.append((mkey, self.fold(name, entity, alias, entity.fields[mname])))
                pairs.append(
                    (key, self.dialect.obj(members or [("__typename", literal(part.name))]))
                )
        if not pairs:
            pairs.append(("__typename", literal(type_.name)))
        return select(self.dialect.obj(pairs)).select_from(alias).where(*conditions)

    def fold(self, how: str, entity: EntityInfo, alias: FromClause, info: FieldInfo) -> Expr:
        column = alias.c[info.column]
        places = info.spec.decimal_places if info.spec is not None else 0
        exact = info.type in ("money", "decimal")
        if how == "avg":
            if exact:
                return self.dialect.avg_decimal_text(column, places)
            return self.dialect.avg_whole(column)
        folded = getattr(func, how)(column)
        if exact:
            return self.dialect.decimal_text(folded, places)
        if info.type == "datetime":
            return self.dialect.datetime_text(folded)
        if info.type == "date":
            return self.dialect.date_text(folded)
        return folded  # type: ignore[no-any-return]

    # filters and order ------------------------------------------------------------------------

    def filters(
        self, entity: EntityInfo, table: FromClause, where: dict[str, Any] | None
    ) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        visible = self.policy.row_filter(entity.name, table)
        if visible is not None:
            out.append(visible)
        if where:
            out.append(self.where(entity, table, where))
        return out

    def where(
        self, entity: EntityInfo, table: FromClause, where: dict[str, Any], *, secure: bool = True
    ) -> ColumnElement[bool]:
        """A where input as SQL. `secure`: filters through refs see only rows the policy shows
        (off for the policy's own filters, which are not subject to themselves)."""
        parts: list[ColumnElement[bool]] = []
        for key, cond in where.items():
            if cond is None:
                continue
            if key == "and":
                parts.append(
                    and_(true(), *(self.where(entity, table, w, secure=secure) for w in cond))
                )
            elif key == "or":
                parts.append(
                    or_(false(), *(self.where(entity, table, w, secure=secure) for w in cond))
                )
            elif key == "not":
                parts.append(not_(self.where(entity, table, cond, secure=secure)))
            else:
                info = entity.fields[key]
                if info.kind == "ref" and isinstance(cond.get("id"), dict):
                    # "no ref" is a property of this row, not of a target row
                    cond = dict(cond)
                    asked, ops = emptiness(cond.pop("id"))
                    if asked:
                        hidden = self.hidden(table, info, secure)
                        parts += [hidden if empty else not_(hidden) for empty in asked]
                    if ops:
                        cond["id"] = ops
                    if not cond:
                        continue
                if info.kind == "ref" and not set(cond) <= OPERATORS:
                    target = self.catalog.entities[info.target or ""]
                    alias = target.table.alias()
                    with self.level(NESTED_FILTER, TALLEST_CONDITION) as hoisted:
                        nested = (
                            self.filters(target, alias, cond)
                            if secure
                            else [self.where(target, alias, cond, secure=False)]
                        )
                    ids = select(alias.c.id).where(*nested)
                    if hoisted:
                        ids = select(_cte(ids).c.id)
                    # a ref that shows as empty is unknown, even when no record passes (null
                    # IN () is false)
                    unknown = and_(self.hidden(table, info, secure), null())
                    parts.append(or_(table.c[info.column].in_(ids), unknown))
                else:
                    parts.append(self.condition(table, info, cond))
        return and_(true(), *parts)

    def hidden(self, table: FromClause, info: FieldInfo, secure: bool) -> ColumnElement[bool]:
        """Whether a ref shows as empty (true or false, never unknown): it is, or it points to a
        record the policy hides, so that a filter tells no more of it than the answer does."""
        column = table.c[info.column]
        if not secure:
            return column.is_(None)
        target = self.catalog.entities[info.target or ""]
        alias = target.table.alias()
        with self.level(NESTED_FILTER, TALLEST_CONDITION) as hoisted:
            visible = self.policy.row_filter(target.name, alias)
        if visible is None:
            return column.is_(None)
        ids = select(alias.c.id).where(visible)
        if hoisted:
            ids = select(_cte(ids).c.id)
        return or_(column.is_(None), column.not_in(ids))

    def condition(
        self, table: FromClause, info: FieldInfo, cond: dict[str, Any]
    ) -> ColumnElement[bool]:
        """One field's operators, with the semantics generator.matching gives them in memory:
        operands read as the field's type, one that is no value of it equal to none, and a
        comparison with a record without a value unknown (SQL's null, which `not` keeps)."""
        column = table.c[info.column]
        kind = "id" if info.kind in ("id", "ref") else info.type
        parts: list[ColumnElement[bool]] = []
        for op, value in cond.items():
            if op == "isNull":
                if value is not None:
                    parts.append(column.is_(None) if value else column.is_not(None))
                continue
            if value is None:
                # an explicit null: eq null is "no value", ne null is "has a value"
                if op == "eq":
                    parts.append(column.is_(None))
                elif op == "ne":
                    parts.append(column.is_not(None))
                continue
            if op == "contains":
                parts.append(self.dialect.contains(column, str(value)))
            elif op == "startsWith":
                parts.append(self.dialect.starts_with(column, str(value)))
            elif op in ("in", "nin"):
                held = [self.held(kind, info, v) for v in value if v is not None]
                given = [v for v in held if v is not None]
                if not given:  # equal to none of no values; unknown without a value
                    parts.append(_unknown_or(column, op == "nin"))
                else:  # like ne, nin is unknown without a value: never matched, even under not
                    parts.append(column.in_(given) if op == "in" else column.not_in(given))
            else:
                parts.append(self.compare(column, kind, info, op, value))
        return and_(true(), *parts)

    def held(self, kind: str, info: FieldInfo, value: Any) -> Any:
        """An operand as a value the field holds; None when it is none (not of the field's
        type, or a number with more decimal places or digits than the field keeps)."""
        operand = typed(kind, value)
        if kind not in NUMERIC or operand is None:
            return operand
        unit, largest = self.exact_range(info)
        if operand != operand.quantize(unit) or (largest is not None and abs(operand) > largest):
            return None
        return _held(kind, operand)

    def exact_range(self, info: FieldInfo) -> tuple[Decimal, Decimal | None]:
        """The step between a number field's values and the largest the database stores."""
        places = info.spec.decimal_places if info.type != "int" and info.spec is not None else 0
        return Decimal(1).scaleb(-places), self.dialect.largest_exact(places)

    def compare(
        self, column: Expr, kind: str, info: FieldInfo, op: str, value: Any
    ) -> ColumnElement[bool]:
        operand = typed(kind, value)
        if operand is None:  # no value of the field's type: equal to none, ordered unknown
            if op in ("eq", "ne"):
                return _unknown_or(column, op == "ne")
            return type_coerce(null(), Boolean())
        held = self.held(kind, info, value)
        if held is None:
            # a number between two the field holds: greater than the one below, less than the
            # one above; past the largest, greater or less than them all
            if op in ("eq", "ne"):
                return _unknown_or(column, op == "ne")
            unit, largest = self.exact_range(info)
            upward = op in ("gt", "gte")
            bound = operand.quantize(unit, rounding=ROUND_FLOOR if upward else ROUND_CEILING)
            if largest is not None and abs(bound) > largest:
                return _unknown_or(column, (bound < 0) == upward)
            beyond: ColumnElement[bool] = (
                column > _held(kind, bound) if upward else column < _held(kind, bound)
            )
            return beyond
        compared: ColumnElement[bool] = COMPARISONS[op](column, held)
        return compared

    def sort_keys(
        self, entity: EntityInfo, order_by: list[dict[str, Any]] | None
    ) -> list[tuple[FieldInfo, bool]]:
        keys: list[tuple[FieldInfo, bool]] = []
        for i, item in enumerate(order_by or []):
            given = [(k, v) for k, v in item.items() if v is not None]
            if len(given) != 1:
                raise CompileError(
                    f"orderBy[{i}]: give exactly one field per entry, got {len(given)}"
                )
            name, direction = given[0]
            keys.append((entity.fields[name], direction == "DESC"))
        if not any(info.kind == "id" for info, _ in keys):
            keys.append((entity.fields["id"], False))
        return keys

    def rank(self, order: list[Expr]) -> list[Expr]:
        """A row number to aggregate by, where the database does not keep a subquery's order."""
        if self.dialect.name == "postgresql":
            return [func.row_number().over(order_by=order).label("r")]
        return []

    def order(
        self, entity: EntityInfo, table: FromClause, order_by: list[dict[str, Any]] | None
    ) -> list[Expr]:
        out: list[Expr] = []
        for info, desc in self.sort_keys(entity, order_by):
            column = table.c[info.column]
            out.append((column.desc() if desc else column.asc()).nulls_last())
        return out

    # root fields --------------------------------------------------------------------------------

    def root(self, name: str, nodes: Sequence[FieldNode], field: GraphQLField) -> Select[Any]:
        entity_name, kind = self.catalog.roots[name]
        entity = self.catalog.entities[entity_name]
        alias = entity.table.alias("t0")
        args = self.args(field, nodes[0])
        type_ = get_named_type(field.type)
        assert isinstance(type_, GraphQLObjectType)
        if kind == "list":
            with self.at(TOP_LIST):
                return select(self.rows(entity, alias, type_, nodes, args))
        if kind == "one":
            record = to_id(args["id"])
            conditions = [alias.c.id == record if record is not None else false()]
            conditions += self.filters(entity, alias, None)
            return select(self.object(entity, alias, type_, nodes)).where(*conditions)
        if kind == "aggregate":
            return self.aggregate(entity, alias, type_, nodes, args, [])
        with self.at(TOP_CONNECTION):
            return self.connection(entity, alias, type_, nodes, args)

    def record(
        self, entity_name: str, record_id: int, nodes: Sequence[FieldNode], field: GraphQLField
    ) -> Select[Any]:
        """One record by id (after a write), shaped by a mutation field's selection."""
        entity = self.catalog.entities[entity_name]
        alias = entity.table.alias("t0")
        type_ = get_named_type(field.type)
        assert isinstance(type_, GraphQLObjectType)
        conditions = [alias.c.id == record_id, *self.filters(entity, alias, None)]
        return select(self.object(entity, alias, type_, nodes)).where(*conditions)

    def connection(
        self,
        entity: EntityInfo,
        alias: FromClause,
        type_: GraphQLObjectType,
        nodes: Sequence[FieldNode],
        args: dict[str, Any],
    ) -> Select[Any]:
        """{"rows": [{"c": cursor values, "n": node}], "total": n} for first+1 rows after the cursor."""
        keys = self.sort_keys(entity, args.get("orderBy"))
        first = args.get("first")
        first = 20 if first is None else int(first)
        if first < 1:
            raise CompileError("first: give at least 1")
        cap = self.policy.row_limit(entity.name)
        if cap is not None:
            first = min(first, cap)
        base = self.filters(entity, alias, args.get("where"))
        conditions = list(base)
        if args.get("after"):
            conditions.append(
                self.after(entity, alias, keys, decode_cursor(args["after"], len(keys)))
            )
        edge_type = get_named_type(type_.fields["edges"].type)
        assert isinstance(edge_type, GraphQLObjectType)
        node_type = get_named_type(edge_type.fields["node"].type)
        assert isinstance(node_type, GraphQLObjectType)
        node_nodes = [
            n
            for edge_nodes in self.subfields(type_, nodes).values()
            if edge_nodes[0].name.value == "edges"
            for sub in self.subfields(edge_type, edge_nodes).values()
            if sub[0].name.value == "node"
            for n in sub
        ]
        node = self.object(entity, alias, node_type, node_nodes) if node_nodes else literal("{}")
        cursor = self.dialect.cursor_array([self.value(entity, alias, info) for info, _ in keys])
        row = self.dialect.obj([("c", cursor), ("n", node)]).label("o")
        order = self.order(entity, alias, args.get("orderBy"))
        inner = (
            select(row, *self.rank(order))
            .select_from(alias)
            .where(*conditions)
            .order_by(*order)
            .limit(first + 1)
        )
        sub = inner.subquery()
        count_alias = entity.table.alias("tc")
        total = (
            select(func.count())
            .select_from(count_alias)
            .where(*self.filters(entity, count_alias, args.get("where")))
            .scalar_subquery()
        )
        rows = (
            select(self.dialect.array(sub.c.o, sub.c.get("r"))).select_from(sub).scalar_subquery()
        )
        return select(
            self.dialect.obj(
                [("rows", self.dialect.embed(rows)), ("total", total), ("first", literal(first))]
            )
        )

    def after(
        self,
        entity: EntityInfo,
        table: FromClause,
        keys: list[tuple[FieldInfo, bool]],
        values: list[Any],
    ) -> ColumnElement[bool]:
        """Rows strictly after the cursor in the (nulls last) order: keyset pagination."""
        options: list[ColumnElement[bool]] = []
        for i, (info, desc) in enumerate(keys):
            equal = [
                self.equal(table, k, v) for (k, _), v in zip(keys[:i], values[:i], strict=True)
            ]
            column = table.c[info.column]
            value = values[i]
            if value is None:
                continue  # nothing sorts after a null (nulls last), but ties continue below
            if not cursor_value_fits(info, value):
                raise CompileError("after: not a cursor of this connection", "BAD_CURSOR")
            bound = literal(value, type_=column.type)  # a bind, so booleans compare too
            beyond = (column < bound if desc else column > bound) | column.is_(None)
            options.append(and_(*equal, beyond))
        return or_(false(), *options)

    def equal(self, table: FromClause, info: FieldInfo, value: Any) -> ColumnElement[bool]:
        column = table.c[info.column]
        return column.is_(None) if value is None else column == value


def _held(kind: str, number: Decimal) -> int | Decimal:
    return int(number) if kind == "int" else number


def _unknown_or(column: Expr, verdict: bool) -> ColumnElement[bool]:
    """`verdict` for a record with a value, unknown (SQL's null) for one without: what a
    comparison with an operand no value can equal gives, so `not` keeps leaving it out."""
    return case((column.is_(None), null()), else_=true() if verdict else false())


def _cte(body: Select[Any]) -> FromClause:
    """A level of nested records written once at the top of the statement; NOT MATERIALIZED,
    so the database reads it as the subquery it stands for (only the rows the parent needs)."""
    return body.cte().prefix_with("NOT MATERIALIZED")
