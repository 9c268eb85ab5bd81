"""Checks of the roles: names, inheritance (and its cycles), and every grant's rules."""

from __future__ import annotations

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.checks.filters import check_field_list, check_presets, check_where
from ecospec.generator.errors import KeyPath, did_you_mean
from ecospec.generator.model import (
    NAME_RE,
    CreateRule,
    DeleteRule,
    EntityGrant,
    ReadRule,
    UpdateRule,
)


def check_roles(ctx: CheckContext) -> None:
    roles = ctx.spec.roles
    for name, role in roles.items():
        path: KeyPath = ("roles", name)
        if not NAME_RE.match(name):
            ctx.error(
                path, f"role names are lowercase latin with underscores, not '{name}'", at_key=True
            )
        for i, parent in enumerate(role.inherits):
            if not ctx.known("roles", parent):
                ctx.unknown((*path, "inherits", i), "role", parent, roles)
        for ename, grant in role.grants.items():
            if not ctx.known("entities", ename):
                ctx.error(
                    (*path, ename),
                    f"unknown entity '{ename}'{did_you_mean(ename, ctx.spec.entities)}",
                    at_key=True,
                )
                continue
            _grant(ctx, name, ename, grant, (*path, ename))
    _inherit_cycles(ctx)


def _grant(ctx: CheckContext, role: str, ename: str, grant: EntityGrant, path: KeyPath) -> None:
    if isinstance(grant.read, ReadRule):
        check_where(ctx, ename, grant.read.where, (*path, "read", "where"), variables=True)
        check_field_list(ctx, ename, grant.read.fields, (*path, "read", "fields"), writable=False)
    if isinstance(grant.create, CreateRule):
        rule = grant.create
        check_field_list(ctx, ename, rule.fields, (*path, "create", "fields"), writable=True)
        check_presets(ctx, ename, rule.set, (*path, "create", "set"), templates=False)
        check_where(ctx, ename, rule.check, (*path, "create", "check"), variables=True)
        _creatable(ctx, role, ename, rule, (*path, "create"))
    if isinstance(grant.update, UpdateRule):
        urule = grant.update
        check_where(ctx, ename, urule.where, (*path, "update", "where"), variables=True)
        check_field_list(ctx, ename, urule.fields, (*path, "update", "fields"), writable=True)
        check_presets(ctx, ename, urule.set, (*path, "update", "set"), templates=False)
        check_where(ctx, ename, urule.check, (*path, "update", "check"), variables=True)
    if isinstance(grant.delete, DeleteRule):
        check_where(ctx, ename, grant.delete.where, (*path, "delete", "where"), variables=True)


def _creatable(ctx: CheckContext, role: str, ename: str, rule: CreateRule, path: KeyPath) -> None:
    """A create rule must let every required field be given or preset."""
    entity = ctx.spec.entities.get(ename)
    if entity is None or rule.fields is None:
        return
    for fname, f in entity.fields.items():
        derived = f.type == "slug" and f.from_ is not None
        needed = f.required and f.default is None and not derived
        if needed and fname not in rule.fields and fname not in rule.set:
            ctx.error(
                (*path, "fields"),
                f"role '{role}' can never create {ename}: required field '{fname}' "
                "is neither in fields nor in set",
            )
    for i, fname in enumerate(rule.fields):
        if fname in rule.set:
            ctx.warn((*path, "fields", i), f"'{fname}' is also preset by set, which wins")


def _inherit_cycles(ctx: CheckContext) -> None:
    roles = ctx.spec.roles
    reported: set[frozenset[str]] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = [*trail[trail.index(name) :], name]
            key = frozenset(cycle)
            if key not in reported:
                reported.add(key)
                ctx.error(
                    ("roles", cycle[0], "inherits"),
                    "roles inherit in a cycle: " + " → ".join(cycle),
                )
            return
        role = roles.get(name)
        if role is None:
            return
        for parent in role.inherits:
            visit(parent, [*trail, name])

    for name in roles:
        visit(name, [])
