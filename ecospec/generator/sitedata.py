"""What landing pages read, asked as GraphQL of the anonymous role's API through a DataSource.

The runtime supplies the DataSource (in process, or over HTTP from a running runtime), so a page
can never show what the anonymous role may not read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecospec.generator.access import Access
from ecospec.generator.errors import BuildError
from ecospec.generator.fieldtypes import ALL_OPERATORS
from ecospec.generator.model import Spec
from ecospec.generator.naming import camel, entity_names

SCALAR_SKIP = ("list",)


class DataError(BuildError):
    """The data source could not answer a page's query (the runtime is away, a query failed)."""


class DataSource(Protocol):
    """Runs a GraphQL query as the anonymous role and returns its `data`."""

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class Reads:
    """What one page read: for the manifest, and to know which pages a change touches."""

    entities: set[str] = field(default_factory=set)
    records: dict[str, set[str]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    filters: list[dict[str, Any]] = field(default_factory=list)

    def note(
        self,
        entity: str,
        ids: list[str],
        query: str,
        where: dict[str, Any] | None,
        cut: tuple[list[str], list[Any]] | None = None,
    ) -> None:
        """A read: the records it returned, its description, and its filter (to tell later
        whether a changed record could enter or leave it). `cut` is for a read cut short by its
        limit: its order and the order values of its last record (a record that sorts after
        that one cannot enter it)."""
        self.entities.add(entity)
        self.records.setdefault(entity, set()).update(ids)
        if query not in self.queries:
            self.queries.append(query)
        entry: dict[str, Any] = {"entity": entity, "where": where or {}}
        if cut is not None:
            entry["order_by"], entry["last"] = cut
        if query != "for_each" and entry not in self.filters:
            self.filters.append(entry)

    def note_records(self, entity: str, ids: set[str]) -> None:
        """Records read without a query of their own (through a ref of a record read)."""
        self.entities.add(entity)
        self.records.setdefault(entity, set()).update(ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "entities": sorted(self.entities),
            "records": {e: sorted(ids, key=id_order) for e, ids in sorted(self.records.items())},
            "queries": self.queries,
            "filters": self.filters,
        }


def _typed(kind: str, cond: Any) -> Any:
    """Values rendered from templates are text: give ints and booleans their type for the API."""
    if not isinstance(cond, dict):
        return cond

    def one(value: Any) -> Any:
        if isinstance(value, str):
            if kind == "int" and value.strip().lstrip("-").isdigit():
                return int(value)
            if kind == "bool" and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
        return value

    return {
        op: [one(v) for v in value] if isinstance(value, list) else one(value)
        for op, value in cond.items()
    }


def id_order(value: str) -> tuple[int, str]:
    """A sort key for ids: numbers as numbers."""
    return (int(value), "") if value.isdigit() else (0, value)


class SiteData:
    def __init__(self, spec: Spec, source: DataSource) -> None:
        self.spec = spec
        self.source = source
        self.access = Access.of(spec, spec.auth.anonymous_role)
        self.cache: dict[str, Any] = {}
        # each entity's fields: spec name, API name, the entity a ref leads to
        self.names: dict[str, list[tuple[str, str, str | None]]] = {}

    # the shape of a record ----------------------------------------------------------------------

    def selection(self, entity: str, depth: int = 1) -> str:
        parts = ["id"]
        for name, f in self.spec.entities[entity].fields.items():
            if not self.access.sees(entity, name) or f.type in SCALAR_SKIP:
                continue
            if f.type == "ref":
                if depth > 0 and f.to and self.access.readable(f.to):
                    parts.append(f"{camel(name)} {{ {self.selection(f.to, depth - 1)} }}")
                continue
            parts.append(camel(name))
        return " ".join(parts)

    def record(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        """API names back to spec names; refs become nested records."""
        out: dict[str, Any] = {"id": data.get("id")}
        names = self.names.get(entity)
        if names is None:
            names = self.names[entity] = [
                (name, camel(name), f.to if f.type == "ref" else None)
                for name, f in self.spec.entities[entity].fields.items()
            ]
        for name, key, to in names:
            if key not in data:
                continue
            value = data[key]
            if to and isinstance(value, dict):
                value = self.record(to, value)
            out[name] = value
        return out

    def note_refs(self, entity: str, rows: list[dict[str, Any]], reads: Reads) -> None:
        """Note the records that rows hold through their refs (`item.complex.name`): a page
        that shows them is rebuilt when they change."""
        found: dict[str, set[str]] = {}
        for name, f in self.spec.entities[entity].fields.items():
            if f.type != "ref" or not f.to:
                continue
            for row in rows:
                value = row.get(name)
                if isinstance(value, dict) and value.get("id") is not None:
                    found.setdefault(f.to, set()).add(str(value["id"]))
        for target, ids in sorted(found.items()):
            reads.note_records(target, ids)

    # filters ------------------------------------------------------------------------------------

    def where(self, entity: str, where: dict[str, Any] | None) -> dict[str, Any] | None:
        """A spec filter (already rendered) as the API's where input."""
        if not where:
            return None
        out: dict[str, Any] = {}
        fields = self.spec.entities[entity].fields
        for key, cond in where.items():
            if key in ("and", "or"):
                out[key] = [self.where(entity, w) for w in cond]
            elif key == "not":
                out[key] = self.where(entity, cond)
            elif key == "id":
                out["id"] = cond
            else:
                f = fields[key]
                if f.type == "ref" and isinstance(cond, dict):
                    if all(op in ALL_OPERATORS for op in cond):
                        out[camel(key)] = {"id": cond}
                    else:
                        out[camel(key)] = self.where(f.to or "", cond)
                else:
                    out[camel(key)] = _typed(f.type, cond)
        return out

    @staticmethod
    def order(order_by: list[str]) -> list[dict[str, str]]:
        return [
            {camel(k.removeprefix("-")): "DESC" if k.startswith("-") else "ASC"} for k in order_by
        ]

    # queries ------------------------------------------------------------------------------------

    async def run(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        key = query + json.dumps(variables, sort_keys=True, ensure_ascii=False)
        if key not in self.cache:
            try:
                self.cache[key] = await self.source.execute(query, variables)
            except BuildError as exc:
                raise DataError(str(exc)) from None
        return self.cache[key]  # type: ignore[no-any-return]

    async def records(
        self,
        entity: str,
        where: dict[str, Any] | None,
        order_by: list[str],
        limit: int | None,
        reads: Reads,
    ) -> list[dict[str, Any]]:
        names = entity_names(entity, self.spec.entities[entity])
        if not self.access.readable(entity):
            raise BuildError(f"the anonymous role may not read {entity}")
        query = (
            f"query($where: {names.type}Where, $orderBy: [{names.type}OrderBy!], $limit: Int) "
            f"{{ {names.many}(where: $where, orderBy: $orderBy, limit: $limit) {{ {self.selection(entity)} }} }}"
        )
        variables = {
            "where": self.where(entity, where),
            "orderBy": self.order(order_by),
            "limit": limit,
        }
        data = await self.run(query, variables)
        rows = [self.record(entity, r) for r in data[names.many]]
        reads.note(
            entity,
            [str(r["id"]) for r in rows],
            describe(entity, where, order_by, limit),
            where,
            cut_short(rows, order_by, limit),
        )
        self.note_refs(entity, rows, reads)
        return rows

    async def aggregate(
        self,
        entity: str,
        where: dict[str, Any] | None,
        op: str,
        field_name: str | None,
        reads: Reads,
    ) -> Any:
        names = entity_names(entity, self.spec.entities[entity])
        if not self.access.aggregates(entity):
            raise BuildError(f"the anonymous role may not aggregate {entity}")
        inner = "count" if op == "count" else f"{op} {{ {camel(field_name or '')} }}"
        query = (
            f"query($where: {names.type}Where) {{ {names.aggregate}(where: $where) {{ {inner} }} }}"
        )
        data = await self.run(query, {"where": self.where(entity, where)})
        result = data[names.aggregate]
        reads.note(
            entity, [], describe(entity, where, [], None, f"{op}({field_name or ''})"), where
        )
        return result["count"] if op == "count" else result[op][camel(field_name or "")]


def cut_short(
    rows: list[dict[str, Any]], order_by: list[str], limit: int | None
) -> tuple[list[str], list[Any]] | None:
    """For rows that a limit cut short, in a given order: that order, and the order values of
    the last row; None when nothing was cut (or no order is given)."""
    if not limit or not order_by or len(rows) < limit:
        return None
    last = rows[limit - 1]
    values = []
    for key in order_by:
        value = last.get(key.removeprefix("-"))
        values.append(value.get("id") if isinstance(value, dict) else value)
    return list(order_by), values


def describe(
    entity: str, where: Any, order_by: list[str], limit: int | None, what: str = ""
) -> str:
    parts = [entity]
    if what:
        parts.append(what)
    if where:
        parts.append("where " + json.dumps(where, ensure_ascii=False, sort_keys=True))
    if order_by:
        parts.append("order by " + ", ".join(order_by))
    if limit:
        parts.append(f"limit {limit}")
    return " ".join(parts)
