"""Checks of the entities and their fields: names, options that fit the type, refs and lists,
slugs, defaults and renames."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.errors import KeyPath
from ecospec.generator.fieldtypes import FIELD_TYPES, value_problem
from ecospec.generator.model import ENTITY_RE, NAME_RE, SYSTEM_FIELDS, Entity, FieldSpec

ENUM_VALUE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BOUNDED = [t.name for t in FIELD_TYPES.values() if t.bounds]  # min and max apply
LENGTHENED = [t.name for t in FIELD_TYPES.values() if t.length]  # max_length applies


def check_entities(ctx: CheckContext) -> None:
    for name, entity in ctx.spec.entities.items():
        _entity(ctx, name, entity)


def _entity(ctx: CheckContext, name: str, entity: Entity) -> None:
    path: KeyPath = ("entities", name)
    if not ENTITY_RE.match(name):
        ctx.error(
            path,
            f"entity names are capitalised latin words, like 'Apartment', not '{name}'",
            at_key=True,
        )
    lost_fields = any(d[:2] == path and len(d) == 4 for d in ctx.dropped)
    if not entity.fields and not lost_fields:
        ctx.error((*path, "fields"), "an entity needs at least one field")
    if entity.display is not None and not ctx.has_field(name, entity.display):
        ctx.unknown((*path, "display"), "field", entity.display, entity.fields)
    if entity.renamed_from is not None and entity.renamed_from in ctx.spec.entities:
        ctx.error(
            (*path, "renamed_from"),
            f"'{entity.renamed_from}' is still an entity of its own; a rename needs the old name gone",
        )
    for fname, field in entity.fields.items():
        _field(ctx, name, entity, fname, field, (*path, "fields", fname))


def _field(
    ctx: CheckContext, ename: str, entity: Entity, name: str, f: FieldSpec, path: KeyPath
) -> None:
    if not NAME_RE.match(name):
        ctx.error(
            path, f"field names are lowercase latin with underscores, not '{name}'", at_key=True
        )
    if name in SYSTEM_FIELDS:
        ctx.error(
            path, f"'{name}' is kept by Ecospec for every entity; choose another name", at_key=True
        )
    _options_fit_the_type(ctx, f, path)
    if f.type == "enum":
        _enum(ctx, f, path)
    if f.type == "ref":
        _ref(ctx, f, path)
    if f.type == "list":
        _list(ctx, ename, f, path)
    if f.type == "slug" and f.from_ is not None:
        _slug(ctx, ename, entity, f.from_, path)
    if (f.unique and not FIELD_TYPES[f.type].scalar) or (f.unique and f.type == "json"):
        ctx.error((*path, "unique"), f"a {f.type} field cannot be unique")
    if f.required and f.type == "list":
        ctx.error((*path, "required"), "a list field cannot be required")
    if f.default is not None:
        _default(ctx, f, path)
    if f.renamed_from is not None:
        _renamed(ctx, ename, entity, f.renamed_from, path)


def _options_fit_the_type(ctx: CheckContext, f: FieldSpec, path: KeyPath) -> None:
    def only(option: str, allowed: Iterable[str], present: bool) -> None:
        if present and f.type not in allowed:
            kinds = " and ".join(allowed)
            ctx.error(
                (*path, option), f"'{option}' applies to {kinds} fields, not {f.type}", at_key=True
            )

    only("values", ["enum"], f.values is not None)
    only("to", ["ref"], f.to is not None)
    only("on_delete", ["ref"], f.on_delete is not None)
    only("of", ["list"], f.of is not None)
    only("via", ["list"], f.via is not None)
    only("from", ["slug"], f.from_ is not None)
    only("min", BOUNDED, f.min is not None)
    only("max", BOUNDED, f.max is not None)
    only("max_length", LENGTHENED, f.max_length is not None)
    if f.min is not None and f.max is not None and f.min > f.max:
        ctx.error((*path, "max"), f"max {f.max} is below min {f.min}")


def _enum(ctx: CheckContext, f: FieldSpec, path: KeyPath) -> None:
    if not f.values:
        ctx.error(path, "an enum field needs 'values'")
        return
    seen: set[str] = set()
    for i, value in enumerate(f.values):
        if not ENUM_VALUE_RE.match(value):
            ctx.error(
                (*path, "values", i),
                f"enum value '{value}' must be a name (latin letters, digits, underscores)",
            )
        if value in seen:
            ctx.error((*path, "values", i), f"enum value '{value}' is listed twice")
        seen.add(value)


def _ref(ctx: CheckContext, f: FieldSpec, path: KeyPath) -> None:
    if f.to is None:
        ctx.error(path, "a ref field needs 'to: <Entity>'")
    elif not ctx.known("entities", f.to):
        ctx.unknown((*path, "to"), "entity", f.to, ctx.spec.entities)
    if f.on_delete == "set_null" and f.required:
        ctx.error((*path, "on_delete"), "a required ref cannot be set to null when its target goes")


def _list(ctx: CheckContext, ename: str, f: FieldSpec, path: KeyPath) -> None:
    if f.of is None:
        ctx.error(path, "a list field needs 'of: <Entity>' and 'via: <ref field of that entity>'")
        return
    if not ctx.known("entities", f.of):
        ctx.unknown((*path, "of"), "entity", f.of, ctx.spec.entities)
        return
    target = ctx.spec.entities.get(f.of)
    if target is None:
        return
    refs = [n for n, tf in target.fields.items() if tf.type == "ref" and tf.to == ename]
    if f.via is None:
        hint = f" (did you mean '{refs[0]}'?)" if len(refs) == 1 else ""
        ctx.error(
            path,
            f"a list field needs 'via: <the ref field of {f.of} that points to {ename}>'{hint}",
        )
    elif f.via not in target.fields:
        ctx.unknown((*path, "via"), f"field of {f.of}", f.via, refs or target.fields)
    elif target.fields[f.via].type != "ref" or (
        target.fields[f.via].to != ename and target.fields[f.via].to in ctx.spec.entities
    ):
        ctx.error((*path, "via"), f"{f.of}.{f.via} is not a ref to {ename}")


def _slug(ctx: CheckContext, ename: str, entity: Entity, source_name: str, path: KeyPath) -> None:
    source = entity.fields.get(source_name)
    if source is None and ctx.has_field(ename, source_name):
        return  # the field failed and was reported already
    if source is None:
        ctx.unknown((*path, "from"), "field", source_name, entity.fields)
    elif source.type not in ("string", "text"):
        ctx.error(
            (*path, "from"),
            f"a slug is made from a string field; '{source_name}' is {source.type}",
        )


def _default(ctx: CheckContext, f: FieldSpec, path: KeyPath) -> None:
    if f.type in ("list", "ref", "slug"):
        ctx.error((*path, "default"), f"a {f.type} field takes no default")
    elif f.type != "json":
        problem = value_problem(f.type, f.default, f.values, f.decimal_places)
        if problem:
            ctx.error((*path, "default"), f"default {problem}")
        elif f.type in BOUNDED:
            check_bounds(ctx, (*path, "default"), f, f.default)


def _renamed(ctx: CheckContext, ename: str, entity: Entity, former: str, path: KeyPath) -> None:
    if former in entity.fields:
        ctx.error(
            (*path, "renamed_from"),
            f"'{former}' is still a field of {ename}; a rename needs the old name gone",
        )
    elif not NAME_RE.match(former):
        ctx.error((*path, "renamed_from"), f"'{former}' is not a field name")


def check_bounds(ctx: CheckContext, path: KeyPath, f: FieldSpec, value: Any) -> None:
    """A number within the field's min and max (a default, a seed value)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return
    if f.min is not None and number < f.min:
        ctx.error(path, f"{value} is below the minimum {f.min}")
    if f.max is not None and number > f.max:
        ctx.error(path, f"{value} is above the maximum {f.max}")
