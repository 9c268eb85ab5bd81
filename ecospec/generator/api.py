"""The GraphQL API of a spec as a graphql-core schema; schema.graphql is its printed form."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    print_schema,
)

from ecospec.generator.access import Access
from ecospec.generator.apitypes import (
    AUDIT_OPERATION,
    DATETIME,
    MUTATION_RESULT,
    PAGE_INFO,
    SCALARS,
    SORT_DIRECTION,
)
from ecospec.generator.capabilities import API_PARTS
from ecospec.generator.fieldtypes import FIELD_TYPES
from ecospec.generator.model import (
    CreateRule,
    Entity,
    FieldSpec,
    ReadRule,
    Spec,
    UpdateRule,
    unique_key,
)
from ecospec.generator.naming import EntityNames, camel, entity_names, enum_type_name

NUMERIC = ("int", "decimal", "money")
ORDERED = (*NUMERIC, "date", "datetime")

# The operators of each filter input; field types sharing a filter share its input type.
_FILTERS: dict[str, tuple[str, GraphQLScalarType, tuple[str, ...]]] = {}


class SchemaBuilder:
    """The schema of a spec for one role (a SchemaParts to the capabilities)."""

    def __init__(self, spec: Spec, access: Access) -> None:
        self.spec = spec
        self.access = access
        self.names = {n: entity_names(n, e) for n, e in sorted(spec.entities.items())}
        self.objects: dict[str, GraphQLObjectType] = {}
        self.wheres: dict[str, GraphQLInputObjectType] = {}
        self.orders: dict[str, GraphQLInputObjectType] = {}
        self.enums: dict[tuple[str, str], GraphQLEnumType] = {}
        self.filters: dict[str, GraphQLInputObjectType] = {}
        self.aggregates: dict[str, GraphQLObjectType] = {}

    def visible(self, ename: str) -> list[tuple[str, FieldSpec]]:
        """The entity's fields this role may read, in spec order."""
        return [
            (n, f)
            for n, f in self.spec.entities[ename].fields.items()
            if self.access.sees(ename, n)
        ]

    # shared pieces ------------------------------------------------------------------------------

    def enum(self, ename: str, fname: str, field: FieldSpec) -> GraphQLEnumType:
        key = (ename, fname)
        if key not in self.enums:
            self.enums[key] = GraphQLEnumType(
                enum_type_name(ename, fname),
                {v: GraphQLEnumValue(v) for v in field.values or []},
                description=field.description or f"The values of {ename}.{fname}.",
            )
        return self.enums[key]

    def scalar(
        self, ename: str, fname: str, field: FieldSpec
    ) -> GraphQLScalarType | GraphQLEnumType:
        if field.type == "enum":
            return self.enum(ename, fname, field)
        return SCALARS[field.type]

    def filter(
        self, ename: str, fname: str, field: FieldSpec | None, kind: str
    ) -> GraphQLInputObjectType:
        """The comparison input of a field: StringFilter, MoneyFilter, ApartmentStatusFilter, …"""
        if kind == "enum" and field is not None:
            gtype: GraphQLScalarType | GraphQLEnumType = self.enum(ename, fname, field)
            name = f"{gtype.name}Filter"
        elif kind in ("ref", "id"):
            gtype, name = GraphQLID, "IDFilter"
        else:
            gtype = SCALARS[kind]
            text_like = {"text": "Text", "email": "Text", "phone": "Text", "url": "Text"}
            name = text_like.get(kind, gtype.name) + "Filter"
        if name in self.filters:
            return self.filters[name]
        ops = FIELD_TYPES["ref" if kind == "id" else kind].operators
        fields: dict[str, GraphQLInputField] = {}
        for op in ops:
            if op == "isNull":
                fields[op] = GraphQLInputField(
                    GraphQLBoolean, description="true: no value; false: any value."
                )
            elif op in ("in", "nin"):
                fields[op] = GraphQLInputField(
                    GraphQLList(GraphQLNonNull(gtype)), description=_OP_DOCS[op]
                )
            else:
                fields[op] = GraphQLInputField(gtype, description=_OP_DOCS[op])
        self.filters[name] = GraphQLInputObjectType(
            name, fields, description=f"Conditions on one {gtype.name} value; all given must hold."
        )
        return self.filters[name]

    # per entity -----------------------------------------------------------------------------------

    def where(self, ename: str) -> GraphQLInputObjectType:
        if ename not in self.wheres:
            names = self.names[ename]

            def fields() -> dict[str, GraphQLInputField]:
                out: dict[str, GraphQLInputField] = {
                    "id": GraphQLInputField(self.filter(ename, "id", None, "id")),
                }
                for fname, f in self.visible(ename):
                    if f.type == "list":
                        continue
                    if f.type == "ref" and f.to:
                        if self.access.readable(f.to):
                            out[camel(fname)] = GraphQLInputField(
                                self.where(f.to),
                                description=f"Records whose {camel(fname)} matches.",
                            )
                    else:
                        out[camel(fname)] = GraphQLInputField(self.filter(ename, fname, f, f.type))
                out["createdAt"] = GraphQLInputField(
                    self.filter(ename, "created_at", None, "datetime")
                )
                out["updatedAt"] = GraphQLInputField(
                    self.filter(ename, "updated_at", None, "datetime")
                )
                me = self.wheres[ename]
                out["and"] = GraphQLInputField(
                    GraphQLList(GraphQLNonNull(me)), description="Every one of these holds."
                )
                out["or"] = GraphQLInputField(
                    GraphQLList(GraphQLNonNull(me)), description="At least one of these holds."
                )
                out["not"] = GraphQLInputField(me, description="This does not hold.")
                return out

            self.wheres[ename] = GraphQLInputObjectType(
                names.input("Where"),
                fields,
                description=f"A filter on {ename} records; all given keys must hold.",
            )
        return self.wheres[ename]

    def order(self, ename: str) -> GraphQLInputObjectType:
        if ename not in self.orders:
            fields = {"id": GraphQLInputField(SORT_DIRECTION)}
            for fname, f in self.visible(ename):
                if f.type not in ("list", "json"):
                    fields[camel(fname)] = GraphQLInputField(SORT_DIRECTION)
            fields["createdAt"] = GraphQLInputField(SORT_DIRECTION)
            fields["updatedAt"] = GraphQLInputField(SORT_DIRECTION)
            self.orders[ename] = GraphQLInputObjectType(
                self.names[ename].input("OrderBy"),
                fields,
                description="One sort key: give exactly one field. A list of them sorts by each in turn.",
            )
        return self.orders[ename]

    def list_args(self, ename: str) -> dict[str, GraphQLArgument]:
        return {
            "where": GraphQLArgument(self.where(ename)),
            "orderBy": GraphQLArgument(GraphQLList(GraphQLNonNull(self.order(ename)))),
            "limit": GraphQLArgument(GraphQLInt, description="At most this many records."),
            "offset": GraphQLArgument(GraphQLInt, description="Skip this many records first."),
        }

    def aggregate(self, ename: str) -> GraphQLObjectType:
        if ename not in self.aggregates:
            names = self.names[ename]
            visible = self.visible(ename)
            fields: dict[str, GraphQLField] = {
                "count": GraphQLField(
                    GraphQLNonNull(GraphQLInt), description="How many records match."
                ),
            }

            def part(kind: str, types: tuple[str, ...], result: Any) -> None:
                members = {camel(n): GraphQLField(result(f)) for n, f in visible if f.type in types}
                if kind in ("min", "max"):
                    members["createdAt"] = GraphQLField(DATETIME)
                    members["updatedAt"] = GraphQLField(DATETIME)
                if members:
                    obj = GraphQLObjectType(names.input(f"{kind.title()}Fields"), members)
                    fields[kind] = GraphQLField(GraphQLNonNull(obj))

            part("sum", NUMERIC, lambda f: SCALARS[f.type])
            part("avg", NUMERIC, lambda f: GraphQLFloat if f.type == "int" else SCALARS[f.type])
            part("min", ORDERED, lambda f: SCALARS[f.type])
            part("max", ORDERED, lambda f: SCALARS[f.type])
            self.aggregates[ename] = GraphQLObjectType(
                names.input("Aggregate"), fields, description=f"Aggregates over {ename} records."
            )
        return self.aggregates[ename]

    def object(self, ename: str) -> GraphQLObjectType:
        if ename not in self.objects:
            entity = self.spec.entities[ename]

            def fields() -> dict[str, GraphQLField]:
                out: dict[str, GraphQLField] = {"id": GraphQLField(GraphQLNonNull(GraphQLID))}
                for fname, f in self.visible(ename):
                    doc = f.description or f.title
                    if f.type == "list" and f.of:
                        if not self.access.readable(f.of):
                            continue
                        out[camel(fname)] = GraphQLField(
                            GraphQLNonNull(GraphQLList(GraphQLNonNull(self.object(f.of)))),
                            args=self.list_args(f.of),
                            description=doc,
                        )
                        if self.access.aggregates(f.of):
                            out[camel(fname) + "Aggregate"] = GraphQLField(
                                GraphQLNonNull(self.aggregate(f.of)),
                                args={"where": GraphQLArgument(self.where(f.of))},
                                description=f"Aggregates over {fname}.",
                            )
                        continue
                    if f.type == "ref" and f.to:
                        if not self.access.readable(f.to):
                            continue
                        gtype: GraphQLOutputType = self.object(f.to)
                        # the target may hide the record from this role: the ref can be null
                        nullable = (
                            not self.access.unrestricted and self.access.read(f.to) != ReadRule()
                        )
                        out[camel(fname)] = GraphQLField(
                            gtype if nullable or not f.required else GraphQLNonNull(gtype),
                            description=doc,
                        )
                        continue
                    gtype = self.scalar(ename, fname, f)
                    out[camel(fname)] = GraphQLField(
                        GraphQLNonNull(gtype) if f.required else gtype, description=doc
                    )
                out["createdAt"] = GraphQLField(GraphQLNonNull(DATETIME))
                out["updatedAt"] = GraphQLField(GraphQLNonNull(DATETIME))
                return out

            self.objects[ename] = GraphQLObjectType(
                ename, fields, description=entity.description or entity.title
            )
        return self.objects[ename]

    def input(self, ename: str, rule: CreateRule | UpdateRule) -> GraphQLInputObjectType:
        entity = self.spec.entities[ename]
        create = isinstance(rule, CreateRule)
        fields: dict[str, GraphQLInputField] = {}
        for fname in self.access.writable(ename, rule):
            f = entity.fields[fname]
            gtype: GraphQLInputType = GraphQLID if f.type == "ref" else self.scalar(ename, fname, f)
            derived = f.type == "slug" and f.from_ is not None
            needed = create and f.required and f.default is None and not derived
            fields[camel(fname)] = GraphQLInputField(
                GraphQLNonNull(gtype) if needed else gtype, description=f.description or f.title
            )
        kind = "CreateInput" if create else "UpdateInput"
        return GraphQLInputObjectType(self.names[ename].input(kind), fields)

    # the schema -----------------------------------------------------------------------------------

    def schema(self) -> GraphQLSchema:
        query: dict[str, GraphQLField] = {}
        mutation: dict[str, GraphQLField] = {}
        for ename, names in self.names.items():
            self.root_fields(ename, names, query, mutation)
        for part in API_PARTS:
            added = part.fields(self)
            query.update(added.query)
            mutation.update(added.mutation)
        if not query:
            query["ecosystem"] = GraphQLField(
                GraphQLNonNull(GraphQLString), description="The ecosystem's name."
            )
        subscription = {
            names.changed: GraphQLField(
                GraphQLNonNull(self.change(ename)),
                args={
                    "where": GraphQLArgument(
                        self.where(ename), description="Only records matching this."
                    ),
                    "operations": GraphQLArgument(
                        GraphQLList(GraphQLNonNull(AUDIT_OPERATION)),
                        description="Only these operations.",
                    ),
                },
                description=f"Every committed write to {ename} records this role may read.",
            )
            for ename, names in self.names.items()
            if self.access.readable(ename)
        }
        return GraphQLSchema(
            query=GraphQLObjectType("Query", query),
            mutation=GraphQLObjectType("Mutation", mutation) if mutation else None,
            subscription=GraphQLObjectType("Subscription", subscription) if subscription else None,
        )

    def change(self, ename: str) -> GraphQLObjectType:
        obj = self.object(ename)
        return GraphQLObjectType(
            self.names[ename].input("Change"),
            {
                "operation": GraphQLField(GraphQLNonNull(AUDIT_OPERATION)),
                "recordId": GraphQLField(GraphQLNonNull(GraphQLID)),
                "record": GraphQLField(
                    obj, description="The record as it is now (null once deleted)."
                ),
                "at": GraphQLField(GraphQLNonNull(DATETIME)),
            },
            description=f"A committed write to a {ename}.",
        )

    def root_fields(
        self,
        ename: str,
        names: EntityNames,
        query: dict[str, GraphQLField],
        mutation: dict[str, GraphQLField],
    ) -> None:
        entity: Entity = self.spec.entities[ename]
        readable = self.access.readable(ename)
        if readable:
            self.query_fields(ename, names, query)
        result: GraphQLOutputType = self.object(ename) if readable else MUTATION_RESULT
        record_id = {"id": GraphQLArgument(GraphQLNonNull(GraphQLID))}
        create_rule = self.access.create(ename)
        update_rule = self.access.update(ename)
        create = self.input(ename, create_rule) if create_rule else None
        if create is not None:
            mutation[names.mutation("create")] = GraphQLField(
                GraphQLNonNull(result), args={"input": GraphQLArgument(GraphQLNonNull(create))}
            )
        if update_rule is not None:
            update = self.input(ename, update_rule)
            if update.fields:
                mutation[names.mutation("update")] = GraphQLField(
                    GraphQLNonNull(result),
                    args={**record_id, "input": GraphQLArgument(GraphQLNonNull(update))},
                )
        if self.access.delete(ename) is not None:
            mutation[names.mutation("delete")] = GraphQLField(
                GraphQLNonNull(result), args=record_id
            )
        uniques = [
            n
            for n, f in entity.fields.items()
            if f.unique and f.type != "list" and create is not None and camel(n) in create.fields
        ]
        if uniques and update_rule is not None and unique_key(entity) is not None:
            on = GraphQLEnumType(
                names.input("UniqueField"), {camel(n): GraphQLEnumValue(n) for n in uniques}
            )
            mutation[names.mutation("upsert")] = GraphQLField(
                GraphQLNonNull(result),
                args={
                    "on": GraphQLArgument(GraphQLNonNull(on)),
                    "input": GraphQLArgument(GraphQLNonNull(create)),
                },
                description=f"Create a {ename}, or update the one with the same value of the `on` field.",
            )

    def query_fields(self, ename: str, names: EntityNames, query: dict[str, GraphQLField]) -> None:
        obj = self.object(ename)
        query[names.many] = GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(obj))),
            args=self.list_args(ename),
            description=f"{ename} records.",
        )
        query[names.one] = GraphQLField(
            obj,
            args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
            description=f"One {ename} by id.",
        )
        edge = GraphQLObjectType(
            names.input("Edge"),
            {
                "cursor": GraphQLField(GraphQLNonNull(GraphQLString)),
                "node": GraphQLField(GraphQLNonNull(obj)),
            },
        )
        connection = GraphQLObjectType(
            names.input("Connection"),
            {
                "edges": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))),
                "pageInfo": GraphQLField(GraphQLNonNull(PAGE_INFO)),
                "totalCount": GraphQLField(GraphQLNonNull(GraphQLInt)),
            },
            description=f"A page of {ename} records, with cursors stable under inserts.",
        )
        query[names.connection] = GraphQLField(
            GraphQLNonNull(connection),
            args={
                "first": GraphQLArgument(GraphQLInt, description="Page size."),
                "after": GraphQLArgument(
                    GraphQLString, description="The endCursor of the previous page."
                ),
                "where": GraphQLArgument(self.where(ename)),
                "orderBy": GraphQLArgument(GraphQLList(GraphQLNonNull(self.order(ename)))),
            },
        )
        if self.access.aggregates(ename):
            query[names.aggregate] = GraphQLField(
                GraphQLNonNull(self.aggregate(ename)),
                args={"where": GraphQLArgument(self.where(ename))},
            )


_OP_DOCS = {
    "eq": "Equal to.",
    "ne": "Not equal to (records without a value do not match).",
    "gt": "Greater than.",
    "gte": "Greater than or equal to.",
    "lt": "Less than.",
    "lte": "Less than or equal to.",
    "in": "One of these.",
    "nin": "None of these.",
    "contains": "Contains this text (case-sensitive).",
    "startsWith": "Starts with this text.",
}


def build_schema(spec: Spec, role: str | None = None) -> GraphQLSchema:
    """The API of a spec as one role sees it; without a role, the whole API (schema.graphql)."""
    access = Access.of(spec, role) if role is not None else Access.full(spec)
    return SchemaBuilder(spec, access).schema()


def schema_sdl(spec: Spec, role: str | None = None) -> str:
    """schema.graphql (or one role's view of it): the printed API, deterministic for a spec."""
    return print_schema(build_schema(spec, role)) + "\n"
