"""`ecospec seed`: load spec/seed through the write path, idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecospec.generator.errors import EcospecError
from ecospec.generator.model import unique_key
from ecospec.generator.slugs import slugify
from ecospec.runtime.catalog import Catalog
from ecospec.runtime.writes import Writer, WriteRejected


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], entity: str) -> None:
        bucket[entity] = bucket.get(entity, 0) + 1


def seed_order(catalog: Catalog) -> list[str]:
    """Entities with seed records, each after the entities its refs point to."""
    spec = catalog.spec
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for f in spec.entities[name].fields.values():
            if f.type == "ref" and f.to and f.to in spec.seed and f.to != name:
                visit(f.to)
        visiting.discard(name)
        order.append(name)

    for name in sorted(spec.seed):
        if name in spec.entities:
            visit(name)
    return order


async def load_seed(engine: AsyncEngine, writer: Writer) -> SeedReport:
    """The spec's seed records written through `writer` (whose subscribers hear of them)."""
    catalog = writer.catalog
    report = SeedReport()
    async with engine.begin() as conn:
        for name in seed_order(catalog):
            for i, record in enumerate(catalog.spec.seed[name]):
                try:
                    await _one(conn, writer, catalog, name, record, report)
                except WriteRejected as rejected:
                    where = catalog.spec.entities[name].location
                    raise EcospecError(f"seed.{name}[{i}]: {rejected} ({where})") from None
    return report


async def _one(
    conn: AsyncConnection,
    writer: Writer,
    catalog: Catalog,
    name: str,
    record: dict[str, Any],
    report: SeedReport,
) -> None:
    entity_spec = catalog.spec.entities[name]
    entity = catalog.entities[name]
    data: dict[str, Any] = {}
    for fname, value in record.items():
        f = entity_spec.fields[fname]
        if f.type == "ref" and f.to and value is not None:
            data[fname] = await _resolve(conn, catalog, f.to, value)
        else:
            data[fname] = value
    key = unique_key(entity_spec)
    existing: int | None = None
    if key is not None:
        f = entity_spec.fields[key]
        value = data.get(key)
        if value is None and f.type == "slug" and f.from_ and isinstance(data.get(f.from_), str):
            value = slugify(data[f.from_])
            data[key] = value
        existing = await conn.scalar(
            select(entity.table.c.id).where(entity.col(entity.by_name[key]) == value)
        )
    else:
        conditions = [entity.col(entity.by_name[k]) == v for k, v in data.items() if v is not None]
        existing = await conn.scalar(select(entity.table.c.id).where(and_(*conditions)).limit(1))
        if existing is not None:
            report.count(report.unchanged, name)
            return
    if existing is None:
        await writer.create(conn, name, data)
        report.count(report.created, name)
        return
    current = (
        (await conn.execute(select(entity.table).where(entity.table.c.id == existing)))
        .mappings()
        .one()
    )
    changed = {k: v for k, v in data.items() if _differs(current[entity.by_name[k].column], v)}
    if changed:
        await writer.update(conn, name, existing, changed)
        report.count(report.updated, name)
    else:
        report.count(report.unchanged, name)


def _differs(stored: Any, given: Any) -> bool:
    if stored is None or given is None:
        return stored is not given
    if isinstance(stored, bool) or isinstance(given, bool):
        return bool(stored) != bool(given)
    try:
        return Decimal(str(stored)) != Decimal(str(given))
    except Exception:
        return str(stored) != str(given)


async def _resolve(conn: AsyncConnection, catalog: Catalog, target: str, value: Any) -> int:
    entity_spec = catalog.spec.entities[target]
    key = unique_key(entity_spec)
    entity = catalog.entities[target]
    if key is None:
        raise EcospecError(f"seed refs to {target} need a unique field to match on")
    found = await conn.scalar(
        select(entity.table.c.id).where(entity.col(entity.by_name[key]) == value)
    )
    if found is None:
        raise EcospecError(f"seed: no {target} with {key} '{value}'")
    return int(found)
