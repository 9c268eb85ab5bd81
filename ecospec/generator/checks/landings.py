"""Checks of the landings: names, the records a landing pages over, its path and its placeholders,
paths two landings share, and its blocks."""

from __future__ import annotations

import re

from ecospec.generator.checks.blocks import check_block
from ecospec.generator.checks.context import CheckContext
from ecospec.generator.checks.queries import anonymous_reads, check_query
from ecospec.generator.errors import KeyPath, did_you_mean
from ecospec.generator.model import Entity, EntityGrant, Landing, ReadRule, field_type_of

LANDING_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


def check_landings(ctx: CheckContext) -> None:
    shapes: dict[str, str] = {}  # a path with its placeholders blanked -> the landing making it
    for name, landing in ctx.spec.landings.items():
        path: KeyPath = ("landings", name)
        if not LANDING_RE.match(name):
            ctx.error(
                path, f"landing names are lowercase latin with dashes, not '{name}'", at_key=True
            )
        entity = None
        if landing.for_each is not None:
            entity = check_query(ctx, landing.for_each, (*path, "for_each"), templates=False)
            if entity is not None:
                _public_reads(ctx, landing.for_each.entity, landing.path, path)
        _path(ctx, landing, entity, path)
        _path_taken(ctx, name, landing, path, shapes)
        _blocks(ctx, landing, path)


def _public_reads(ctx: CheckContext, ename: str, page_path: str, path: KeyPath) -> None:
    anonymous = ctx.spec.auth.anonymous_role
    if not anonymous_reads(ctx, ename, (*path, "for_each", "entity")):
        return
    read = (
        ctx.spec.grants(anonymous).get(ename, EntityGrant()).read
        if anonymous in ctx.spec.roles
        else True
    )
    if isinstance(read, ReadRule) and read.fields is not None:
        for placeholder in PLACEHOLDER_RE.findall(page_path):
            if placeholder not in read.fields and placeholder != "id":
                ctx.error(
                    (*path, "path"),
                    f"'{placeholder}' is hidden from the anonymous role '{anonymous}', "
                    "which builds the pages",
                )


def _path(ctx: CheckContext, landing: Landing, entity: Entity | None, path: KeyPath) -> None:
    placeholders = PLACEHOLDER_RE.findall(landing.path)
    if not landing.path.startswith("/"):
        ctx.error((*path, "path"), f"a path starts with '/', like '/{landing.path}'")
    if landing.for_each is None and placeholders:
        ctx.error(
            (*path, "path"),
            f"'{{{placeholders[0]}}}' needs a record: add 'for_each' or write a fixed path",
        )
    if landing.for_each is not None and not placeholders:
        ctx.error(
            (*path, "path"),
            "a for_each landing makes one page per record; its path needs a placeholder such as {slug}",
        )
    if entity is not None:
        ename = landing.for_each.entity if landing.for_each else ""
        for placeholder in placeholders:
            _placeholder(ctx, ename, entity, placeholder, (*path, "path"))


def _placeholder(
    ctx: CheckContext, ename: str, entity: Entity, placeholder: str, path: KeyPath
) -> None:
    ftype = field_type_of(entity, placeholder)
    if ftype is None and ctx.has_field(ename, placeholder):
        return
    if ftype is None:
        pool = [*entity.fields, "id"]
        ctx.error(
            path,
            f"path names '{{{placeholder}}}', but {ename} has no field '{placeholder}'"
            + did_you_mean(placeholder, pool),
        )
    elif ftype in ("list", "json", "text"):
        ctx.error(path, f"'{placeholder}' is a {ftype} field and cannot be part of a path")
    elif placeholder != "id" and not (
        placeholder in entity.fields and entity.fields[placeholder].unique
    ):
        ctx.warn(path, f"'{placeholder}' is not unique: two {ename} records may get the same page")


def _path_taken(
    ctx: CheckContext, name: str, landing: Landing, path: KeyPath, shapes: dict[str, str]
) -> None:
    shape = PLACEHOLDER_RE.sub("{}", landing.path)
    if shape not in shapes:
        shapes[shape] = name
        return
    other = shapes[shape]
    ctx.error(
        (*path, "path"),
        f"landings '{other}' and '{name}' produce the same path {landing.path} "
        f"(the other at {ctx.index.value(('landings', other, 'path'))})",
        related=[ctx.index.value(("landings", other, "path"))],
    )


def _blocks(ctx: CheckContext, landing: Landing, path: KeyPath) -> None:
    for i, entry in enumerate(landing.blocks):
        if len(entry) != 1:
            ctx.error((*path, "blocks", i), "a block is one key, its name, holding its parameters")
            continue
        block_name, params = next(iter(entry.items()))
        if ctx.blocks is None:
            continue
        block = ctx.blocks.get(block_name)
        if block is None:
            ctx.error(
                (*path, "blocks", i, block_name),
                f"unknown block '{block_name}'{did_you_mean(block_name, ctx.blocks.blocks)}",
                at_key=True,
            )
            continue
        check_block(ctx, block, params, (*path, "blocks", i, block_name))
