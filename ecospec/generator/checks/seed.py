"""Checks of the seed records: every value fits its field, refs name a seeded record by its unique
key, unique values (slugs made from a name included) are not taken twice, required fields are
there."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.checks.entities import check_bounds
from ecospec.generator.errors import KeyPath, did_you_mean
from ecospec.generator.fieldtypes import describe_value, value_problem
from ecospec.generator.model import SYSTEM_FIELDS, Entity, unique_key
from ecospec.generator.slugs import slugify


@dataclass
class _Records:
    """The seed records of one entity under check."""

    ename: str
    entity: Entity
    keys: dict[str, set[str]]  # each entity's seeded unique keys: what a seed ref may name
    taken: dict[tuple[str, str], int] = dataclasses.field(
        default_factory=dict
    )  # (field, value) -> record


def check_seed(ctx: CheckContext) -> None:
    keys = _seeded_keys(ctx)
    for ename, records in ctx.spec.seed.items():
        path: KeyPath = ("seed", ename)
        if not ctx.known("entities", ename):
            ctx.error(
                path,
                f"unknown entity '{ename}'{did_you_mean(ename, ctx.spec.entities)}",
                at_key=True,
            )
            continue
        entity = ctx.spec.entities.get(ename)
        if entity is None:
            continue
        these = _Records(ename, entity, keys)
        for i, record in enumerate(records):
            _record(ctx, these, record, (*path, i))


def _seeded_keys(ctx: CheckContext) -> dict[str, set[str]]:
    """The unique key of every seed record, by entity (a slug made from its source included)."""
    keys: dict[str, set[str]] = {}
    for ename, records in ctx.spec.seed.items():
        entity = ctx.spec.entities.get(ename)
        key = unique_key(entity) if entity else None
        if entity is None or key is None:
            continue
        field = entity.fields[key]
        found = set()
        for record in records:
            value = record.get(key) if isinstance(record, dict) else None
            if value is None and field.type == "slug" and field.from_ and isinstance(record, dict):
                source = record.get(field.from_)
                value = slugify(source) if isinstance(source, str) else None
            if value is not None:
                found.add(str(value))
        keys[ename] = found
    return keys


def _record(ctx: CheckContext, these: _Records, record: Any, path: KeyPath) -> None:
    if not isinstance(record, dict):
        ctx.error(path, f"a seed record is a mapping of fields, got {describe_value(record)}")
        return
    for fname, value in record.items():
        _value(ctx, these, fname, value, path)
    _made_and_missing(ctx, these, record, path)


def _value(ctx: CheckContext, these: _Records, fname: str, value: Any, path: KeyPath) -> None:
    ename, entity = these.ename, these.entity
    at = (*path, fname)
    field = entity.fields.get(fname)
    if fname in SYSTEM_FIELDS:
        ctx.error(at, f"'{fname}' is set by Ecospec, not by seed records", at_key=True)
        return
    if field is None and ctx.has_field(ename, fname):
        return
    if field is None or field.type == "list":
        ctx.error(
            at, f"{ename} has no field '{fname}'{did_you_mean(fname, entity.fields)}", at_key=True
        )
        return
    if field.type == "ref" and field.to:
        _ref(ctx, these, field.to, value, at)
        return
    if field.type == "json":
        return
    problem = value_problem(field.type, value, field.values, field.decimal_places)
    if problem:
        ctx.error(at, problem)
        return
    if field.type in ("int", "decimal", "money"):
        check_bounds(ctx, at, field, value)
    if field.max_length is not None and isinstance(value, str) and len(value) > field.max_length:
        ctx.error(at, f"longer than {field.max_length} characters")
    if field.unique and value is not None:
        slot = (fname, str(value))
        if slot in these.taken:
            ctx.error(
                at, f"{fname} '{value}' is taken by seed record {these.taken[slot]} of {ename}"
            )
        these.taken[slot] = int(path[-1])


def _ref(ctx: CheckContext, these: _Records, to: str, value: Any, at: KeyPath) -> None:
    target = ctx.spec.entities.get(to)
    tkey = unique_key(target) if target else None
    if target is not None and tkey is None:
        ctx.error(at, f"seed refs match {to} on a unique field, and it has none")
    elif tkey is not None and value is not None and str(value) not in these.keys.get(to, set()):
        ctx.error(at, f"no {to} seed record has {tkey} '{value}'")


def _made_and_missing(
    ctx: CheckContext, these: _Records, record: dict[str, Any], path: KeyPath
) -> None:
    """Slugs the record leaves to be made from their source, and required fields it leaves out."""
    for fname, field in these.entity.fields.items():
        derived = field.type == "slug" and field.from_ is not None
        source = record.get(field.from_ or "")
        if derived and field.unique and record.get(fname) is None and isinstance(source, str):
            slot = (fname, slugify(source))
            if slot in these.taken:
                ctx.error(
                    path,
                    f"{fname} '{slot[1]}' (made from {field.from_}) is taken by seed record "
                    f"{these.taken[slot]} of {these.ename}",
                )
            these.taken[slot] = int(path[-1])
        if field.required and field.default is None and not derived and record.get(fname) is None:
            ctx.error(path, f"required field '{fname}' of {these.ename} is missing")
