"""The spec seen from the API: GraphQL names mapped to entities, fields, tables and columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from sqlalchemy import Column, MetaData, Table

from ecospec.generator.model import FieldSpec, Spec
from ecospec.generator.naming import EntityNames, camel, entity_names
from ecospec.generator.tables import build_metadata, column_name, table_name

FieldKind = Literal["id", "scalar", "ref", "list", "aggregate", "system"]
RootKind = Literal["list", "one", "connection", "aggregate"]
MutationKind = Literal["create", "update", "delete", "upsert"]
MUTATION_KINDS: tuple[MutationKind, ...] = get_args(MutationKind)  # every entity's record verbs


@dataclass(frozen=True)
class FieldInfo:
    gql: str
    name: str  # the spec's name (created_at for system fields)
    kind: FieldKind
    type: str  # the spec type: string, money, ref, … ("datetime" for system times, "id" for id)
    spec: FieldSpec | None = None
    target: str | None = None  # the entity a ref or list leads to
    via: str | None = None  # for lists: the column of the target pointing back

    @property
    def column(self) -> str:
        if self.spec is not None:
            return column_name(self.name, self.spec)
        return self.name


@dataclass
class EntityInfo:
    name: str
    names: EntityNames
    table: Table
    fields: dict[str, FieldInfo] = field(default_factory=dict)  # by GraphQL name
    by_name: dict[str, FieldInfo] = field(default_factory=dict)  # by spec name

    def col(self, info: FieldInfo) -> Column[object]:
        return self.table.c[info.column]


@dataclass
class Catalog:
    spec: Spec
    metadata: MetaData
    entities: dict[str, EntityInfo]
    roots: dict[str, tuple[str, RootKind]]
    mutations: dict[str, tuple[str, MutationKind]]

    def by_type(self, type_name: str) -> EntityInfo | None:
        return self.entities.get(type_name)


def build_catalog(spec: Spec) -> Catalog:
    metadata, _ = build_metadata(spec)
    entities: dict[str, EntityInfo] = {}
    roots: dict[str, tuple[str, RootKind]] = {}
    mutations: dict[str, tuple[str, MutationKind]] = {}
    for ename, entity in sorted(spec.entities.items()):
        names = entity_names(ename, entity)
        info = EntityInfo(ename, names, metadata.tables[table_name(ename)])
        fields: list[FieldInfo] = [FieldInfo("id", "id", "id", "id")]
        for fname, f in entity.fields.items():
            if f.type == "list" and f.of and f.via:
                target = spec.entities[f.of]
                via = column_name(f.via, target.fields[f.via])
                fields.append(FieldInfo(camel(fname), fname, "list", "list", f, f.of, via))
                fields.append(
                    FieldInfo(camel(fname) + "Aggregate", fname, "aggregate", "list", f, f.of, via)
                )
            elif f.type == "ref":
                fields.append(FieldInfo(camel(fname), fname, "ref", "ref", f, f.to))
            else:
                fields.append(FieldInfo(camel(fname), fname, "scalar", f.type, f))
        fields.append(FieldInfo("createdAt", "created_at", "system", "datetime"))
        fields.append(FieldInfo("updatedAt", "updated_at", "system", "datetime"))
        info.fields = {fi.gql: fi for fi in fields}
        info.by_name = {fi.name: fi for fi in fields if fi.kind != "aggregate"}
        entities[ename] = info
        roots[names.many] = (ename, "list")
        roots[names.one] = (ename, "one")
        roots[names.connection] = (ename, "connection")
        roots[names.aggregate] = (ename, "aggregate")
        for verb in MUTATION_KINDS:
            mutations[names.mutation(verb)] = (ename, verb)
    return Catalog(spec, metadata, entities, roots, mutations)
