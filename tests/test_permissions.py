"""The permission matrix, generated from the demo's spec/roles.yaml: every role × every entity ×
read, create, update and delete, on the seeded demo, on SQLite and PostgreSQL.

An oracle evaluates each role's rules (`where`, `fields`, `set`, `check`) in Python over the rows
read straight from the tables. Every path into an entity — lists, id lookups, connections,
aggregates, refs and nested lists of other entities, filters through refs — must answer exactly
what the oracle allows, every hidden field must be an unknown field, and every write must be
accepted or refused as the oracle predicts, with nothing written when it is refused."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from dbs import (
    CONTROL,
    SHOP,
    Api,
    SeededDemo,
    WriteSpec,
    api_on,
    copy_sqlite,
    demo_spec,
    resolve,
    seed,
    sqlite_path,
    sqlite_url,
)
from sqlalchemy import func, select

from ecospec.generator.access import Access
from ecospec.generator.fieldtypes import ALL_OPERATORS
from ecospec.generator.loader import load_spec
from ecospec.generator.model import CreateRule, FieldSpec, UpdateRule, Where
from ecospec.generator.naming import camel, entity_names
from ecospec.runtime.migrate import migrate
from ecospec.runtime.permissions import RolePolicy
from ecospec.runtime.system import audit
from ecospec.runtime.types import Actor, Session
from ecospec.runtime.writes import WriteRejected

pytest_plugins = ["dbs"]

SPEC = demo_spec()
NAMES = {name: entity_names(name, entity) for name, entity in SPEC.entities.items()}
CELLS = [pytest.param(r, e, id=f"{r}-{e}") for r in SPEC.roles for e in SPEC.entities]
VARIABLE = re.compile(r"^\$user\.([A-Za-z_][A-Za-z0-9_]*)$")
OPERATORS = frozenset(ALL_OPERATORS)

Row = dict[str, Any]
Vars = dict[str, Any]


@functools.cache
def access_of(role: str) -> Access:
    return Access.of(SPEC, role)


# -- the oracle: the spec's filter language evaluated in Python ------------------------------------


class Missing(Exception):
    """A filter names a session variable the session does not carry."""


def bind(value: Any, variables: Vars) -> Any:
    """A spec value with its `$user.x` variables replaced; a missing one raises Missing."""
    if isinstance(value, dict):
        return {k: bind(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [bind(v, variables) for v in value]
    if isinstance(value, str):
        match = VARIABLE.match(value)
        if match:
            found = variables.get(match.group(1))
            if found is None:
                raise Missing(match.group(1))
            return found
    return value


def as_id(value: Any) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


def compare(kind: str, value: Any, op: str, arg: Any) -> bool:
    """One operator as SQL evaluates it: a null never matches a comparison."""
    if op == "isNull":
        return True if arg is None else (value is None) == bool(arg)
    if arg is None:  # an explicit null: eq null is "no value", ne null is "has a value"
        return value is None if op == "eq" else value is not None if op == "ne" else True
    if kind in ("id", "ref"):
        value = None if value is None else as_id(value)
        arg = [as_id(a) for a in arg] if isinstance(arg, list) else as_id(arg)
        if arg is None:
            return value is not None if op == "ne" else False
    if isinstance(arg, list):
        arg = [a for a in arg if a is not None]
    if value is None:
        return False
    if op == "eq":
        return bool(value == arg)
    if op == "ne":
        return bool(value != arg)
    if op == "in":
        return value in arg
    if op == "nin":
        return value not in arg
    if op == "gt":
        return bool(value > arg)
    if op == "gte":
        return bool(value >= arg)
    if op == "lt":
        return bool(value < arg)
    if op == "lte":
        return bool(value <= arg)
    if op == "contains":
        return str(arg) in str(value)
    if op == "startsWith":
        return str(value).startswith(str(arg))
    raise AssertionError(f"the oracle does not know the operator '{op}'")


@dataclass
class World:
    """Every record of every entity, read straight from the tables: spec field names, ids and
    refs as strings."""

    rows: dict[str, dict[str, Row]]
    seen: dict[tuple[str | None, str, str], set[str]] = field(default_factory=dict)

    def ids(self, entity: str) -> set[str]:
        return set(self.rows[entity])

    def holds(self, entity: str, where: Where, row: Row) -> bool:
        """Whether a row passes a filter whose variables are already bound."""
        fields = SPEC.entities[entity].fields
        for key, cond in where.items():
            if key == "and":
                ok = all(self.holds(entity, w, row) for w in cond)
            elif key == "or":
                ok = any(self.holds(entity, w, row) for w in cond)
            elif key == "not":
                ok = not self.holds(entity, cond, row)
            elif key != "id" and fields[key].type == "ref" and not set(cond) <= OPERATORS:
                target_entity = fields[key].to or ""
                ref = row.get(key)
                target = None if ref is None else self.rows[target_entity].get(str(ref))
                ok = target is not None and self.holds(target_entity, cond, target)
            else:
                kind = "id" if key == "id" else fields[key].type
                ok = all(compare(kind, row.get(key), op, arg) for op, arg in cond.items())
            if not ok:
                return False
        return True

    def passes(self, entity: str, where: Where | None, row: Row, variables: Vars) -> bool:
        """Whether a row passes a spec filter; one naming a missing variable passes nothing."""
        if not where:
            return True
        try:
            bound = bind(where, variables)
        except Missing:
            return False
        return self.holds(entity, bound, row)

    def visible(self, access: Access, entity: str, variables: Vars) -> set[str]:
        """The records of an entity a role's session may read."""
        key = (access.role, entity, json.dumps(variables, sort_keys=True))
        if key not in self.seen:
            rule = access.read(entity)
            self.seen[key] = (
                set()
                if rule is None
                else {
                    i
                    for i, row in self.rows[entity].items()
                    if self.passes(entity, rule.where, row, variables)
                }
            )
        return self.seen[key]


def by_id(ids: set[str] | list[str]) -> list[str]:
    return sorted(ids, key=int)


def spread(ids: set[str], n: int) -> list[str]:
    """At most n ids, from the first to the last."""
    ordered = by_id(ids)
    if len(ordered) <= n:
        return ordered
    step = len(ordered) / n
    return [ordered[int(i * step)] for i in range(n - 1)] + [ordered[-1]]


def conjuncts(where: Where) -> list[Where]:
    out: list[Where] = []
    for key, cond in where.items():
        if key == "and":
            for w in cond:
                out.extend(conjuncts(w))
        else:
            out.append({key: cond})
    return out


def mentioned(where: Where) -> set[str]:
    """The fields of the entity itself a filter looks at."""
    out: set[str] = set()
    for key, cond in where.items():
        if key in ("and", "or"):
            for w in cond:
                out |= mentioned(w)
        elif key == "not":
            out |= mentioned(cond)
        else:
            out.add(key)
    return out


# -- reading the database directly -----------------------------------------------------------------


def load_world(api: Api) -> World:
    async def fetch() -> dict[str, dict[str, Row]]:
        out: dict[str, dict[str, Row]] = {}
        async with api.eco.engine.connect() as conn:
            for name, info in api.eco.catalog.entities.items():
                rows: dict[str, Row] = {}
                for found in (await conn.execute(select(info.table))).mappings():
                    row: Row = {"id": str(found["id"])}
                    for fi in info.by_name.values():
                        if fi.kind == "scalar":
                            row[fi.name] = found[fi.column]
                        elif fi.kind == "ref":
                            value = found[fi.column]
                            row[fi.name] = None if value is None else str(value)
                    rows[row["id"]] = row
                out[name] = rows
        return out

    return World(api.runner.run(fetch()))


def raw_row(api: Api, entity: str, record: str) -> Row | None:
    """One record as stored, with its timestamps."""
    info = api.eco.catalog.entities[entity]

    async def fetch() -> Row | None:
        async with api.eco.engine.connect() as conn:
            found = (
                (await conn.execute(select(info.table).where(info.table.c.id == int(record))))
                .mappings()
                .first()
            )
        if found is None:
            return None
        row: Row = {"id": record, "updated_at": found["updated_at"]}
        for fi in info.by_name.values():
            if fi.kind in ("scalar", "ref"):
                value = found[fi.column]
                row[fi.name] = str(value) if fi.kind == "ref" and value is not None else value
        return row

    return api.runner.run(fetch())


def counts(api: Api, entity: str) -> tuple[int, int]:
    """How many records the entity has, and how many audit entries there are."""
    table = api.eco.catalog.entities[entity].table

    async def fetch() -> tuple[int, int]:
        async with api.eco.engine.connect() as conn:
            records = await conn.scalar(select(func.count()).select_from(table))
            entries = await conn.scalar(select(func.count()).select_from(audit))
        return int(records or 0), int(entries or 0)

    return api.runner.run(fetch())


def data_statements(api: Api) -> list[str]:
    return [s for s in api.sent if not s.lstrip().upper().startswith(CONTROL)]


# -- asking as a role ----------------------------------------------------------------------------


@dataclass
class Caller:
    """The API as one role sees it, with the session variables of one user (no HTTP: the matrix
    is about what the role's service answers; test_auth covers credentials)."""

    api: Api
    role: str
    variables: Vars

    @property
    def access(self) -> Access:
        return access_of(self.role)

    def answer(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        service = self.api.eco.service(self.role)
        session = Session(self.role, dict(self.variables))
        body = self.api.runner.run(service.respond(query, variables, None, session))
        found: dict[str, Any] = json.loads(body)
        return found

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        found = self.answer(query, variables)
        if found.get("errors") or found.get("data") is None:
            pytest.fail(f"{self.role}: {query}\n  {variables}\n  unexpected: {found.get('errors')}")
        data: dict[str, Any] = found["data"]
        return data

    def errors(self, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        found = self.answer(query, variables)
        if not found.get("errors"):
            pytest.fail(f"{self.role}: {query}\n  {variables}\n  expected errors, got {found}")
        errors: list[dict[str, Any]] = found["errors"]
        return errors

    def input_fields(self, type_name: str) -> set[str]:
        found = self.api.eco.service(self.role).schema.get_type(type_name)
        assert found is not None, f"{self.role} has no input type {type_name}"
        return set(getattr(found, "fields", {}))

    def mutations(self) -> set[str]:
        root = self.api.eco.service(self.role).schema.mutation_type
        return set(root.fields) if root is not None else set()


def unknown(
    caller: Caller, query: str, name: str, type_name: str, variables: dict[str, Any] | None = None
) -> None:
    """The query fails validation because `name` does not exist on `type_name`; no SQL runs."""
    refusals(caller, query, [f"Cannot query field '{name}' on type '{type_name}'."], variables)


def undefined(
    caller: Caller,
    query: str,
    names: str | list[str],
    type_name: str,
    variables: dict[str, Any] | None = None,
) -> None:
    """An input names fields its input type does not have: refused before any SQL runs."""
    fields = [names] if isinstance(names, str) else names
    expected = [f"Field '{n}' is not defined by type '{type_name}'." for n in fields]
    refusals(caller, query, expected, variables)


def refused(
    caller: Caller, query: str, variables: dict[str, Any], code: str, text: str = ""
) -> dict[str, Any]:
    found = caller.answer(query, variables)
    errors = found.get("errors") or []
    assert found.get("data") is None, (caller.role, query, variables, found)
    assert [e["extensions"]["code"] for e in errors] == [code], (caller.role, variables, errors)
    assert text in errors[0]["message"]
    error: dict[str, Any] = errors[0]
    return error


# -- which users the sessions stand for -----------------------------------------------------------


def choose_sessions(world: World) -> dict[str, Vars]:
    """Session variables matching the seed, found by looking at the data as admin would: a manager
    with leads and customers, the supervisor, a partner with leads and deals, a customer with a
    lead, a scheduled meeting and a deal."""

    def refs(entity: str, field_name: str, value: str) -> list[Row]:
        return [r for r in world.rows[entity].values() if r[field_name] == value]

    employees = world.rows["Employee"].values()
    managers = [e for e in employees if e["position"] == "manager" and e["active"]]
    manager = max(
        managers,
        key=lambda e: (
            len(refs("Lead", "manager", e["id"])),
            len(refs("Customer", "manager", e["id"])),
        ),
    )
    supervisor = next(e for e in employees if e["position"] == "supervisor" and e["active"])
    partners = [p for p in world.rows["Partner"].values() if refs("Lead", "partner", p["id"])]
    partner = max(
        partners,
        key=lambda p: (
            bool(refs("Deal", "partner", p["id"])),
            len(refs("Lead", "partner", p["id"])),
            len(refs("Deal", "partner", p["id"])),
        ),
    )

    def scheduled(customer: Row) -> bool:
        leads = {lead["id"] for lead in refs("Lead", "customer", customer["id"])}
        meetings = world.rows["Meeting"].values()
        return any(m["lead"] in leads and m["status"] == "scheduled" for m in meetings)

    customer = next(
        c
        for c in sorted(world.rows["Customer"].values(), key=lambda c: int(c["id"]))
        if scheduled(c) and refs("Deal", "customer", c["id"])
    )
    return {
        "public": {},
        "customer": {"customer_id": customer["id"]},
        "manager": {"id": manager["id"]},
        "supervisor": {"id": supervisor["id"]},
        "partner": {"partner_id": partner["id"]},
        "admin": {},
    }


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(demo_api: Api) -> World:
    """The seeded demo as stored (read-only: the read matrix runs on it)."""
    return load_world(demo_api)


@pytest.fixture(scope="module")
def sessions(world: World) -> dict[str, Vars]:
    return choose_sessions(world)


def test_the_matrix_covers_every_role_entity_and_operation() -> None:
    assert len(CELLS) == len(SPEC.roles) * len(SPEC.entities) == 6 * 12
    assert set(SPEC.roles) == {"public", "customer", "manager", "supervisor", "partner", "admin"}


def test_the_sessions_stand_for_users_the_seed_gives_data(
    world: World, sessions: dict[str, Vars]
) -> None:
    manager = sessions["manager"]["id"]
    assert [r for r in world.rows["Lead"].values() if r["manager"] == manager]
    assert [r for r in world.rows["Lead"].values() if r["manager"] not in (manager, None)]
    partner = sessions["partner"]["partner_id"]
    assert [r for r in world.rows["Lead"].values() if r["partner"] == partner]
    assert [r for r in world.rows["Lead"].values() if r["partner"] not in (partner, None)]
    customer = sessions["customer"]["customer_id"]
    assert [r for r in world.rows["Lead"].values() if r["customer"] == customer]
    # sold apartments exist: the public must not see them
    assert [r for r in world.rows["Apartment"].values() if r["status"] == "sold"]


# -- reads -----------------------------------------------------------------------------------------


def selection(access: Access, entity: str) -> list[tuple[str, str, FieldSpec]]:
    """(spec name, API name, field) of the visible scalar and ref fields a role may select."""
    out = []
    for name, spec_field in SPEC.entities[entity].fields.items():
        if not access.sees(entity, name) or spec_field.type == "list":
            continue
        if spec_field.type == "ref" and not access.readable(spec_field.to or ""):
            continue
        out.append((name, camel(name), spec_field))
    return out


def select_text(fields: list[tuple[str, str, FieldSpec]]) -> str:
    return " ".join(f"{g} {{ id }}" if f.type == "ref" else g for _, g, f in fields)


TEXT = ("string", "text", "slug", "email", "phone", "url", "enum")


@pytest.mark.parametrize(("role", "entity"), CELLS)
def test_read(
    role: str, entity: str, demo_api: Api, world: World, sessions: dict[str, Vars]
) -> None:
    caller = Caller(demo_api, role, sessions[role])
    access = caller.access
    names = NAMES[entity]
    rule = access.read(entity)
    if rule is None:
        unreadable(caller, entity)
        return
    assert rule.limit is None, "the matrix expects the demo's roles to have no row cap"
    visible = world.visible(access, entity, caller.variables)
    hidden = world.ids(entity) - visible
    assert visible, f"the seed gives {role} no {entity} to read"
    if rule.where:
        assert hidden, f"the seed hides no {entity} from {role}: its where is not exercised"

    # one document: the list with every visible field, id lookups (a hidden record is null,
    # exactly like one that does not exist), and the aggregates, which count only what it sees
    fields = selection(access, entity)
    probes = [*spread(visible, 4), *spread(hidden, 4), "0", "x1"]
    lookups = " ".join(f'r{i}: {names.one}(id: "{p}") {{ id }}' for i, p in enumerate(probes))
    numeric = [(n, g, f) for n, g, f in fields if f.type in ("int", "money", "decimal")]
    sums = f"sum {{ {numeric[0][1]} }}" if numeric else ""
    counted = access.aggregates(entity)
    aggregates = (
        f"all: {names.aggregate} {{ count {sums} }} "
        f"none: {names.aggregate}(where: {{id: {{in: $h}}}}) {{ count }}"
        if counted
        else ""
    )
    header = "query($h: [ID!]) " if counted else ""
    found = caller.data(
        f"{header}{{ rows: {names.many} {{ id {select_text(fields)} createdAt }} "
        f"{lookups} {aggregates} }}",
        {"h": by_id(hidden)} if counted else None,
    )
    assert [r["id"] for r in found["rows"]] == by_id(visible)
    for got in found["rows"]:
        stored = world.rows[entity][got["id"]]
        for name, gql, spec_field in fields:
            if spec_field.type == "ref":
                seen = world.visible(access, spec_field.to or "", caller.variables)
                target = stored[name]
                assert (got[gql] or {}).get("id") == (target if target in seen else None)
            elif spec_field.type in TEXT:
                assert got[gql] == stored[name]
    for i, probe in enumerate(probes):
        assert found[f"r{i}"] == ({"id": probe} if probe in visible else None), (probe, role)
    if counted:
        assert found["all"]["count"] == len(visible)
        assert found["none"]["count"] == 0
        if numeric:
            name, gql, _ = numeric[0]
            values = [world.rows[entity][i][name] for i in visible]
            expected = sum((Decimal(str(v)) for v in values if v is not None), Decimal(0))
            got = found["all"]["sum"][gql]
            assert Decimal(str(got if got is not None else 0)) == expected

    # the connection, page by page, with its total; a filter cannot reach hidden records
    size = max(1, math.ceil(len(visible) / 2))
    query = (
        f"query($after: String, $h: [ID!]) {{ c: {names.connection}(first: {size}, after: $after) "
        "{ totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } "
        f"probe: {names.connection}(where: {{id: {{in: $h}}}}) {{ totalCount edges {{ node {{ id }} }} }} }}"
    )
    paged: list[str] = []
    after: str | None = None
    for _ in range(len(visible) + 1):
        page = caller.data(query, {"after": after, "h": by_id(hidden)})
        assert page["probe"] == {"totalCount": 0, "edges": []}
        assert page["c"]["totalCount"] == len(visible)
        paged += [edge["node"]["id"] for edge in page["c"]["edges"]]
        if not page["c"]["pageInfo"]["hasNextPage"]:
            break
        after = page["c"]["pageInfo"]["endCursor"]
    assert paged == by_id(visible)

    refusals(caller, *hidden_parts(caller, entity))
    if hidden:  # when the role sees every record, no path into them can show too much
        paths_into(caller, world, entity, visible, hidden)


def hidden_parts(caller: Caller, entity: str) -> tuple[str, list[str]]:
    """One document naming everything the role may not see of a readable entity — fields
    outside its `fields` (selected, filtered, sorted, aggregated) and the aggregates it may not
    run — with the message each must give."""
    access = caller.access
    names = NAMES[entity]
    schema = caller.api.eco.service(caller.role).schema
    parts = set(getattr(schema.get_type(names.input("Aggregate")), "fields", {}))
    picks: list[str] = []
    wheres: list[str] = []
    orders: list[str] = []
    maxes: list[str] = []
    roots: list[str] = []
    expected: list[str] = []
    for name, spec_field in SPEC.entities[entity].fields.items():
        if access.sees(entity, name):
            continue
        gql = camel(name)
        picks.append(f"{gql} {{ __typename }}" if spec_field.type in ("ref", "list") else gql)
        expected.append(f"Cannot query field '{gql}' on type '{entity}'.")
        if spec_field.type == "list":
            picks.append(f"{gql}Aggregate {{ count }}")
            expected.append(f"Cannot query field '{gql}Aggregate' on type '{entity}'.")
            continue
        wheres.append(
            f"{gql}: "
            + ("{id: {isNull: false}}" if spec_field.type == "ref" else "{isNull: false}")
        )
        expected.append(f"Field '{gql}' is not defined by type '{names.input('Where')}'.")
        orders.append(f"{{{gql}: ASC}}")
        expected.append(f"Field '{gql}' is not defined by type '{names.input('OrderBy')}'.")
        if "max" in parts and spec_field.type in ("int", "money", "decimal", "date", "datetime"):
            maxes.append(gql)
            expected.append(f"Cannot query field '{gql}' on type '{names.input('MaxFields')}'.")
    if picks:
        roots.append(f"a: {names.many}(limit: 1) {{ id {' '.join(picks)} }}")
        roots.append(f'b: {names.one}(id: "1") {{ id {" ".join(picks)} }}')
    if wheres:
        roots.append(f"c: {names.many}(where: {{{', '.join(wheres)}}}) {{ id }}")
        roots.append(f"d: {names.many}(orderBy: [{', '.join(orders)}]) {{ id }}")
    if maxes:
        roots.append(f"e: {names.aggregate} {{ max {{ {' '.join(maxes)} }} }}")
    if not access.aggregates(entity):
        roots.append(f"f: {names.aggregate} {{ count }}")
        expected.append(f"Cannot query field '{names.aggregate}' on type 'Query'.")
        for other, spec in SPEC.entities.items():
            for name, spec_field in spec.fields.items():
                if spec_field.of == entity and access.readable(other) and access.sees(other, name):
                    field_name = f"{camel(name)}Aggregate"
                    roots.append(
                        f"g{len(roots)}: {NAMES[other].many}(limit: 1) {{ {field_name} {{ count }} }}"
                    )
                    expected.append(f"Cannot query field '{field_name}' on type '{other}'.")
    return "{ " + " ".join(roots) + " }", expected


def refusals(
    caller: Caller, query: str, expected: list[str], variables: dict[str, Any] | None = None
) -> None:
    """The document fails validation with every expected message, and no SQL runs."""
    if not expected:
        return
    caller.api.sent.clear()
    found = caller.answer(query, variables)
    messages = [e["message"] for e in found.get("errors") or []]
    missing = [x for x in expected if not any(x in m for m in messages)]
    assert not missing, (caller.role, query, missing, messages)
    assert found.get("data") is None
    assert {e["extensions"]["code"] for e in found["errors"]} <= {
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    }, found
    assert data_statements(caller.api) == []


def paths_into(
    caller: Caller, world: World, entity: str, visible: set[str], hidden: set[str]
) -> None:
    """Refs and nested lists of every other entity the role reads lead only to visible records
    (and nested aggregates count only those), filters through refs match only visible ones."""
    access = caller.access
    every = by_id(world.ids(entity))
    for other, spec in SPEC.entities.items():
        if not access.readable(other):
            continue
        refs = [
            n
            for n, f in spec.fields.items()
            if f.type == "ref" and f.to == entity and access.sees(other, n)
        ]
        lists = [
            n
            for n, f in spec.fields.items()
            if f.type == "list" and f.of == entity and access.sees(other, n)
        ]
        if not refs and not lists:
            continue
        many = NAMES[other].many
        counted = access.aggregates(entity)
        summed = next(
            (
                n
                for n, f in SPEC.entities[entity].fields.items()
                if f.type in ("int", "money", "decimal") and access.sees(entity, n)
            ),
            None,
        )
        sums = f"sum {{ {camel(summed)} }}" if summed else ""
        picks = [f"{camel(n)} {{ id }}" for n in refs]
        for n in lists:
            gql = camel(n)
            picks.append(f"{gql} {{ id }} probe_{gql}: {gql}(where: {{id: {{in: $h}}}}) {{ id }}")
            if counted:
                picks.append(f"n_{gql}: {gql}Aggregate {{ count {sums} }}")
        roots = [f"rows: {many} {{ id {' '.join(picks)} }}"]
        for n in refs:
            gql = camel(n)
            roots.append(f"through_{gql}: {many}(where: {{{gql}: {{id: {{in: $all}}}}}}) {{ id }}")
            roots.append(f"hidden_{gql}: {many}(where: {{{gql}: {{id: {{in: $h}}}}}}) {{ id }}")
        declared = "$all: [ID!], $h: [ID!]" if refs else "$h: [ID!]"
        found = caller.data(
            f"query({declared}) {{ {' '.join(roots)} }}",
            {"all": every, "h": by_id(hidden)} if refs else {"h": by_id(hidden)},
        )
        other_visible = world.visible(access, other, caller.variables)
        stored = world.rows[other]
        assert {r["id"] for r in found["rows"]} == other_visible
        for n in refs:
            gql = camel(n)
            expected = {
                o: (stored[o][n] if stored[o][n] in visible else None) for o in other_visible
            }
            assert {r["id"]: (r[gql] or {}).get("id") for r in found["rows"]} == expected
            through = {o for o in other_visible if stored[o][n] in visible}
            assert {r["id"] for r in found[f"through_{gql}"]} == through, (other, gql)
            assert found[f"hidden_{gql}"] == [], (other, gql)
        for n in lists:
            gql = camel(n)
            via = spec.fields[n].via or ""
            for row in found["rows"]:
                children = by_id({x for x in visible if world.rows[entity][x][via] == row["id"]})
                assert [c["id"] for c in row[gql]] == children, (other, row["id"], gql)
                assert row[f"probe_{gql}"] == []
                if counted:
                    assert row[f"n_{gql}"]["count"] == len(children)
                if counted and summed:
                    values = [world.rows[entity][x][summed] for x in children]
                    total = sum((Decimal(str(v)) for v in values if v is not None), Decimal(0))
                    got = row[f"n_{gql}"]["sum"][camel(summed)]
                    assert Decimal(str(got if got is not None else 0)) == total, (other, gql)


def unreadable(caller: Caller, entity: str) -> None:
    """An entity the role may not read does not exist for it: no root field, no ref or list
    leading to it, no filter through it."""
    names = NAMES[entity]
    roots = [
        f"a: {names.many} {{ id }}",
        f'b: {names.one}(id: "1") {{ id }}',
        f"c: {names.connection} {{ totalCount }}",
        f"d: {names.aggregate} {{ count }}",
    ]
    expected = [
        f"Cannot query field '{n}' on type 'Query'."
        for n in (names.many, names.one, names.connection, names.aggregate)
    ]
    access = caller.access
    for other, spec in SPEC.entities.items():
        if not access.readable(other):
            continue
        many = NAMES[other].many
        for name, spec_field in spec.fields.items():
            if entity not in (spec_field.to, spec_field.of):
                continue
            gql = camel(name)
            roots.append(f"e{len(roots)}: {many}(limit: 1) {{ {gql} {{ id }} }}")
            expected.append(f"Cannot query field '{gql}' on type '{other}'.")
            if spec_field.type == "ref":
                roots.append(f"w{len(roots)}: {many}(where: {{{gql}: {{id: {{eq: 1}}}}}}) {{ id }}")
                expected.append(
                    f"Field '{gql}' is not defined by type '{NAMES[other].input('Where')}'."
                )
    refusals(caller, "{ " + " ".join(roots) + " }", expected)


# -- sessions that lack their variables ---------------------------------------------------------

BROKEN = [{}, {"id": "not-a-number", "customer_id": "0", "partner_id": "-1"}]


@pytest.mark.parametrize("variables", BROKEN, ids=["none", "unusable"])
@pytest.mark.parametrize("role", list(SPEC.roles))
def test_a_session_without_usable_variables_sees_no_more(
    role: str, variables: Vars, demo_api: Api, world: World
) -> None:
    """A filter naming a variable the session lacks (or cannot use) denies every row: a missing
    variable never widens access."""
    caller = Caller(demo_api, role, variables)
    readable = [e for e in SPEC.entities if caller.access.readable(e)]
    roots = " ".join(f"{NAMES[e].many}: {NAMES[e].many} {{ id }}" for e in readable)
    found = caller.data(f"{{ {roots} }}")
    for entity in readable:
        expected = by_id(world.visible(caller.access, entity, variables))
        assert [r["id"] for r in found[NAMES[entity].many]] == expected, entity


# -- a row cap -----------------------------------------------------------------------------------------

CAPPED = SHOP | {
    "spec/roles.yaml": """\
roles:
  public:
    Category: {read: true}
    Product: {read: {limit: 1, where: {status: {ne: draft}}}}
""",
    "spec/seed/shop.yaml": """\
seed:
  Category:
    - {name: Tea}
  Product:
    - {name: Green tea, category: tea, price: 12.50, status: on_sale}
    - {name: Black tea, category: tea, price: 9.90, status: on_sale}
    - {name: White tea, category: tea, price: 30.00, status: draft}
""",
}


def test_a_row_cap_holds_on_every_list_path(
    write_spec: WriteSpec, tmp_path: Path, database: str
) -> None:
    project = write_spec(tmp_path / "capped", CAPPED)
    spec = load_spec(project)
    migrate(spec, resolve(database))
    seed(spec, database)
    with api_on(database, project, spec) as api:
        caller = Caller(api, "public", {})
        found = caller.data(
            "{ products { id } limited: products(limit: 5) { id } categories { products { id } } "
            "productsAggregate { count } }"
        )
        assert len(found["products"]) == len(found["limited"]) == 1
        assert len(found["categories"][0]["products"]) == 1
        assert found["productsAggregate"]["count"] == 2  # counts are not rows
        page = caller.data("{ productsConnection(first: 10) { totalCount edges { node { id } } } }")
        assert page["productsConnection"]["totalCount"] == 2
        assert len(page["productsConnection"]["edges"]) == 1


# -- a partner and its leads -----------------------------------------------------------------------


def test_a_partner_sees_only_its_own_leads_through_every_path(demo_api: Api, world: World) -> None:
    leads = world.rows["Lead"]
    partners = by_id({r["partner"] for r in leads.values() if r["partner"] is not None})
    assert len(partners) >= 2, "the seed should give leads to several partners"
    for partner in partners:
        caller = Caller(demo_api, "partner", {"partner_id": partner})
        own = {i for i, r in leads.items() if r["partner"] == partner}
        others = by_id(set(leads) - own)
        complexes = world.visible(caller.access, "Complex", caller.variables)
        found = caller.data(
            "query($others: [ID!], $own: [ID!], $complexes: [ID!]) {"
            " leads { id }"
            " leadsConnection(first: 100) { totalCount edges { node { id } } }"
            " complexes { id leads { id } probe: leads(where: {id: {in: $others}}) { id } }"
            " viaComplex: leads(where: {complex: {id: {in: $complexes}}}) { id }"
            " widened: leads(where: {or: [{id: {in: $others}}, {status: {ne: new}}]}) { id }"
            " beyond: leads(where: {not: {id: {in: $own}}}) { id }"
            " targeted: leads(where: {id: {in: $others}}) { id }"
            "}",
            {"others": others, "own": by_id(own), "complexes": by_id(complexes)},
        )
        assert [r["id"] for r in found["leads"]] == by_id(own)
        connection = found["leadsConnection"]
        assert connection["totalCount"] == len(own)
        assert [e["node"]["id"] for e in connection["edges"]] == by_id(own)
        nested = {lead["id"] for c in found["complexes"] for lead in c["leads"]}
        assert nested == {i for i in own if leads[i]["complex"] in complexes}
        assert all(c["probe"] == [] for c in found["complexes"])
        assert {r["id"] for r in found["viaComplex"]} <= own
        assert {r["id"] for r in found["widened"]} <= own
        assert found["beyond"] == []
        assert found["targeted"] == []
        for start in range(0, len(leads), 25):
            chunk = by_id(set(leads))[start : start + 25]
            lookups = " ".join(f'l{i}: lead(id: "{x}") {{ id }}' for i, x in enumerate(chunk))
            got = caller.data(f"{{ {lookups} }}")
            assert {x: got[f"l{i}"] for i, x in enumerate(chunk)} == {
                x: ({"id": x} if x in own else None) for x in chunk
            }
        # no aggregate, and no other way in: the fields that lead to leads are unknown to it
        unknown(caller, "{ leadsAggregate { count } }", "leadsAggregate", "Query")
        unknown(caller, "{ complexes { leadsAggregate { count } } }", "leadsAggregate", "Complex")
        unknown(caller, "{ partners { leads { id } } }", "leads", "Partner")
        unknown(caller, "{ apartments(limit: 1) { leads { id } } }", "leads", "Apartment")
        unknown(caller, "{ deals { lead { id } } }", "lead", "Deal")
        unknown(caller, "{ leads { partner { id } } }", "partner", "Lead")
        undefined(
            caller, "{ leads(where: {partner: {id: {eq: 1}}}) { id } }", "partner", "LeadWhere"
        )
        unknown(caller, "{ touchpoints { id } }", "touchpoints", "Query")
        unknown(caller, "{ meetings { id } }", "meetings", "Query")


# -- writes ----------------------------------------------------------------------------------------


def samples(spec_field: FieldSpec) -> list[Any]:
    """Two different valid values of a scalar field (fresh text for unique fields)."""
    kind = spec_field.type
    tags = [uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]]
    if kind in ("string", "text"):
        return [f"m{t}"[: spec_field.max_length or 200] for t in tags]
    if kind == "slug":
        return [f"m-{t}" for t in tags]
    if kind == "email":
        return [f"m{t}@example.com" for t in tags]
    if kind == "phone":
        return [f"+7 900 {int(t, 16) % 10_000_000:07d}" for t in tags]
    if kind == "url":
        return [f"https://example.com/{t}" for t in tags]
    if kind == "date":
        return ["2026-06-01", "2026-06-02"]
    if kind == "datetime":
        return ["2026-06-01T10:00:00+00:00", "2026-06-02T11:30:00+00:00"]
    if kind == "json":
        return [{"tag": t} for t in tags]
    if kind == "int":
        first = int(spec_field.min) if spec_field.min is not None else 1
        return [v for v in (first, first + 1) if spec_field.max is None or v <= spec_field.max]
    if kind in ("decimal", "money"):
        low = Decimal(str(spec_field.min)) if spec_field.min is not None else Decimal(1)
        places = Decimal(1).scaleb(-spec_field.decimal_places)
        return [
            str(v.quantize(places))
            for v in (low, low + 1)
            if spec_field.max is None or v <= Decimal(str(spec_field.max))
        ]
    raise AssertionError(f"no sample for the type {kind}")


def same(spec_field: FieldSpec, stored: Any, given: Any) -> bool:
    if stored is None or given is None:
        return stored is None and given is None
    kind = spec_field.type
    if kind in ("decimal", "money"):
        return Decimal(str(stored)) == Decimal(str(given))
    if kind == "ref":
        return as_id(stored) == as_id(given)
    if kind == "datetime":
        return dt.datetime.fromisoformat(str(stored)) == dt.datetime.fromisoformat(str(given))
    if kind == "date":
        return str(stored)[:10] == str(given)
    return bool(stored == given)


Options = Callable[[str], list[Any]]


def options_for(world: World, entity: str, access: Access | None, variables: Vars) -> Options:
    """The values a writer could give each field: refs it may read (every record, for full
    access), every enum value, both booleans, fresh samples; null last for optional fields."""
    seen: dict[str, list[Any]] = {}

    def options(name: str) -> list[Any]:
        if name not in seen:
            spec_field = SPEC.entities[entity].fields[name]
            values: list[Any]
            if spec_field.type == "ref":
                target = spec_field.to or ""
                ids = (
                    world.ids(target)
                    if access is None
                    else world.visible(access, target, variables)
                )
                values = by_id(ids)
            elif spec_field.type == "enum":
                values = list(spec_field.values or [])
            elif spec_field.type == "bool":
                values = [True, False]
            else:
                values = samples(spec_field)
            seen[name] = values + ([] if spec_field.required else [None])
        return seen[name]

    return options


def defaults(entity: str) -> Row:
    return {name: f.default for name, f in SPEC.entities[entity].fields.items() if f.type != "list"}


def solve(
    world: World,
    entity: str,
    start: Row,
    free: list[str],
    goals: list[Where],
    options: Options,
    *,
    change: bool = False,
    need: set[str] | None = None,
) -> Row | None:
    """Values for the `free` fields such that every goal (a bound filter) holds for the row.
    `change`: every free field that can takes a new, non-null value. `need`: fields that get a
    value even when no goal mentions them (default: every free field)."""
    row = dict(start)
    fields = SPEC.entities[entity].fields

    def choices(name: str) -> list[Any]:
        found = options(name)
        if change:
            found = [
                v for v in found if v is not None and not same(fields[name], start.get(name), v)
            ]
        return found

    for name in free:
        if need is None or name in need or (fields[name].required and row.get(name) is None):
            found = choices(name)
            if found:
                row[name] = found[0]
    parts = [c for goal in goals for c in conjuncts(goal)]
    search = [n for n in free if any(n in mentioned(goal) for goal in goals)]

    def score(candidate: Row) -> int:
        return sum(world.holds(entity, part, candidate) for part in parts)

    for _ in range(4):
        if score(row) == len(parts):
            return row
        for name in search:
            found = choices(name)
            if found:
                row[name] = max(found, key=lambda v: score({**row, name: v}))
    return row if score(row) == len(parts) else None


def breaking(
    world: World,
    entity: str,
    row: Row,
    free: list[str],
    check: Where,
    keep: list[Where],
    options: Options,
    *,
    creating: bool,
) -> Row | None:
    """The row with one or two free fields changed so that it fails the (bound) check while it
    still passes every filter in `keep`; None when the role's own choices cannot fail it."""
    fields = SPEC.entities[entity].fields
    search = [n for n in free if n in mentioned(check)]

    def fits(candidate: Row) -> bool:
        return not world.holds(entity, check, candidate) and all(
            world.holds(entity, k, candidate) for k in keep
        )

    def choices(name: str, n: int | None = None) -> list[Any]:
        found = [
            v
            for v in options(name)
            if not same(fields[name], row.get(name), v) and (v is not None or creating)
        ]
        return found if n is None else found[:n] + ([None] if None in found[n:] else [])

    for name in search:
        for value in choices(name):
            if fits({**row, name: value}):
                return {**row, name: value}
    for first, second in combinations(search, 2):
        for a in choices(first, 6):
            for b in choices(second, 6):
                if fits({**row, first: a, second: b}):
                    return {**row, first: a, second: b}
    return None


def as_input(row: Row, names: list[str]) -> dict[str, Any]:
    return {camel(n): row[n] for n in names if n in row}


@dataclass
class Scratch:
    """A seeded demo this module writes to, the records it made (removed at the end), and the
    sessions of the users it writes as."""

    api: Api
    created: list[tuple[str, str]] = field(default_factory=list)
    sessions: dict[str, Vars] = field(default_factory=dict)

    def world(self) -> World:
        return load_world(self.api)

    def caller(self, role: str) -> Caller:
        return Caller(self.api, role, self.sessions[role])

    def full_create(self, entity: str, values: dict[str, Any]) -> str:
        """A record made with full access (not as a role), as test data."""
        names = NAMES[entity]
        data = self.api.data(
            f"mutation($i: {names.input('CreateInput')}!) {{ r: {names.mutation('create')}(input: $i) {{ id }} }}",
            {"i": values},
        )
        record: str = data["r"]["id"]
        self.created.append((entity, record))
        return record

    def full_update(self, entity: str, record: str, values: dict[str, Any]) -> None:
        names = NAMES[entity]
        self.api.data(
            f"mutation($i: {names.input('UpdateInput')}!) {{ r: {names.mutation('update')}(id: {record}, input: $i) {{ id }} }}",
            {"i": values},
        )

    def fresh(self, entity: str, goals: list[Where]) -> str | None:
        """A new record (made with full access) passing every goal, or None when the goals
        cannot be met by a new record (they name an id)."""
        world = self.world()
        fields = [n for n, f in SPEC.entities[entity].fields.items() if f.type != "list"]
        wanted = {n for n in fields if SPEC.entities[entity].fields[n].required}
        row = solve(
            world,
            entity,
            defaults(entity),
            fields,
            goals,
            options_for(world, entity, None, {}),
            need=wanted,
        )
        if row is None:
            return None
        given = [
            n
            for n in fields
            if row.get(n) is not None and (n in wanted or any(n in mentioned(g) for g in goals))
        ]
        return self.full_create(entity, as_input(row, given))

    def cleanup(self) -> None:
        for entity, record in reversed(self.created):
            names = NAMES[entity]
            self.api.run(f"mutation {{ {names.mutation('delete')}(id: {record}) {{ id }} }}")


@pytest.fixture(scope="module")
def scratch(
    backend: str,
    seeded_demo: SeededDemo,
    shared_scratch: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scratch]:
    """A seeded demo the write matrix may change: a private copy on SQLite, the shared scratch
    schema on PostgreSQL (whose seed rows it changes only to put them back)."""
    if shared_scratch is not None:
        url = shared_scratch
    else:
        copy: Path = tmp_path_factory.mktemp("permissions") / "demo.db"
        copy_sqlite(sqlite_path(seeded_demo.url), copy)
        url = sqlite_url(copy)
    with api_on(url) as api:
        made = Scratch(api)
        made.sessions = choose_sessions(made.world())
        tag = uuid.uuid4().hex[:8]
        # an employee who has left: the supervisor's check refuses to give them a lead
        made.full_create(
            "Employee",
            {"name": "Бывший менеджер", "email": f"left-{tag}@example.com", "active": False},
        )
        # a lead of the supervisor's own, for the checks it inherits from manager
        made.full_create(
            "Lead",
            {
                "name": "Заявка руководителя",
                "phone": "+7 900 100-00-00",
                "manager": made.sessions["supervisor"]["id"],
            },
        )
        try:
            yield made
        finally:
            made.cleanup()


def read_where(access: Access, entity: str, variables: Vars) -> list[Where]:
    rule = access.read(entity)
    return [bind(rule.where, variables)] if rule is not None and rule.where else []


def writer_refuses_presets(
    scratch: Scratch, caller: Caller, entity: str, op: str, data: Row, record: str | None
) -> None:
    """Through the one write path (forms, processes), a preset given as input is refused."""
    api = scratch.api
    policy = RolePolicy(
        api.eco.catalog,
        api.eco.graphql.dialect,
        caller.access,
        Session(caller.role, caller.variables),
    )
    actor = Actor(policy, caller.role)

    async def attempt() -> list[str]:
        try:
            async with api.eco.engine.begin() as conn:
                if op == "create":
                    await api.eco.graphql.writer.create(conn, entity, data, actor)
                else:
                    await api.eco.graphql.writer.update(conn, entity, record, data, actor)
        except WriteRejected as rejected:
            return [p.code for p in rejected.problems]
        return []

    before = counts(api, entity)
    assert "FORBIDDEN" in api.runner.run(attempt())
    assert counts(api, entity) == before


@pytest.mark.parametrize(("role", "entity"), CELLS)
def test_create(role: str, entity: str, scratch: Scratch) -> None:
    caller = scratch.caller(role)
    access = caller.access
    names = NAMES[entity]
    mutation = names.mutation("create")
    rule = access.create(entity)
    api = scratch.api
    if rule is None:
        before = counts(api, entity)
        unknown(caller, f"mutation {{ {mutation}(input: {{}}) {{ id }} }}", mutation, "Mutation")
        assert counts(api, entity) == before
        return
    assert isinstance(rule, CreateRule)
    writable = access.writable(entity, rule)
    input_type = names.input("CreateInput")
    assert caller.input_fields(input_type) == {camel(n) for n in writable}
    fields = SPEC.entities[entity].fields
    text = f"mutation($i: {input_type}!) {{ r: {mutation}(input: $i) {{ id __typename }} }}"

    world = scratch.world()
    options = options_for(world, entity, access, caller.variables)
    presets = bind(rule.set, caller.variables)
    check = [bind(rule.check, caller.variables)] if rule.check else []
    start = {**defaults(entity), **presets}
    row = solve(
        world,
        entity,
        start,
        writable,
        check + read_where(access, entity, caller.variables),
        options,
    )
    assert row is not None, f"nothing {role} may give passes its rules for {entity} on the seed"
    given = [n for n in writable if row.get(n) is not None]
    before = counts(api, entity)

    # fields outside the rule, presets included, are not in the input type
    full = options_for(world, entity, None, {})
    outside = [n for n, f in fields.items() if f.type != "list" and n not in writable]
    if outside:
        extra = {camel(n): next(v for v in full(n) if v is not None) for n in outside}
        undefined(
            caller,
            text,
            [camel(n) for n in outside],
            input_type,
            {"i": {**as_input(row, given), **extra}},
        )
    for name in rule.set:
        writer_refuses_presets(
            scratch, caller, entity, "create", {**{n: row[n] for n in given}, name: row[name]}, None
        )
    assert counts(api, entity) == before

    # refs to records the role may not read are refused, so a write cannot probe them
    for name in given:
        target = fields[name].to
        if fields[name].type != "ref" or target is None:
            continue
        out_of_sight = world.ids(target) - world.visible(access, target, caller.variables)
        if out_of_sight:
            bad = {**as_input(row, given), camel(name): by_id(out_of_sight)[0]}
            refused(caller, text, {"i": bad}, "REF_NOT_FOUND", f"no {target} with id")
    assert counts(api, entity) == before

    # the check: a new record that fails it is refused and rolled back
    if check:
        failing = breaking(
            world,
            entity,
            row,
            writable,
            check[0],
            read_where(access, entity, caller.variables),
            options,
            creating=True,
        )
        if failing is not None:
            shown = [n for n in writable if failing.get(n) is not None]
            refused(caller, text, {"i": as_input(failing, shown)}, "FORBIDDEN", "check")
            assert counts(api, entity) == before

    # the allowed case: accepted, presets applied
    made = caller.data(text, {"i": as_input(row, given)})["r"]
    scratch.created.append((entity, made["id"]))
    assert made["__typename"] == (entity if access.readable(entity) else "MutationResult")
    stored = raw_row(api, entity, made["id"])
    assert stored is not None
    for name in given:
        assert same(fields[name], stored[name], row[name]), (name, stored[name], row[name])
    for name, value in presets.items():
        assert same(fields[name], stored[name], value), (name, stored[name], value)
    assert counts(api, entity) == (before[0] + 1, before[1] + 1)


@pytest.mark.parametrize(("role", "entity"), CELLS)
def test_update(role: str, entity: str, scratch: Scratch) -> None:
    caller = scratch.caller(role)
    access = caller.access
    names = NAMES[entity]
    mutation = names.mutation("update")
    rule = access.update(entity)
    api = scratch.api
    writable = access.writable(entity, rule) if rule is not None else []
    if rule is None or not writable:
        unknown(
            caller,
            f'mutation {{ {mutation}(id: "1", input: {{}}) {{ id }} }}',
            mutation,
            "Mutation",
        )
        return
    assert isinstance(rule, UpdateRule)
    input_type = names.input("UpdateInput")
    assert caller.input_fields(input_type) == {camel(n) for n in writable}
    fields = SPEC.entities[entity].fields
    text = f"mutation($id: ID!, $i: {input_type}!) {{ r: {mutation}(id: $id, input: $i) {{ id }} }}"
    variables = caller.variables
    where = [bind(rule.where, variables)] if rule.where else []
    check = [bind(rule.check, variables)] if rule.check else []
    visible_after = read_where(access, entity, variables)

    # a record inside the role's where: a new one, or (when the where names an id) its own
    record = scratch.fresh(entity, where + visible_after)
    world = scratch.world()
    restore: Row | None = None
    if record is None:
        inside = [
            i
            for i, r in world.rows[entity].items()
            if world.passes(entity, rule.where, r, variables)
            and all(world.holds(entity, w, r) for w in visible_after)
        ]
        assert inside, f"no {entity} {role} may update"
        record = by_id(set(inside))[0]
        restore = world.rows[entity][record]
    current = world.rows[entity][record]
    options = options_for(world, entity, access, variables)

    # records outside the where answer NOT_FOUND, exactly like records that do not exist
    outside = [
        i
        for i, r in world.rows[entity].items()
        if not world.passes(entity, rule.where, r, variables)
    ]
    if rule.where:
        assert outside, f"the seed puts no {entity} outside {role}'s update where"
    change = solve(world, entity, current, writable, [], options, change=True)
    assert change is not None
    payload = {camel(n): change[n] for n in writable if not same(fields[n], current[n], change[n])}
    assert payload, f"{role} can change nothing of {entity}"
    for other in [*spread(set(outside), 3), str(max(int(i) for i in world.ids(entity)) + 1000)]:
        before = raw_row(api, entity, other)
        entries = counts(api, entity)
        error = refused(caller, text, {"id": other, "i": payload}, "NOT_FOUND")
        assert error["message"] == f"no {entity} with id {other}"
        assert raw_row(api, entity, other) == before
        assert counts(api, entity) == entries

    # fields outside the rule are not in the input type
    full = options_for(world, entity, None, {})
    others = [n for n, f in fields.items() if f.type != "list" and n not in writable]
    if others:
        extra = {camel(n): next(v for v in full(n) if v is not None) for n in others}
        undefined(
            caller,
            text,
            [camel(n) for n in others],
            input_type,
            {"id": record, "i": {**payload, **extra}},
        )
    for name in rule.set:
        writer_refuses_presets(scratch, caller, entity, "update", {name: current[name]}, record)

    # the check: a change that fails it is refused, nothing changes
    if check:
        failing = breaking(
            world, entity, current, writable, check[0], visible_after, options, creating=False
        )
        if failing is not None:
            before = raw_row(api, entity, record)
            diff = {
                camel(n): failing[n]
                for n in writable
                if not same(fields[n], current[n], failing[n])
            }
            refused(caller, text, {"id": record, "i": diff}, "FORBIDDEN", "check")
            assert raw_row(api, entity, record) == before

    # the allowed case: every field the role may write, changed at once
    row = solve(world, entity, current, writable, check + visible_after, options, change=True)
    assert row is not None, f"no change of {entity} passes {role}'s rules"
    payload = {camel(n): row[n] for n in writable if not same(fields[n], current[n], row[n])}
    entries = counts(api, entity)
    assert caller.data(text, {"id": record, "i": payload})["r"] == {"id": record}
    stored = raw_row(api, entity, record)
    assert stored is not None
    for name in writable:
        assert same(fields[name], stored[name], row[name]), (name, stored[name], row[name])
    for name, value in bind(rule.set, variables).items():
        assert same(fields[name], stored[name], value)
    assert counts(api, entity) == (entries[0], entries[1] + 1)
    if restore is not None:
        scratch.full_update(entity, record, {camel(n): restore[n] for n in writable})

    # upsert cannot reach a record outside the where through a unique field either
    if names.mutation("upsert") in caller.mutations() and outside:
        upsert_outside(scratch, caller, entity, world, set(outside))


def upsert_outside(
    scratch: Scratch, caller: Caller, entity: str, world: World, outside: set[str]
) -> None:
    access = caller.access
    names = NAMES[entity]
    rule = access.create(entity)
    assert isinstance(rule, CreateRule)
    writable = access.writable(entity, rule)
    fields = SPEC.entities[entity].fields
    uniques = [n for n in writable if fields[n].unique]
    options = options_for(world, entity, access, caller.variables)
    start = {**defaults(entity), **bind(rule.set, caller.variables)}
    row = solve(world, entity, start, writable, [], options)
    assert row is not None
    for name in uniques:
        taken = [i for i in by_id(outside) if world.rows[entity][i][name] is not None]
        if not taken:
            continue
        other = taken[0]
        data = {**row, name: world.rows[entity][other][name]}
        given = [n for n in writable if data.get(n) is not None]
        before = raw_row(scratch.api, entity, other)
        error = refused(
            caller,
            f"mutation($i: {names.input('CreateInput')}!) {{ {names.mutation('upsert')}(on: {camel(name)}, input: $i) {{ id }} }}",
            {"i": as_input(data, given)},
            "NOT_FOUND",
        )
        assert error["message"] == f"no {entity} with id {other}"
        assert raw_row(scratch.api, entity, other) == before


@pytest.mark.parametrize(("role", "entity"), CELLS)
def test_delete(role: str, entity: str, scratch: Scratch) -> None:
    caller = scratch.caller(role)
    access = caller.access
    names = NAMES[entity]
    mutation = names.mutation("delete")
    rule = access.delete(entity)
    api = scratch.api
    text = f"mutation($id: ID!) {{ r: {mutation}(id: $id) {{ id }} }}"
    if rule is None:
        before = counts(api, entity)
        unknown(caller, text, mutation, "Mutation", {"id": "1"})
        assert counts(api, entity) == before
        return
    variables = caller.variables
    world = scratch.world()
    outside = [
        i
        for i, r in world.rows[entity].items()
        if not world.passes(entity, rule.where, r, variables)
    ]
    if rule.where:
        assert outside, f"the seed puts no {entity} outside {role}'s delete where"
    for other in [*spread(set(outside), 3), str(max(int(i) for i in world.ids(entity)) + 1000)]:
        before = counts(api, entity)
        error = refused(caller, text, {"id": other}, "NOT_FOUND")
        assert error["message"] == f"no {entity} with id {other}"
        assert counts(api, entity) == before
    where = [bind(rule.where, variables)] if rule.where else []
    record = scratch.fresh(entity, where + read_where(access, entity, variables))
    assert record is not None, f"cannot make a {entity} {role} may delete"
    before = counts(api, entity)
    assert caller.data(text, {"id": record})["r"] == {"id": record}
    assert raw_row(api, entity, record) is None
    assert counts(api, entity) == (before[0] - 1, before[1] + 1)


def test_a_partner_creates_leads_only_for_itself(scratch: Scratch) -> None:
    world = scratch.world()
    partners = by_id(
        {r["partner"] for r in world.rows["Lead"].values() if r["partner"] is not None}
    )
    mine, theirs = (
        Caller(scratch.api, "partner", {"partner_id": partners[0]}),
        Caller(scratch.api, "partner", {"partner_id": partners[1]}),
    )
    made = mine.data(
        'mutation { createLead(input: {name: "Клиент агентства", phone: "+7 900 200-00-00"}) { id name status } }'
    )["createLead"]
    scratch.created.append(("Lead", made["id"]))
    stored = raw_row(scratch.api, "Lead", made["id"])
    assert stored is not None
    assert (stored["partner"], stored["source"]) == (partners[0], "partner")
    assert made["id"] in {r["id"] for r in mine.data("{ leads { id } }")["leads"]}
    assert made["id"] not in {r["id"] for r in theirs.data("{ leads { id } }")["leads"]}
    assert theirs.data(f'{{ lead(id: "{made["id"]}") {{ id }} }}') == {"lead": None}
    undefined(
        mine,
        "mutation($i: LeadCreateInput!) { createLead(input: $i) { id } }",
        "partner",
        "LeadCreateInput",
        {"i": {"name": "x", "phone": "+7 900 200-00-01", "partner": partners[1]}},
    )


@pytest.mark.parametrize("role", list(SPEC.roles))
def test_a_session_without_its_variables_cannot_write_with_presets(
    role: str, scratch: Scratch
) -> None:
    """A preset naming a variable the session lacks refuses the write; it never stays empty."""
    caller = Caller(scratch.api, role, {})
    access = caller.access
    for entity in SPEC.entities:
        rule = access.create(entity)
        if rule is None or not any(
            isinstance(v, str) and VARIABLE.match(v) for v in rule.set.values()
        ):
            continue
        names = NAMES[entity]
        world = scratch.world()
        row = solve(
            world,
            entity,
            defaults(entity),
            access.writable(entity, rule),
            [],
            options_for(world, entity, None, {}),
        )
        assert row is not None
        given = [n for n in access.writable(entity, rule) if row.get(n) is not None]
        before = counts(scratch.api, entity)
        error = refused(
            caller,
            f"mutation($i: {names.input('CreateInput')}!) {{ {names.mutation('create')}(input: $i) {{ id }} }}",
            {"i": as_input(row, given)},
            "FORBIDDEN",
        )
        assert error["message"].startswith("this session has no $user.")
        assert counts(scratch.api, entity) == before
