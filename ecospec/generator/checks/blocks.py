"""Checking a landing's block parameters against the block's block.yaml, with file:line:col."""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from jinja2 import TemplateSyntaxError

from ecospec.generator.blocks import Block, ParamSpec
from ecospec.generator.checks.context import CheckContext
from ecospec.generator.checks.filters import check_field_list, check_presets
from ecospec.generator.checks.queries import anonymous_reads, check_query
from ecospec.generator.errors import Diagnostic, KeyPath, Location, did_you_mean
from ecospec.generator.fieldtypes import FIELD_TYPES, describe_value
from ecospec.generator.model import EntityQuery
from ecospec.generator.render import is_template, sandbox

COLOR_RE = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-z]+|(rgb|hsl)a?\([^)]*\))$")
AGGREGATES = ("count", "sum", "avg", "min", "max")


def check_block(
    ctx: CheckContext, block: Block, params: dict[str, Any] | None, path: KeyPath
) -> None:
    found = template_diagnostic(block)
    if found is not None:  # once per block: the loader drops the same diagnostic made again
        ctx.diagnostics.append(found)
    _object(ctx, block.spec.params, params or {}, path, f"block '{block.name}'")


def template_diagnostic(block: Block) -> Diagnostic | None:
    """The block's template compiled: where it fails (blocks/hero/template.html.j2:12:1), if
    it does."""
    problem = _compile_problem(block.template)
    if problem is None:
        return None
    line, message = problem
    where = Location(f"{block.folder.parent.name}/{block.template_name}", line, 1)
    return Diagnostic(where, (), f"template: {message}")


@functools.lru_cache(maxsize=256)
def _compile_problem(source: str) -> tuple[int, str] | None:
    """The line and message of the first error compiling a template (syntax, unknown filters)."""
    try:
        sandbox().from_string(source)
    except TemplateSyntaxError as exc:
        return exc.lineno, exc.message or str(exc)
    return None


def _object(
    ctx: CheckContext, specs: dict[str, ParamSpec], value: dict[str, Any], path: KeyPath, what: str
) -> None:
    for key, item in value.items():
        spec = specs.get(key)
        if spec is None:
            ctx.error(
                (*path, key),
                f"{what} has no parameter '{key}'{did_you_mean(key, specs)}",
                at_key=True,
            )
            continue
        _param(ctx, spec, item, (*path, key), value)
    for key, spec in specs.items():
        if spec.required and value.get(key) is None and spec.default is None:
            ctx.error(path, f"{what} needs the parameter '{key}'")


def _template(ctx: CheckContext, text: str, path: KeyPath) -> None:
    problem = _parse_problem(text)
    if problem is not None:
        ctx.error(path, f"template: {problem}")


@functools.lru_cache(maxsize=4096)
def _parse_problem(text: str) -> str | None:
    """Why a marketer string does not parse as a template; parsed once per text, as
    `ecospec dev` checks the same strings on every reload."""
    try:
        sandbox().parse(text)
    except TemplateSyntaxError as exc:
        return exc.message
    return None


def _param(
    ctx: CheckContext, spec: ParamSpec, value: Any, path: KeyPath, siblings: dict[str, Any]
) -> None:
    if value is None:
        return
    kind = spec.type
    templated = isinstance(value, str) and is_template(value)
    if isinstance(value, str):
        _template(ctx, value, path)
    if kind in ("text", "url"):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            ctx.error(path, f"expected text, got {_kind(value)}")
    elif kind == "number":
        if isinstance(value, bool) or not (isinstance(value, int | float) or templated):
            ctx.error(path, f"expected a number, got {_kind(value)}")
    elif kind == "bool":
        if not isinstance(value, bool):
            ctx.error(path, f"expected true or false, got {_kind(value)}")
    elif kind == "color":
        if not isinstance(value, str) or not (templated or COLOR_RE.match(value)):
            ctx.error(path, f"'{value}' is not a colour (#rrggbb, a name, rgb(…) or hsl(…))")
    elif kind == "datetime":
        if not isinstance(value, str) or not (templated or _is_moment(value)):
            ctx.error(path, f"'{value}' is not an ISO date and time (2027-05-31T23:59:59+03:00)")
    elif kind == "enum":
        if value not in (spec.values or []):
            ctx.error(path, f"'{value}' is not one of: {', '.join(spec.values or [])}")
    elif kind == "image":
        if isinstance(value, dict):
            _object(ctx, _IMAGE, value, path, "an image")
        elif not isinstance(value, str):
            ctx.error(path, f"expected an image path or {{src, alt}}, got {_kind(value)}")
    elif kind == "link":
        if not isinstance(value, dict):
            ctx.error(path, f"expected a link {{title, href}}, got {_kind(value)}")
        else:
            _object(ctx, _LINK, value, path, "a link")
    elif kind == "list":
        if not isinstance(value, list):
            ctx.error(path, f"expected a list, got {_kind(value)}")
            return
        item_spec = spec.of or (
            ParamSpec(type="object", params=spec.params) if spec.params else None
        )
        if item_spec is not None:
            for i, item in enumerate(value):
                _param(ctx, item_spec, item, (*path, i), {})
    elif kind == "object":
        if not isinstance(value, dict):
            ctx.error(path, f"expected a mapping, got {_kind(value)}")
        elif spec.params is not None:
            _object(ctx, spec.params, value, path, "this parameter")
    elif kind == "query":
        _query(ctx, value, path)
    elif kind == "aggregate":
        _aggregate(ctx, value, path)
    elif kind == "entity":
        if not isinstance(value, str) or not ctx.known("entities", value):
            ctx.unknown(path, "entity", str(value), ctx.spec.entities)
    elif kind in ("fields", "values"):
        _entity_fields(ctx, spec, value, path, siblings)


def _query(ctx: CheckContext, value: Any, path: KeyPath) -> None:
    if not isinstance(value, dict):
        ctx.error(path, f"expected a query {{entity, where, order_by, limit}}, got {_kind(value)}")
        return
    unknown = [k for k in value if k not in EntityQuery.model_fields]
    for key in unknown:
        ctx.error(
            (*path, key),
            f"a query has no key '{key}'{did_you_mean(key, EntityQuery.model_fields)}",
            at_key=True,
        )
    if unknown or not isinstance(value.get("entity"), str):
        if not isinstance(value.get("entity"), str):
            ctx.error(path, "a query needs 'entity: <Entity>'")
        return
    try:
        query = EntityQuery.model_validate(value)
    except Exception:
        ctx.error(path, "expected a query {entity, where, order_by, limit}")
        return
    if check_query(ctx, query, path, templates=True) is not None:
        anonymous_reads(ctx, query.entity, (*path, "entity"))


def _aggregate(ctx: CheckContext, value: Any, path: KeyPath) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("entity"), str):
        ctx.error(path, "expected an aggregate {entity, where, op, field}")
        return
    op = value.get("op", "count")
    if op not in AGGREGATES:
        ctx.error((*path, "op"), f"unknown aggregate '{op}'{did_you_mean(str(op), AGGREGATES)}")
    extra = [k for k in value if k not in ("entity", "where", "op", "field")]
    for key in extra:
        ctx.error((*path, key), f"an aggregate has no key '{key}'", at_key=True)
    query = {k: v for k, v in value.items() if k in ("entity", "where")}
    _query(ctx, query, path)
    entity = ctx.spec.entities.get(value["entity"])
    fname = value.get("field")
    if entity is None:
        return
    if op != "count" and fname is None:
        ctx.error(path, f"'{op}' needs a field")
    elif fname is not None:
        f = entity.fields.get(fname)
        if f is None:
            ctx.unknown((*path, "field"), f"field of {value['entity']}", fname, entity.fields)
        elif op in ("sum", "avg") and f.type not in ("int", "decimal", "money"):
            ctx.error((*path, "field"), f"cannot {op} a {f.type} field")
        elif not FIELD_TYPES[f.type].scalar or f.type == "json":
            ctx.error((*path, "field"), f"cannot aggregate a {f.type} field")


def _entity_fields(
    ctx: CheckContext, spec: ParamSpec, value: Any, path: KeyPath, siblings: dict[str, Any]
) -> None:
    ename = siblings.get(spec.entity_param)
    entity = ctx.spec.entities.get(ename) if isinstance(ename, str) else None
    if spec.type == "fields":
        if not isinstance(value, list):
            ctx.error(path, f"expected a list of field names, got {_kind(value)}")
            return
        if entity is not None:
            check_field_list(ctx, str(ename), value, path, writable=True)
        return
    if not isinstance(value, dict):
        ctx.error(path, f"expected a mapping of fields to values, got {_kind(value)}")
        return
    if entity is not None:
        check_presets(ctx, str(ename), value, path, templates=True, variables=False)


def _is_moment(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    return describe_value(value, quote="text ")


_IMAGE = {
    "src": ParamSpec(type="url", required=True, description="The image's path or address."),
    "alt": ParamSpec(type="text", description="What the image shows, for screen readers."),
}
_LINK = {
    "title": ParamSpec(type="text", required=True, description="The link's text."),
    "href": ParamSpec(type="url", required=True, description="Where it leads."),
}
