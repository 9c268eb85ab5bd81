"""Checks of the filter language wherever a spec writes it (role rules, landing queries, blocks):
fields, operators that fit their types, operands, session variables; and of field lists and
preset values."""

from __future__ import annotations

from typing import Any

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.errors import KeyPath, did_you_mean
from ecospec.generator.fieldtypes import ALL_OPERATORS, FIELD_TYPES, describe_value, value_problem
from ecospec.generator.model import SYSTEM_FIELDS, VARIABLE_RE, Entity, Where, field_type_of


def check_where(
    ctx: CheckContext,
    ename: str,
    where: Where | None,
    path: KeyPath,
    *,
    variables: bool = False,
    templates: bool = False,
) -> None:
    """A filter on entity `ename`; `variables` allows $user.<claim>, `templates` {{ … }} text."""
    entity = ctx.spec.entities.get(ename)
    if where is None or entity is None:
        return
    if not isinstance(where, dict):
        ctx.error(path, "a filter is a mapping of fields to conditions, like {status: {eq: free}}")
        return
    for key, cond in where.items():
        at = (*path, key)
        if key in ("and", "or"):
            if not isinstance(cond, list):
                ctx.error(at, f"'{key}' takes a list of filters")
                continue
            for i, sub in enumerate(cond):
                check_where(ctx, ename, sub, (*at, i), variables=variables, templates=templates)
            continue
        if key == "not":
            check_where(ctx, ename, cond, at, variables=variables, templates=templates)
            continue
        ftype = field_type_of(entity, key)
        if ftype is None and ctx.has_field(ename, key):
            continue
        if ftype is None:
            pool = [*entity.fields, *SYSTEM_FIELDS, "and", "or", "not"]
            ctx.error(at, f"{ename} has no field '{key}'{did_you_mean(key, pool)}", at_key=True)
            continue
        if ftype == "list":
            ctx.error(
                at, f"'{key}' is a list; filter from the other side, through its ref", at_key=True
            )
            continue
        if not isinstance(cond, dict):
            ctx.error(at, f"expected a condition such as {{eq: …}}, got {describe_value(cond)}")
            continue
        field = entity.fields.get(key)
        if (
            ftype == "ref"
            and field is not None
            and field.to
            and any(op not in ALL_OPERATORS for op in cond)
        ):
            check_where(ctx, field.to, cond, at, variables=variables, templates=templates)
            continue
        for op, value in cond.items():
            _condition(ctx, entity, key, ftype, op, value, (*at, op), variables, templates)


def _condition(
    ctx: CheckContext,
    entity: Entity,
    fname: str,
    ftype: str,
    op: str,
    value: Any,
    path: KeyPath,
    variables: bool,
    templates: bool,
) -> None:
    if op not in ALL_OPERATORS:
        ctx.error(path, f"unknown operator '{op}'{did_you_mean(op, ALL_OPERATORS)}", at_key=True)
        return
    fitting = FIELD_TYPES[ftype].operators
    if op not in fitting:
        ctx.error(
            path,
            f"operator '{op}' does not fit {ftype} field '{fname}' (it takes {', '.join(fitting)})",
            at_key=True,
        )
        return
    if op == "isNull":
        if not isinstance(value, bool):
            ctx.error(path, "isNull takes true or false")
        return
    field = entity.fields.get(fname)
    values = field.values if field is not None else None
    if op in ("in", "nin"):
        if not isinstance(value, list):
            ctx.error(path, f"'{op}' takes a list of values")
            return
        for i, item in enumerate(value):
            _operand(ctx, (*path, i), ftype, item, values, variables, templates)
        return
    if op in ("contains", "startsWith") and not isinstance(value, str):
        ctx.error(path, f"'{op}' takes text")
        return
    _operand(ctx, path, ftype, value, values, variables, templates)


def _operand(
    ctx: CheckContext,
    path: KeyPath,
    ftype: str,
    value: Any,
    values: list[str] | None,
    variables: bool,
    templates: bool,
) -> None:
    """A value compared with (or set on) a field of type `ftype`: a fitting value, a session
    variable where `variables` allows them, or a template where `templates` does."""
    if isinstance(value, str) and value.startswith("$"):
        _variable(ctx, path, value, variables)
        return
    if isinstance(value, str) and templates and "{{" in value:
        return
    if ftype == "ref":
        if isinstance(value, bool) or not isinstance(value, int | str):
            ctx.error(path, f"expected a record id, got {describe_value(value)}")
        return
    problem = value_problem(ftype, value, values)
    if problem:
        ctx.error(path, problem)


def _variable(ctx: CheckContext, path: KeyPath, value: str, allowed: bool) -> None:
    match = VARIABLE_RE.match(value)
    if not allowed:
        ctx.error(path, f"session variables like '{value}' are only allowed in roles")
    elif match is None:
        ctx.error(path, f"'{value}' is not a session variable; write $user.<name>")
    elif match.group(1) not in ctx.spec.auth.jwt.claims:
        claims = ctx.spec.auth.jwt.claims
        hint = did_you_mean(match.group(1), claims)
        ctx.error(
            path,
            f"unknown session variable '{value}'{hint}; auth.jwt.claims defines "
            + (", ".join(f"$user.{c}" for c in claims) or "none"),
        )


def check_field_list(
    ctx: CheckContext, ename: str, names: list[str] | None, path: KeyPath, *, writable: bool
) -> None:
    """Field names of entity `ename` (a grant's fields, a form's); `writable` refuses system and
    list fields."""
    entity = ctx.spec.entities.get(ename)
    if names is None or entity is None:
        return
    for i, fname in enumerate(names):
        if not isinstance(fname, str):
            ctx.error((*path, i), f"expected a field name, got {describe_value(fname)}")
            continue
        ftype = field_type_of(entity, fname)
        if ftype is None and not ctx.has_field(ename, fname):
            ctx.unknown((*path, i), f"field of {ename}", fname, entity.fields)
        elif writable and (fname in SYSTEM_FIELDS or ftype == "list"):
            ctx.error((*path, i), f"'{fname}' cannot be written")


def check_presets(
    ctx: CheckContext,
    ename: str,
    values: dict[str, Any],
    path: KeyPath,
    *,
    templates: bool,
    variables: bool = True,
) -> None:
    """Values preset on fields of entity `ename` (a rule's `set`, a form's)."""
    entity = ctx.spec.entities.get(ename)
    if entity is None:
        return
    for fname, value in values.items():
        field = entity.fields.get(fname)
        if field is None and ctx.has_field(ename, fname):
            continue
        if field is None or field.type == "list":
            ctx.unknown((*path, fname), f"field of {ename}", fname, entity.fields)
            continue
        _operand(ctx, (*path, fname), field.type, value, field.values, variables, templates)
