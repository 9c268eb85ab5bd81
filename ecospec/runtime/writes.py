"""The one write path: validate, then write in the caller's transaction. GraphQL, forms, seeds and
the capabilities' own writes all come through here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from ecospec.generator.fieldtypes import value_problem
from ecospec.generator.slugs import slugify
from ecospec.generator.tables import DEFAULT_LENGTH, always_set
from ecospec.runtime.bus import publish
from ecospec.runtime.catalog import Catalog, EntityInfo, FieldInfo
from ecospec.runtime.permissions import Forbidden
from ecospec.runtime.types import SYSTEM_ACTOR, Actor, FullAccess, Policy, Subscriber, to_id


@dataclass(frozen=True)
class Problem:
    """What is wrong with one input value; `field` is the spec's field name."""

    field: str | None
    message: str
    code: str


class WriteRejected(Exception):
    """A write that was refused; nothing was written. `entity` names the entity whose fields the
    problems name, when it is not the one of the mutation asked."""

    def __init__(self, problems: list[Problem], entity: str | None = None) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.entity = entity


SHORT_TEXT = ("string", "slug", "email", "phone", "url")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _plain(value: Any) -> Any:
    """A value as the audit log keeps it (JSON)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


class Writer:
    """Writes records: checks the input and the actor's grants, writes the row and leaves the
    write's event in the outbox of every subscriber that wants it, all in the caller's
    transaction."""

    def __init__(self, catalog: Catalog, subscribers: Sequence[Subscriber] = ()) -> None:
        self.catalog = catalog
        self.audience = tuple(subscribers)

    def subscribers(self, entity: str, operation: str) -> list[str]:
        """The subscribers that hear of a write: each decides for itself."""
        return [s.name for s in self.audience if s.wants(entity, operation)]

    def entity(self, name: str) -> EntityInfo:
        return self.catalog.entities[name]

    # validation -------------------------------------------------------------------------------

    async def check(
        self,
        conn: AsyncConnection,
        entity: EntityInfo,
        data: dict[str, Any],
        *,
        creating: bool,
        record_id: int | None = None,
        actor: Actor | None = None,
        trusted: frozenset[str] = frozenset(),
    ) -> list[Problem]:
        """Every problem with the input. Refs must point at records the actor may read, except
        for the role's own presets."""
        problems: list[Problem] = []
        policy = (actor or SYSTEM_ACTOR).policy
        for name, value in data.items():
            info = entity.by_name.get(name)
            if info is None or info.spec is None or info.kind not in ("scalar", "ref"):
                problems.append(
                    Problem(name, f"{entity.name} has no writable field '{name}'", "UNKNOWN_FIELD")
                )
                continue
            visible = policy if name not in trusted else FullAccess()
            problem = await self.check_value(conn, entity, info, value, record_id, visible)
            if problem is not None:
                problems.append(problem)
        for name, info in entity.by_name.items():
            f = info.spec
            if f is None or not f.required or info.kind not in ("scalar", "ref"):
                continue
            derived = f.type == "slug" and f.from_ is not None
            if creating and data.get(name) is None and f.default is None and not derived:
                problems.append(Problem(name, f"{name} is required", "REQUIRED"))
            elif not creating and name in data and data[name] is None:
                problems.append(Problem(name, f"{name} is required", "REQUIRED"))
        for name, value in data.items():
            info = entity.by_name.get(name)
            f = info.spec if info is not None else None
            if (
                value is None
                and f is not None
                and not f.required
                and always_set(f)
                and not creating
            ):
                problems.append(Problem(name, f"{name} cannot be emptied", "REQUIRED"))
        return problems

    async def check_value(
        self,
        conn: AsyncConnection,
        entity: EntityInfo,
        info: FieldInfo,
        value: Any,
        record_id: int | None,
        policy: Policy,
    ) -> Problem | None:
        f = info.spec
        assert f is not None
        name = info.name
        if value is None:
            return None
        if info.kind == "ref":
            target = self.entity(info.target or "")
            ref = to_id(value)
            conditions = [target.table.c.id == ref]
            visible = policy.row_filter(target.name, target.table)
            if visible is not None:
                conditions.append(visible)
            found = ref is not None and await conn.scalar(
                select(func.count()).select_from(target.table).where(*conditions)
            )
            if not found:
                return Problem(name, f"no {target.name} with id {value}", "REF_NOT_FOUND")
            return None
        if f.type == "enum" and value not in (f.values or []):
            return Problem(
                name, f"'{value}' is not one of: {', '.join(f.values or [])}", "NOT_IN_ENUM"
            )
        if f.type in ("decimal", "money", "int"):
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                return Problem(name, f"'{value}' is not a number", "INVALID_FORMAT")
            problem = value_problem(f.type, value, None, f.decimal_places)
            if problem:
                return Problem(name, problem, "INVALID_FORMAT")
            if f.min is not None and number < Decimal(str(f.min)):
                return Problem(name, f"{name} must be at least {f.min}", "OUT_OF_RANGE")
            if f.max is not None and number > Decimal(str(f.max)):
                return Problem(name, f"{name} must be at most {f.max}", "OUT_OF_RANGE")
        elif f.type != "json":
            problem = value_problem(f.type, value, f.values)
            if problem:
                return Problem(name, problem, "INVALID_FORMAT")
        longest = f.max_length or (DEFAULT_LENGTH if f.type in SHORT_TEXT else None)
        if longest is not None and isinstance(value, str) and len(value) > longest:
            return Problem(name, f"{name} is longer than {longest} characters", "TOO_LONG")
        if f.unique:
            column = entity.col(info)
            query = select(func.count()).select_from(entity.table).where(column == value)
            if record_id is not None:
                query = query.where(entity.table.c.id != record_id)
            if await conn.scalar(query):
                return Problem(
                    name, f"{name} '{value}' is taken by another {entity.name}", "UNIQUE_TAKEN"
                )
        return None

    # writing ----------------------------------------------------------------------------------

    def row(self, entity: EntityInfo, data: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in data.items():
            info = entity.by_name[name]
            values[info.column] = (
                to_id(value) if info.kind == "ref" and value is not None else value
            )
        return values

    async def free_slug(
        self, conn: AsyncConnection, entity: EntityInfo, info: FieldInfo, base: str
    ) -> str:
        column = entity.col(info)
        base = base or entity.name.lower()
        taken = set(
            (
                await conn.execute(select(column).where(column.startswith(base, autoescape=True)))
            ).scalars()
        )
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    async def derive(self, conn: AsyncConnection, entity: EntityInfo, data: dict[str, Any]) -> None:
        """Fill slugs made from another field when they were left empty."""
        for name, info in entity.by_name.items():
            f = info.spec
            if f is None or f.type != "slug" or f.from_ is None or data.get(name):
                continue
            source = data.get(f.from_)
            if isinstance(source, str) and source:
                longest = (f.max_length or DEFAULT_LENGTH) - 4  # room for a "-2" suffix
                slug = slugify(source)[:longest].rstrip("-")
                data[name] = await self.free_slug(conn, entity, info, slug) if f.unique else slug

    def guard(
        self, entity: EntityInfo, data: dict[str, Any], actor: Actor, op: str
    ) -> tuple[dict[str, Any], frozenset[str]]:
        """The input limited to what the role may write, with its presets applied."""
        allowed = actor.policy.writable(entity.name, op)
        if allowed is not None:
            extra = [name for name in data if name not in allowed]
            if extra:
                raise WriteRejected(
                    [Problem(name, f"this role may not set {name}", "FORBIDDEN") for name in extra]
                )
        try:
            presets = actor.policy.presets(entity.name, op)
        except Forbidden as exc:
            raise WriteRejected([Problem(None, str(exc), "FORBIDDEN")]) from None
        return {**data, **presets}, frozenset(presets)

    async def passes(
        self,
        conn: AsyncConnection,
        entity: EntityInfo,
        record_id: int,
        condition: ColumnElement[bool] | None,
    ) -> bool:
        if condition is None:
            return True
        query = (
            select(func.count())
            .select_from(entity.table)
            .where(entity.table.c.id == record_id, condition)
        )
        return bool(await conn.scalar(query))

    async def find(
        self, conn: AsyncConnection, entity: EntityInfo, record_id: Any, actor: Actor, op: str
    ) -> int:
        """The id of a record the actor may `op`; anything else is "not found"."""
        rid = to_id(record_id)
        if rid is not None:
            condition = actor.policy.write_filter(entity.name, op, entity.table)
            conditions = [entity.table.c.id == rid] + ([condition] if condition is not None else [])
            found = await conn.scalar(
                select(func.count()).select_from(entity.table).where(*conditions)
            )
            if found:
                return rid
        raise WriteRejected([Problem(None, f"no {entity.name} with id {record_id}", "NOT_FOUND")])

    async def current(self, conn: AsyncConnection, entity: EntityInfo, rid: int) -> dict[str, Any]:
        row = (
            (await conn.execute(select(entity.table).where(entity.table.c.id == rid)))
            .mappings()
            .one()
        )
        return {
            info.name: row[info.column]
            for info in entity.by_name.values()
            if info.kind in ("scalar", "ref")
        }

    async def record(
        self,
        conn: AsyncConnection,
        entity: EntityInfo,
        rid: int,
        operation: str,
        changes: dict[str, list[Any]],
        actor: Actor,
    ) -> None:
        """The write's event: the audit log entry, and the outbox of every subscriber."""
        values = {
            "at": now(),
            "role": actor.role,
            "user_id": actor.user_id,
            "key_id": actor.key_id,
            "entity": entity.name,
            "record_id": rid,
            "operation": operation,
            "changes": {k: [_plain(old), _plain(new)] for k, (old, new) in changes.items()},
        }
        await publish(conn, values, self.subscribers(entity.name, operation))

    async def create(
        self,
        conn: AsyncConnection,
        entity_name: str,
        data: dict[str, Any],
        actor: Actor = SYSTEM_ACTOR,
    ) -> int:
        entity = self.entity(entity_name)
        data, trusted = self.guard(entity, data, actor, "create")
        # an explicit null on a field with a default means "the default"
        data = {
            k: v
            for k, v in data.items()
            if v is not None
            or (entity.by_name.get(k) is None or entity.by_name[k].spec is None)
            or entity.by_name[k].spec.default is None  # type: ignore[union-attr]
        }
        await self.derive(conn, entity, data)
        problems = await self.check(conn, entity, data, creating=True, actor=actor, trusted=trusted)
        if problems:
            raise WriteRejected(problems)
        moment = now()
        values = {**self.row(entity, data), "created_at": moment, "updated_at": moment}
        result = await conn.execute(
            entity.table.insert().values(values).returning(entity.table.c.id)
        )
        rid = int(result.scalar_one())
        if not await self.passes(
            conn, entity, rid, actor.policy.check_filter(entity_name, "create", entity.table)
        ):
            raise WriteRejected(
                [
                    Problem(
                        None, f"the new {entity_name} does not pass this role's check", "FORBIDDEN"
                    )
                ]
            )
        new = await self.current(conn, entity, rid)
        await self.record(
            conn,
            entity,
            rid,
            "create",
            {k: [None, v] for k, v in new.items() if v is not None},
            actor,
        )
        return rid

    async def update(
        self,
        conn: AsyncConnection,
        entity_name: str,
        record_id: Any,
        data: dict[str, Any],
        actor: Actor = SYSTEM_ACTOR,
    ) -> int:
        entity = self.entity(entity_name)
        rid = await self.find(conn, entity, record_id, actor, "update")
        data, trusted = self.guard(entity, data, actor, "update")
        problems = await self.check(
            conn, entity, data, creating=False, record_id=rid, actor=actor, trusted=trusted
        )
        if problems:
            raise WriteRejected(problems)
        old = await self.current(conn, entity, rid)
        values = {**self.row(entity, data), "updated_at": now()}
        await conn.execute(entity.table.update().where(entity.table.c.id == rid).values(values))
        if not await self.passes(
            conn, entity, rid, actor.policy.check_filter(entity_name, "update", entity.table)
        ):
            raise WriteRejected(
                [
                    Problem(
                        None,
                        f"the changed {entity_name} would not pass this role's check",
                        "FORBIDDEN",
                    )
                ]
            )
        new = await self.current(conn, entity, rid)
        changes = {k: [old[k], new[k]] for k in new if old.get(k) != new[k]}
        await self.record(conn, entity, rid, "update", changes, actor)
        return rid

    async def upsert(
        self,
        conn: AsyncConnection,
        entity_name: str,
        on: str,
        data: dict[str, Any],
        actor: Actor = SYSTEM_ACTOR,
    ) -> int:
        entity = self.entity(entity_name)
        info = entity.by_name[on]
        value = data.get(on)
        spec_field = info.spec
        if (
            value is None
            and spec_field is not None
            and spec_field.type == "slug"
            and spec_field.from_
        ):
            source = data.get(spec_field.from_)
            if isinstance(source, str) and source:
                value = data[on] = slugify(source)
        if value is None:
            raise WriteRejected([Problem(on, f"{on} is required to match on", "REQUIRED")])
        existing = await conn.scalar(select(entity.table.c.id).where(entity.col(info) == value))
        if existing is None:
            return await self.create(conn, entity_name, data, actor)
        return await self.update(conn, entity_name, existing, data, actor)

    async def delete(
        self, conn: AsyncConnection, entity_name: str, record_id: Any, actor: Actor = SYSTEM_ACTOR
    ) -> int:
        entity = self.entity(entity_name)
        rid = await self.find(conn, entity, record_id, actor, "delete")
        problems: list[Problem] = []
        for other in self.catalog.entities.values():
            for info in other.by_name.values():
                f = info.spec
                if info.kind != "ref" or info.target != entity_name or f is None:
                    continue
                if (f.on_delete or ("restrict" if f.required else "set_null")) != "restrict":
                    continue
                count = await conn.scalar(
                    select(func.count()).select_from(other.table).where(other.col(info) == rid)
                )
                if count:
                    problems.append(
                        Problem(
                            None,
                            f"{count} {other.name} {'record refers' if count == 1 else 'records refer'} "
                            f"to this {entity_name} through {info.name}",
                            "IN_USE",
                        )
                    )
        if problems:
            raise WriteRejected(problems)
        old = await self.current(conn, entity, rid)
        await conn.execute(entity.table.delete().where(entity.table.c.id == rid))
        await self.record(
            conn,
            entity,
            rid,
            "delete",
            {k: [v, None] for k, v in old.items() if v is not None},
            actor,
        )
        return rid
