"""Checks of the whole spec that a single model cannot make: references, filters, paths, seeds."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ecospec.generator.blockcheck import check_block
from ecospec.generator.errors import Diagnostic, KeyPath, Location, Severity, did_you_mean
from ecospec.generator.fieldtypes import ALL_OPERATORS, FIELD_TYPES, describe_value, value_problem
from ecospec.generator.model import (
    ENTITY_RE,
    NAME_RE,
    SYSTEM_FIELDS,
    VARIABLE_RE,
    CreateRule,
    DeleteRule,
    Entity,
    EntityGrant,
    EntityQuery,
    FieldSpec,
    ReadRule,
    Spec,
    UpdateRule,
    Where,
    field_type_of,
    unique_key,
)
from ecospec.generator.slugs import slugify

if TYPE_CHECKING:
    from ecospec.generator.blocks import BlockLibrary
    from ecospec.generator.loader import Index

LANDING_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
SLUG_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


def check_spec(
    spec: Spec, index: Index, dropped: set[KeyPath], root: str, blocks: BlockLibrary | None = None
) -> list[Diagnostic]:
    return _Checker(spec, index, dropped, root, blocks).run()


class _Checker:
    def __init__(
        self,
        spec: Spec,
        index: Index,
        dropped: set[KeyPath],
        root: str,
        blocks: BlockLibrary | None = None,
    ) -> None:
        self.blocks = blocks
        self.spec = spec
        self.index = index
        self.dropped = dropped
        self.root = root
        self.out: list[Diagnostic] = []

    # reporting -----------------------------------------------------------------------------

    def error(
        self,
        path: KeyPath,
        message: str,
        *,
        at_key: bool = False,
        related: Iterable[Location | None] = (),
        severity: Severity = Severity.ERROR,
    ) -> None:
        loc = self.index.key(path) if at_key else self.index.value(path)
        if loc is None:
            loc = Location(self.root, 1, 1)
        rel = tuple(r for r in related if r is not None)
        self.out.append(Diagnostic(loc, path, message, severity, rel))

    def warn(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        self.error(path, message, at_key=at_key, severity=Severity.WARNING)

    def known(self, section: str, name: str) -> bool:
        """Whether a name exists, counting members dropped for errors already reported."""
        members: dict[str, Any] = getattr(self.spec, section)
        return name in members or (section, name) in self.dropped

    def has_field(self, ename: str, fname: str) -> bool:
        """Whether an entity has a field, counting fields dropped for errors already reported."""
        entity = self.spec.entities.get(ename)
        if entity is None:
            return ("entities", ename) in self.dropped
        return field_type_of(entity, fname) is not None or (
            ("entities", ename, "fields", fname) in self.dropped
        )

    def unknown(self, path: KeyPath, what: str, name: str, pool: Iterable[str]) -> None:
        self.error(path, f"unknown {what} '{name}'{did_you_mean(name, pool)}")

    # the whole ------------------------------------------------------------------------------

    def run(self) -> list[Diagnostic]:
        self.settings()
        for name, entity in self.spec.entities.items():
            self.entity(name, entity)
        self.roles()
        self.landings()
        self.seed()
        self.webhooks()
        return self.out

    def settings(self) -> None:
        spec = self.spec
        if spec.ecosystem is None:
            self.out.append(
                Diagnostic(
                    Location(self.root, 1, 1),
                    ("ecosystem",),
                    "no ecosystem name: one file (spec/ecosystem.yaml) needs 'ecosystem: <name>'",
                )
            )
        elif not SLUG_NAME_RE.match(spec.ecosystem):
            self.error(
                ("ecosystem",),
                f"'{spec.ecosystem}' is not a name of lowercase latin letters, digits and dashes",
            )
        anonymous = spec.auth.anonymous_role
        if not self.known("roles", anonymous):
            self.unknown(("auth", "anonymous_role"), "role", anonymous, spec.roles)
        for key in spec.auth.jwt.claims:
            if not NAME_RE.match(key):
                self.error(
                    ("auth", "jwt", "claims", key), f"'{key}' is not a variable name", at_key=True
                )

    # entities -------------------------------------------------------------------------------

    def entity(self, name: str, entity: Entity) -> None:
        path: KeyPath = ("entities", name)
        if not ENTITY_RE.match(name):
            self.error(
                path,
                f"entity names are capitalised latin words, like 'Apartment', not '{name}'",
                at_key=True,
            )
        lost_fields = any(d[:2] == path and len(d) == 4 for d in self.dropped)
        if not entity.fields and not lost_fields:
            self.error((*path, "fields"), "an entity needs at least one field")
        if entity.display is not None and not self.has_field(name, entity.display):
            self.unknown((*path, "display"), "field", entity.display, entity.fields)
        if entity.renamed_from is not None and entity.renamed_from in self.spec.entities:
            self.error(
                (*path, "renamed_from"),
                f"'{entity.renamed_from}' is still an entity of its own; a rename needs the old name gone",
            )
        for fname, field in entity.fields.items():
            self.field(name, entity, fname, field, (*path, "fields", fname))

    def field(self, ename: str, entity: Entity, name: str, f: FieldSpec, path: KeyPath) -> None:
        ftype = FIELD_TYPES[f.type]
        if not NAME_RE.match(name):
            self.error(
                path, f"field names are lowercase latin with underscores, not '{name}'", at_key=True
            )
        if name in SYSTEM_FIELDS:
            self.error(
                path,
                f"'{name}' is kept by Ecospec for every entity; choose another name",
                at_key=True,
            )

        def only(option: str, allowed: Iterable[str], present: bool) -> None:
            if present and f.type not in allowed:
                kinds = " and ".join(allowed)
                self.error(
                    (*path, option),
                    f"'{option}' applies to {kinds} fields, not {f.type}",
                    at_key=True,
                )

        only("values", ["enum"], f.values is not None)
        only("to", ["ref"], f.to is not None)
        only("on_delete", ["ref"], f.on_delete is not None)
        only("of", ["list"], f.of is not None)
        only("via", ["list"], f.via is not None)
        only("from", ["slug"], f.from_ is not None)
        bounded = [t.name for t in FIELD_TYPES.values() if t.bounds]
        only("min", bounded, f.min is not None)
        only("max", bounded, f.max is not None)
        only(
            "max_length",
            [t.name for t in FIELD_TYPES.values() if t.length],
            f.max_length is not None,
        )
        if f.min is not None and f.max is not None and f.min > f.max:
            self.error((*path, "max"), f"max {f.max} is below min {f.min}")

        if f.type == "enum":
            if not f.values:
                self.error(path, "an enum field needs 'values'")
            else:
                seen: set[str] = set()
                for i, value in enumerate(f.values):
                    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
                        self.error(
                            (*path, "values", i),
                            f"enum value '{value}' must be a name (latin letters, digits, underscores)",
                        )
                    if value in seen:
                        self.error((*path, "values", i), f"enum value '{value}' is listed twice")
                    seen.add(value)
        if f.type == "ref":
            if f.to is None:
                self.error(path, "a ref field needs 'to: <Entity>'")
            elif not self.known("entities", f.to):
                self.unknown((*path, "to"), "entity", f.to, self.spec.entities)
            if f.on_delete == "set_null" and f.required:
                self.error(
                    (*path, "on_delete"),
                    "a required ref cannot be set to null when its target goes",
                )
        if f.type == "list":
            self.list_field(ename, f, path)
        if f.type == "slug" and f.from_ is not None:
            source = entity.fields.get(f.from_)
            if source is None and self.has_field(ename, f.from_):
                pass  # the field failed and was reported already
            elif source is None:
                self.unknown((*path, "from"), "field", f.from_, entity.fields)
            elif source.type not in ("string", "text"):
                self.error(
                    (*path, "from"),
                    f"a slug is made from a string field; '{f.from_}' is {source.type}",
                )
        if (f.unique and not ftype.scalar) or (f.unique and f.type == "json"):
            self.error((*path, "unique"), f"a {f.type} field cannot be unique")
        if f.required and f.type == "list":
            self.error((*path, "required"), "a list field cannot be required")
        if f.default is not None:
            if f.type in ("list", "ref", "slug"):
                self.error((*path, "default"), f"a {f.type} field takes no default")
            elif f.type != "json":
                problem = value_problem(f.type, f.default, f.values, f.decimal_places)
                if problem:
                    self.error((*path, "default"), f"default {problem}")
                elif f.type in bounded:
                    self.bounds((*path, "default"), f, f.default)
        if f.renamed_from is not None:
            if f.renamed_from in entity.fields:
                self.error(
                    (*path, "renamed_from"),
                    f"'{f.renamed_from}' is still a field of {ename}; a rename needs the old name gone",
                )
            elif not NAME_RE.match(f.renamed_from):
                self.error((*path, "renamed_from"), f"'{f.renamed_from}' is not a field name")

    def bounds(self, path: KeyPath, f: FieldSpec, value: Any) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        if f.min is not None and number < f.min:
            self.error(path, f"{value} is below the minimum {f.min}")
        if f.max is not None and number > f.max:
            self.error(path, f"{value} is above the maximum {f.max}")

    def list_field(self, ename: str, f: FieldSpec, path: KeyPath) -> None:
        if f.of is None:
            self.error(
                path, "a list field needs 'of: <Entity>' and 'via: <ref field of that entity>'"
            )
            return
        if not self.known("entities", f.of):
            self.unknown((*path, "of"), "entity", f.of, self.spec.entities)
            return
        target = self.spec.entities.get(f.of)
        if target is None:
            return
        refs = [n for n, tf in target.fields.items() if tf.type == "ref" and tf.to == ename]
        if f.via is None:
            hint = f" (did you mean '{refs[0]}'?)" if len(refs) == 1 else ""
            self.error(
                path,
                f"a list field needs 'via: <the ref field of {f.of} that points to {ename}>'{hint}",
            )
        elif f.via not in target.fields:
            self.unknown((*path, "via"), f"field of {f.of}", f.via, refs or target.fields)
        elif target.fields[f.via].type != "ref" or (
            target.fields[f.via].to != ename and target.fields[f.via].to in self.spec.entities
        ):
            self.error((*path, "via"), f"{f.of}.{f.via} is not a ref to {ename}")

    # filters --------------------------------------------------------------------------------

    def where(
        self,
        ename: str,
        where: Where | None,
        path: KeyPath,
        *,
        variables: bool = False,
        templates: bool = False,
    ) -> None:
        entity = self.spec.entities.get(ename)
        if where is None or entity is None:
            return
        if not isinstance(where, dict):
            self.error(
                path, "a filter is a mapping of fields to conditions, like {status: {eq: free}}"
            )
            return
        for key, cond in where.items():
            at = (*path, key)
            if key in ("and", "or"):
                if not isinstance(cond, list):
                    self.error(at, f"'{key}' takes a list of filters")
                    continue
                for i, sub in enumerate(cond):
                    self.where(ename, sub, (*at, i), variables=variables, templates=templates)
                continue
            if key == "not":
                self.where(ename, cond, at, variables=variables, templates=templates)
                continue
            ftype = field_type_of(entity, key)
            if ftype is None and self.has_field(ename, key):
                continue
            if ftype is None:
                pool = [*entity.fields, *SYSTEM_FIELDS, "and", "or", "not"]
                self.error(
                    at, f"{ename} has no field '{key}'{did_you_mean(key, pool)}", at_key=True
                )
                continue
            if ftype == "list":
                self.error(
                    at,
                    f"'{key}' is a list; filter from the other side, through its ref",
                    at_key=True,
                )
                continue
            if not isinstance(cond, dict):
                self.error(at, f"expected a condition such as {{eq: …}}, got {_describe(cond)}")
                continue
            field = entity.fields.get(key)
            if (
                ftype == "ref"
                and field is not None
                and field.to
                and any(op not in ALL_OPERATORS for op in cond)
            ):
                self.where(field.to, cond, at, variables=variables, templates=templates)
                continue
            for op, value in cond.items():
                self.condition(entity, key, ftype, op, value, (*at, op), variables, templates)

    def condition(
        self,
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
            self.error(
                path, f"unknown operator '{op}'{did_you_mean(op, ALL_OPERATORS)}", at_key=True
            )
            return
        fitting = FIELD_TYPES[ftype].operators
        if op not in fitting:
            self.error(
                path,
                f"operator '{op}' does not fit {ftype} field '{fname}' (it takes {', '.join(fitting)})",
                at_key=True,
            )
            return
        if op == "isNull":
            if not isinstance(value, bool):
                self.error(path, "isNull takes true or false")
            return
        field = entity.fields.get(fname)
        values = field.values if field is not None else None
        if op in ("in", "nin"):
            if not isinstance(value, list):
                self.error(path, f"'{op}' takes a list of values")
                return
            for i, item in enumerate(value):
                self.operand((*path, i), ftype, item, values, variables, templates)
            return
        if op in ("contains", "startsWith") and not isinstance(value, str):
            self.error(path, f"'{op}' takes text")
            return
        self.operand(path, ftype, value, values, variables, templates)

    def operand(
        self,
        path: KeyPath,
        ftype: str,
        value: Any,
        values: list[str] | None,
        variables: bool,
        templates: bool,
    ) -> None:
        if isinstance(value, str) and value.startswith("$"):
            match = VARIABLE_RE.match(value)
            if not variables:
                self.error(path, f"session variables like '{value}' are only allowed in roles")
            elif match is None:
                self.error(path, f"'{value}' is not a session variable; write $user.<name>")
            elif match.group(1) not in self.spec.auth.jwt.claims:
                claims = self.spec.auth.jwt.claims
                hint = did_you_mean(match.group(1), claims)
                self.error(
                    path,
                    f"unknown session variable '{value}'{hint}; auth.jwt.claims defines "
                    + (", ".join(f"$user.{c}" for c in claims) or "none"),
                )
            return
        if isinstance(value, str) and templates and "{{" in value:
            return
        if ftype == "ref":
            if isinstance(value, bool) or not isinstance(value, int | str):
                self.error(path, f"expected a record id, got {_describe(value)}")
            return
        problem = value_problem(ftype, value, values)
        if problem:
            self.error(path, problem)

    def field_list(
        self, ename: str, names: list[str] | None, path: KeyPath, *, writable: bool
    ) -> None:
        entity = self.spec.entities.get(ename)
        if names is None or entity is None:
            return
        for i, fname in enumerate(names):
            if not isinstance(fname, str):
                self.error((*path, i), f"expected a field name, got {_describe(fname)}")
                continue
            ftype = field_type_of(entity, fname)
            if ftype is None and not self.has_field(ename, fname):
                self.unknown((*path, i), f"field of {ename}", fname, entity.fields)
            elif writable and (fname in SYSTEM_FIELDS or ftype == "list"):
                self.error((*path, i), f"'{fname}' cannot be written")

    def presets(
        self,
        ename: str,
        values: dict[str, Any],
        path: KeyPath,
        *,
        templates: bool,
        variables: bool = True,
    ) -> None:
        entity = self.spec.entities.get(ename)
        if entity is None:
            return
        for fname, value in values.items():
            field = entity.fields.get(fname)
            if field is None and self.has_field(ename, fname):
                continue
            if field is None or field.type == "list":
                self.unknown((*path, fname), f"field of {ename}", fname, entity.fields)
                continue
            self.operand((*path, fname), field.type, value, field.values, variables, templates)

    # roles ----------------------------------------------------------------------------------

    def roles(self) -> None:
        roles = self.spec.roles
        for name, role in roles.items():
            path: KeyPath = ("roles", name)
            if not NAME_RE.match(name):
                self.error(
                    path,
                    f"role names are lowercase latin with underscores, not '{name}'",
                    at_key=True,
                )
            for i, parent in enumerate(role.inherits):
                if not self.known("roles", parent):
                    self.unknown((*path, "inherits", i), "role", parent, roles)
            for ename, grant in role.grants.items():
                gpath = (*path, ename)
                if not self.known("entities", ename):
                    self.error(
                        gpath,
                        f"unknown entity '{ename}'{did_you_mean(ename, self.spec.entities)}",
                        at_key=True,
                    )
                    continue
                if isinstance(grant.read, ReadRule):
                    self.where(ename, grant.read.where, (*gpath, "read", "where"), variables=True)
                    self.field_list(
                        ename, grant.read.fields, (*gpath, "read", "fields"), writable=False
                    )
                if isinstance(grant.create, CreateRule):
                    rule = grant.create
                    self.field_list(ename, rule.fields, (*gpath, "create", "fields"), writable=True)
                    self.presets(ename, rule.set, (*gpath, "create", "set"), templates=False)
                    self.where(ename, rule.check, (*gpath, "create", "check"), variables=True)
                    self.creatable(name, ename, rule, (*gpath, "create"))
                if isinstance(grant.update, UpdateRule):
                    urule = grant.update
                    self.where(ename, urule.where, (*gpath, "update", "where"), variables=True)
                    self.field_list(
                        ename, urule.fields, (*gpath, "update", "fields"), writable=True
                    )
                    self.presets(ename, urule.set, (*gpath, "update", "set"), templates=False)
                    self.where(ename, urule.check, (*gpath, "update", "check"), variables=True)
                if isinstance(grant.delete, DeleteRule):
                    self.where(
                        ename, grant.delete.where, (*gpath, "delete", "where"), variables=True
                    )
        self.inherit_cycles()

    def creatable(self, role: str, ename: str, rule: CreateRule, path: KeyPath) -> None:
        """A create rule must let every required field be given or preset."""
        entity = self.spec.entities.get(ename)
        if entity is None or rule.fields is None:
            return
        for fname, f in entity.fields.items():
            derived = f.type == "slug" and f.from_ is not None
            needed = f.required and f.default is None and not derived
            if needed and fname not in rule.fields and fname not in rule.set:
                self.error(
                    (*path, "fields"),
                    f"role '{role}' can never create {ename}: required field '{fname}' "
                    "is neither in fields nor in set",
                )
        for i, fname in enumerate(rule.fields):
            if fname in rule.set:
                self.warn((*path, "fields", i), f"'{fname}' is also preset by set, which wins")

    def inherit_cycles(self) -> None:
        roles = self.spec.roles
        reported: set[frozenset[str]] = set()

        def visit(name: str, trail: list[str]) -> None:
            if name in trail:
                cycle = [*trail[trail.index(name) :], name]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    first = cycle[0]
                    self.error(
                        ("roles", first, "inherits"),
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

    # landings -------------------------------------------------------------------------------

    def query(self, query: EntityQuery, path: KeyPath, *, templates: bool) -> Entity | None:
        if not self.known("entities", query.entity):
            self.unknown((*path, "entity"), "entity", query.entity, self.spec.entities)
            return None
        entity = self.spec.entities.get(query.entity)
        self.where(query.entity, query.where, (*path, "where"), templates=templates)
        if entity is not None:
            for i, key in enumerate(query.order_by):
                fname = key.removeprefix("-")
                ftype = field_type_of(entity, fname)
                if ftype is None and not self.has_field(query.entity, fname):
                    self.unknown(
                        (*path, "order_by", i), f"field of {query.entity}", fname, entity.fields
                    )
                elif ftype in ("list", "json"):
                    self.error((*path, "order_by", i), f"cannot sort by {ftype} field '{fname}'")
        return entity

    def anonymous_reads(self, ename: str, path: KeyPath) -> bool:
        """Pages are built as the anonymous role: it must be able to read what a page shows."""
        anonymous = self.spec.auth.anonymous_role
        if anonymous not in self.spec.roles or ename not in self.spec.entities:
            return True
        if self.spec.grants(anonymous).get(ename, EntityGrant()).read is False:
            self.error(
                path,
                f"pages are built as the anonymous role '{anonymous}', which may not read {ename}",
            )
            return False
        return True

    def public_reads(self, ename: str, page_path: str, path: KeyPath) -> None:
        anonymous = self.spec.auth.anonymous_role
        if not self.anonymous_reads(ename, (*path, "for_each", "entity")):
            return
        read = (
            self.spec.grants(anonymous).get(ename, EntityGrant()).read
            if anonymous in self.spec.roles
            else True
        )
        if isinstance(read, ReadRule) and read.fields is not None:
            for placeholder in PLACEHOLDER_RE.findall(page_path):
                if placeholder not in read.fields and placeholder != "id":
                    self.error(
                        (*path, "path"),
                        f"'{placeholder}' is hidden from the anonymous role '{anonymous}', "
                        "which builds the pages",
                    )

    def landings(self) -> None:
        shapes: dict[str, str] = {}
        for name, landing in self.spec.landings.items():
            path: KeyPath = ("landings", name)
            if not LANDING_RE.match(name):
                self.error(
                    path,
                    f"landing names are lowercase latin with dashes, not '{name}'",
                    at_key=True,
                )
            entity = None
            if landing.for_each is not None:
                entity = self.query(landing.for_each, (*path, "for_each"), templates=False)
                if entity is not None:
                    self.public_reads(landing.for_each.entity, landing.path, path)
            placeholders = PLACEHOLDER_RE.findall(landing.path)
            if not landing.path.startswith("/"):
                self.error((*path, "path"), f"a path starts with '/', like '/{landing.path}'")
            if landing.for_each is None and placeholders:
                self.error(
                    (*path, "path"),
                    f"'{{{placeholders[0]}}}' needs a record: add 'for_each' or write a fixed path",
                )
            if landing.for_each is not None and not placeholders:
                self.error(
                    (*path, "path"),
                    "a for_each landing makes one page per record; its path needs a placeholder such as {slug}",
                )
            if entity is not None:
                ename = landing.for_each.entity if landing.for_each else ""
                for placeholder in placeholders:
                    ftype = field_type_of(entity, placeholder)
                    if ftype is None and self.has_field(ename, placeholder):
                        continue
                    if ftype is None:
                        pool = [*entity.fields, "id"]
                        self.error(
                            (*path, "path"),
                            f"path names '{{{placeholder}}}', but {ename} has no field '{placeholder}'"
                            + did_you_mean(placeholder, pool),
                        )
                    elif ftype in ("list", "json", "text"):
                        self.error(
                            (*path, "path"),
                            f"'{placeholder}' is a {ftype} field and cannot be part of a path",
                        )
                    elif placeholder != "id" and not (
                        placeholder in entity.fields and entity.fields[placeholder].unique
                    ):
                        self.warn(
                            (*path, "path"),
                            f"'{placeholder}' is not unique: two {ename} records may get the same page",
                        )
            shape = PLACEHOLDER_RE.sub("{}", landing.path)
            if shape in shapes:
                other = shapes[shape]
                self.error(
                    (*path, "path"),
                    f"landings '{other}' and '{name}' produce the same path {landing.path} "
                    f"(the other at {self.index.value(('landings', other, 'path'))})",
                    related=[self.index.value(("landings", other, "path"))],
                )
            else:
                shapes[shape] = name
            for i, entry in enumerate(landing.blocks):
                if len(entry) != 1:
                    self.error(
                        (*path, "blocks", i), "a block is one key, its name, holding its parameters"
                    )
                    continue
                block_name, params = next(iter(entry.items()))
                if self.blocks is None:
                    continue
                block = self.blocks.get(block_name)
                if block is None:
                    self.error(
                        (*path, "blocks", i, block_name),
                        f"unknown block '{block_name}'{did_you_mean(block_name, self.blocks.blocks)}",
                        at_key=True,
                    )
                    continue
                check_block(self, block, params, (*path, "blocks", i, block_name))

    # webhooks -------------------------------------------------------------------------------

    def webhooks(self) -> None:
        for name, hook in self.spec.webhooks.items():
            path: KeyPath = ("webhooks", name)
            if not NAME_RE.match(name):
                self.error(
                    path,
                    f"webhook names are lowercase latin with underscores, not '{name}'",
                    at_key=True,
                )
            if not re.match(r"^https?://[^\s/]+", hook.url):
                self.error((*path, "url"), f"'{hook.url}' is not an http or https address")
            for entity in hook.events:
                if not self.known("entities", entity):
                    self.error(
                        (*path, "events", entity),
                        f"unknown entity '{entity}'{did_you_mean(entity, self.spec.entities)}",
                        at_key=True,
                    )
            if not hook.events:
                self.error((*path, "events"), "a webhook needs at least one entity to send")

    # seed -----------------------------------------------------------------------------------

    def seed(self) -> None:
        keys: dict[str, set[str]] = {}
        for ename, records in self.spec.seed.items():
            entity = self.spec.entities.get(ename)
            key = unique_key(entity) if entity else None
            if entity is None or key is None:
                continue
            field = entity.fields[key]
            found = set()
            for record in records:
                value = record.get(key) if isinstance(record, dict) else None
                if (
                    value is None
                    and field.type == "slug"
                    and field.from_
                    and isinstance(record, dict)
                ):
                    source = record.get(field.from_)
                    value = slugify(source) if isinstance(source, str) else None
                if value is not None:
                    found.add(str(value))
            keys[ename] = found

        for ename, records in self.spec.seed.items():
            path: KeyPath = ("seed", ename)
            if not self.known("entities", ename):
                self.error(
                    path,
                    f"unknown entity '{ename}'{did_you_mean(ename, self.spec.entities)}",
                    at_key=True,
                )
                continue
            entity = self.spec.entities.get(ename)
            if entity is None:
                continue
            seen_unique: dict[tuple[str, str], int] = {}
            for i, record in enumerate(records):
                self.seed_record(ename, entity, record, (*path, i), keys, seen_unique)

    def seed_record(
        self,
        ename: str,
        entity: Entity,
        record: Any,
        path: KeyPath,
        keys: dict[str, set[str]],
        seen_unique: dict[tuple[str, str], int],
    ) -> None:
        if not isinstance(record, dict):
            self.error(path, f"a seed record is a mapping of fields, got {_describe(record)}")
            return
        for fname, value in record.items():
            at = (*path, fname)
            field = entity.fields.get(fname)
            if fname in SYSTEM_FIELDS:
                self.error(at, f"'{fname}' is set by Ecospec, not by seed records", at_key=True)
                continue
            if field is None and self.has_field(ename, fname):
                continue
            if field is None or field.type == "list":
                self.error(
                    at,
                    f"{ename} has no field '{fname}'{did_you_mean(fname, entity.fields)}",
                    at_key=True,
                )
                continue
            if field.type == "ref" and field.to:
                target = self.spec.entities.get(field.to)
                tkey = unique_key(target) if target else None
                if target is not None and tkey is None:
                    self.error(at, f"seed refs match {field.to} on a unique field, and it has none")
                elif (
                    tkey is not None
                    and value is not None
                    and str(value) not in keys.get(field.to, set())
                ):
                    self.error(at, f"no {field.to} seed record has {tkey} '{value}'")
                continue
            if field.type == "json":
                continue
            problem = value_problem(field.type, value, field.values, field.decimal_places)
            if problem:
                self.error(at, problem)
                continue
            if field.type in ("int", "decimal", "money"):
                self.bounds(at, field, value)
            if (
                field.max_length is not None
                and isinstance(value, str)
                and len(value) > field.max_length
            ):
                self.error(at, f"longer than {field.max_length} characters")
            if field.unique and value is not None:
                slot = (fname, str(value))
                if slot in seen_unique:
                    self.error(
                        at,
                        f"{fname} '{value}' is taken by seed record {seen_unique[slot]} of {ename}",
                    )
                seen_unique[slot] = int(path[-1])
        for fname, field in entity.fields.items():
            derived = field.type == "slug" and field.from_ is not None
            source = record.get(field.from_ or "")
            if derived and field.unique and record.get(fname) is None and isinstance(source, str):
                slot = (fname, slugify(source))
                if slot in seen_unique:
                    self.error(
                        path,
                        f"{fname} '{slot[1]}' (made from {field.from_}) is taken by seed record "
                        f"{seen_unique[slot]} of {ename}",
                    )
                seen_unique[slot] = int(path[-1])
            if (
                field.required
                and field.default is None
                and not derived
                and record.get(fname) is None
            ):
                self.error(path, f"required field '{fname}' of {ename} is missing")


def _describe(value: Any) -> str:
    return describe_value(value)
