"""Checks of the queries pages read (a landing's for_each, a block's query): their entity, filter
and sort keys, and whether the anonymous role that builds the pages may read them."""

from __future__ import annotations

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.checks.filters import check_where
from ecospec.generator.errors import KeyPath
from ecospec.generator.model import Entity, EntityGrant, EntityQuery, field_type_of


def check_query(
    ctx: CheckContext, query: EntityQuery, path: KeyPath, *, templates: bool
) -> Entity | None:
    """The query's entity when it is known (and so its pages can be checked further)."""
    if not ctx.known("entities", query.entity):
        ctx.unknown((*path, "entity"), "entity", query.entity, ctx.spec.entities)
        return None
    entity = ctx.spec.entities.get(query.entity)
    check_where(ctx, query.entity, query.where, (*path, "where"), templates=templates)
    if entity is not None:
        for i, key in enumerate(query.order_by):
            fname = key.removeprefix("-")
            ftype = field_type_of(entity, fname)
            if ftype is None and not ctx.has_field(query.entity, fname):
                ctx.unknown(
                    (*path, "order_by", i), f"field of {query.entity}", fname, entity.fields
                )
            elif ftype in ("list", "json"):
                ctx.error((*path, "order_by", i), f"cannot sort by {ftype} field '{fname}'")
    return entity


def anonymous_reads(ctx: CheckContext, ename: str, path: KeyPath) -> bool:
    """Pages are built as the anonymous role: it must be able to read what a page shows."""
    anonymous = ctx.spec.auth.anonymous_role
    if anonymous not in ctx.spec.roles or ename not in ctx.spec.entities:
        return True
    if ctx.spec.grants(anonymous).get(ename, EntityGrant()).read is False:
        ctx.error(
            path, f"pages are built as the anonymous role '{anonymous}', which may not read {ename}"
        )
        return False
    return True
