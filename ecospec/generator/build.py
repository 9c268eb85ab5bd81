"""`ecospec build`: every landing page rendered from blocks and live data, written atomically and
incrementally, with a manifest of what each page read."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from jinja2 import TemplateError
from markupsafe import Markup

from ecospec.generator.blocks import Block, BlockLibrary, ParamSpec
from ecospec.generator.errors import BuildError
from ecospec.generator.fieldtypes import AVERAGE_PLACES
from ecospec.generator.manifest import MANIFEST as MANIFEST
from ecospec.generator.manifest import PageIndex, frozen, page_index, read_manifest, write_manifest
from ecospec.generator.matching import matches
from ecospec.generator.model import FieldSpec, Landing, Spec
from ecospec.generator.parallel import MIN_PAGES, render_ahead
from ecospec.generator.render import compiled, is_template, render_text, sandbox
from ecospec.generator.sitedata import (
    DataError,
    DataSource,
    Reads,
    SiteData,
    cut_short,
    describe,
    id_order,
)

TEMPLATES = Path(__file__).parent / "templates"
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
Progress = Callable[[int, int], None]
# What a template may raise on data it did not expect (None where a number was, …), besides
# Jinja's own errors.
RENDER_ERRORS = (TemplateError, TypeError, ValueError, ArithmeticError)


@dataclass
class Page:
    path: str  # the URL path: /complexes/severnaia-gavan/
    landing: str
    item: dict[str, Any] | None
    html: bytes = b""
    reads: Reads = field(default_factory=Reads)
    inputs: str = ""  # hash of everything the page was made from
    scripts: list[str] = field(default_factory=list)

    @property
    def file(self) -> str:
        """Where the page goes in the output folder."""
        rel = self.path.lstrip("/")
        if rel == "" or rel.endswith("/"):
            return rel + "index.html"
        return rel


@dataclass(frozen=True)
class PageFailure:
    """A page that could not be made in a build that goes on without it (`keep_going`)."""

    landing: str
    declared: str  # where the landing is written: spec/landings/apartment.yaml:4:1
    path: str | None  # the page's URL path; None when the record gives it none
    entity: str | None
    item: Any  # the record's id, for a page made for_each record
    error: str
    kept: bool  # its previous file stands

    def __str__(self) -> str:
        page = self.path or "a page"
        record = f" for {self.entity} {self.item}" if self.entity else ""
        outcome = "its previous file stands" if self.kept else "it is left out"
        return (
            f"{page} (landing '{self.landing}', {self.declared}){record} failed: {self.error}; "
            f"{outcome}"
        )


@dataclass
class BuildReport:
    pages: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    changed_urls: list[str] = field(default_factory=list)
    failed: list[PageFailure] = field(default_factory=list)


def _fixed(spec: ParamSpec, value: Any) -> bool:
    """Whether a parameter resolves to the same value on every page: no query or aggregate in
    its type, no template in its value or in any default its type may fill in."""
    if spec.type in ("query", "aggregate") or _templated(value) or _templated(spec.default):
        return False
    return all(_fixed(sub, None) for sub in [*(spec.params or {}).values(), spec.of] if sub)


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        try:
            data = orjson.dumps(part, default=str, option=_DIGEST_OPTIONS)
        except orjson.JSONEncodeError:  # what orjson does not take (an int beyond 64 bits)
            data = json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode()
        h.update(data)
    return h.hexdigest()


_DIGEST_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


class SiteBuilder:
    def __init__(
        self, spec: Spec, library: BlockLibrary, source: DataSource, project: Path
    ) -> None:
        self.spec = spec
        self.library = library
        self.data = SiteData(spec, source)
        self.project = project
        self.env = sandbox()
        self.page_template = compiled((TEMPLATES / "page.html.j2").read_text(encoding="utf-8"))
        self.block_templates: dict[str, Any] = {}
        self.assets: dict[str, bytes] = {}
        self.css_url = ""
        self.landing_digests: dict[tuple[str, tuple[str, ...]], str] = {}
        self.theme_vars: dict[str, Markup] = {}
        # block parameters without templates or data, by (landing, block index, parameter)
        self.fixed_params: dict[tuple[str, int, str], Any] = {}
        self.fixed_slots: dict[tuple[str, int, str], bool] = {}
        self.page_template_stamp = (TEMPLATES / "page.html.j2").stat().st_mtime_ns
        self.script_urls: dict[str, str] = {}
        self.prefetched: dict[str, list[dict[str, Any]]] = {}
        # for a prefetch by a ref (complex: {eq: "{{ item.complex.id }}"}): its records by that
        # ref's id, so each page looks at its own records only
        self.prefetch_index: dict[str, tuple[str, dict[str, list[dict[str, Any]]]]] = {}
        self.hashed = True  # asset names carry their content's hash (off in `ecospec dev`)

    # assets -------------------------------------------------------------------------------------

    def used_blocks(self) -> list[Block]:
        names = sorted(
            {next(iter(b)) for landing in self.spec.landings.values() for b in landing.blocks}
        )
        found = []
        for name in names:
            block = self.library.get(name)
            if block is None:
                raise BuildError(f"no block named '{name}' (in blocks/ or the built-in ones)")
            found.append(block)
        return found

    def prepare_assets(self) -> None:
        self.landing_digests.clear()  # they hash the stylesheet's name
        blocks = self.used_blocks()
        css = (TEMPLATES / "base.css").read_text(encoding="utf-8")
        css += "".join(f"\n/* {b.name} */\n{b.css}" for b in blocks if b.css)
        data = css.encode()
        stamp = f".{hashlib.sha256(data).hexdigest()[:10]}" if self.hashed else ""
        name = f"assets/site{stamp}.css"
        self.assets[name] = data
        self.css_url = "/" + name
        scripts = {b.name: b.script for b in blocks if b.script}
        form_js = (TEMPLATES / "form.js").read_text(encoding="utf-8")
        scripts["_form"] = form_js
        for block_name, script in sorted(scripts.items()):
            payload = script.encode()
            stamp = f".{hashlib.sha256(payload).hexdigest()[:10]}" if self.hashed else ""
            path = f"assets/{block_name.strip('_')}{stamp}.js"
            self.assets[path] = payload
            self.script_urls[block_name] = "/" + path
        for block in blocks:
            self.block_templates[block.name] = compiled(block.template)

    # pages --------------------------------------------------------------------------------------

    async def plan(
        self,
        landings: set[str] | None = None,
        failed: list[PageFailure] | None = None,
        items: dict[str, set[str]] | None = None,
    ) -> list[Page]:
        """Every page to make. With `failed`, a record that gives its page no path is reported
        there and left out, instead of failing the build. `items` narrows for_each landings to
        the records of these ids (by landing)."""
        pages: list[Page] = []
        for name, landing in sorted(self.spec.landings.items()):
            if landings is not None and name not in landings:
                continue
            if landing.for_each is None:
                pages.append(Page(landing.path, name, None))
                continue
            q = landing.for_each
            where = q.where
            if items is not None and name in items:
                if not items[name]:
                    continue
                ids = {"id": {"in": sorted(items[name], key=id_order)}}
                where = {"and": [where, ids]} if where else ids
            reads = Reads()
            for item in await self.data.records(q.entity, where, q.order_by, q.limit, reads):
                try:
                    path = self.page_path(landing, item)
                except BuildError as exc:
                    if failed is None:
                        raise
                    failed.append(self.failure(Page("", name, item), exc, kept=False))
                    continue
                pages.append(Page(path, name, item))
        seen: dict[str, str] = {}
        for page in pages:
            if page.path in seen:
                raise BuildError(
                    f"landings '{seen[page.path]}' and '{page.landing}' both make the page {page.path}"
                )
            seen[page.path] = page.landing
        return pages

    def failure(self, page: Page, error: BuildError, kept: bool) -> PageFailure:
        landing = self.spec.landings[page.landing]
        location = landing.location
        return PageFailure(
            landing=page.landing,
            declared=str(location) if location else f"landings.{page.landing}",
            path=page.path or None,
            entity=landing.for_each.entity if landing.for_each and page.item else None,
            item=(page.item or {}).get("id"),
            error=str(error),
            kept=kept,
        )

    @staticmethod
    def page_path(landing: Landing, item: dict[str, Any]) -> str:
        def value(match: re.Match[str]) -> str:
            found = item.get(match.group(1))
            if found is None or found == "":
                raise BuildError(
                    f"{landing.path}: the record {item.get('id')} has no {match.group(1)}"
                )
            return str(found)

        return PLACEHOLDER_RE.sub(value, landing.path)

    def context(self, page: Page) -> dict[str, Any]:
        landing = self.spec.landings[page.landing]
        return {
            "item": page.item,
            "site": {
                "title": self.spec.title or self.spec.ecosystem,
                "base_url": self.spec.site.base_url.rstrip("/"),
                "locale": self.spec.locale,
            },
            "page": {
                "path": page.path,
                "url": self.url(page.path),
                "landing": page.landing,
                "title": landing.title,
            },
        }

    def url(self, path: str) -> str:
        return self.spec.site.base_url.rstrip("/") + path

    async def resolve(
        self, spec: ParamSpec, value: Any, ctx: dict[str, Any], reads: Reads, where: str
    ) -> Any:
        """A parameter's value for the template: strings rendered, queries run, defaults filled."""
        if value is None:
            value = spec.default
            if value is None:
                return [] if spec.type == "list" else None
        kind = spec.type
        if kind == "query":
            q = await self.rendered(value, ctx, where)
            found = self.from_prefetch(value, q, reads)
            if found is not None:
                limit = q.get("limit")
                return found[:limit] if limit else found
            return await self.data.records(
                q["entity"], q.get("where"), q.get("order_by") or [], q.get("limit"), reads
            )
        if kind == "aggregate":
            q = await self.rendered(value, ctx, where)
            what = f"{q.get('op', 'count')}({q.get('field') or ''})"
            found = self.from_prefetch(value, q, reads, what)
            if found is not None:
                return fold(self.spec, q["entity"], q.get("op", "count"), q.get("field"), found)
            return await self.data.aggregate(
                q["entity"], q.get("where"), q.get("op", "count"), q.get("field"), reads
            )
        if kind == "list":
            item_spec = spec.of or ParamSpec(type="object", params=spec.params or {})
            return [
                await self.resolve(item_spec, v, ctx, reads, f"{where}[{i}]")
                for i, v in enumerate(value)
            ]
        if kind in ("object", "image", "link") and isinstance(value, dict):
            params = spec.params or {}
            out = {}
            for key, sub in value.items():
                sub_spec = params.get(key) or ParamSpec(type="text")
                out[key] = await self.resolve(sub_spec, sub, ctx, reads, f"{where}.{key}")
            for key, sub_spec in params.items():
                if key not in out:
                    out[key] = await self.resolve(sub_spec, None, ctx, reads, f"{where}.{key}")
            return out
        if kind == "image" and isinstance(value, str):
            return {"src": self.text(value, ctx, where), "alt": ""}
        if kind == "values" and isinstance(value, dict):
            return await self.rendered(value, ctx, where)
        if isinstance(value, str):
            return self.text(value, ctx, where)
        return value

    # prefetching ---------------------------------------------------------------------------------

    async def prefetch(self, pages: list[Page]) -> None:
        """One query per templated block query of a for_each landing, instead of one per page.

        A query whose filter compares a field with `{{ item.… }}` (eq) is run once for all the
        landing's pages with `in`; each page then filters the records in Python, with SQL's
        semantics. Anything that cannot be told apart that way is asked per page as before."""
        by_landing: dict[str, list[Page]] = {}
        for page in pages:
            if page.item is not None:
                by_landing.setdefault(page.landing, []).append(page)
        for name, group in by_landing.items():
            if len(group) < 2:
                continue
            landing = self.spec.landings[name]
            for entry in landing.blocks:
                block_name, raw = next(iter(entry.items()))
                block = self.library.get(block_name)
                if block is None:
                    continue
                for spec_, value in _data_params(block.spec.params, raw or {}):
                    await self._prefetch_one(spec_, value, group)

    async def _prefetch_one(
        self, spec: ParamSpec, value: dict[str, Any], group: list[Page]
    ) -> None:
        key = json.dumps(value, sort_keys=True, ensure_ascii=False)
        where = value.get("where")
        if (
            key in self.prefetched
            or not isinstance(where, dict)
            or "{{" not in json.dumps(where, ensure_ascii=False)
        ):
            return
        templated = [
            k
            for k, cond in where.items()
            if isinstance(cond, dict) and isinstance(cond.get("eq"), str) and "{{" in cond["eq"]
        ]
        if not templated:
            return
        field_name = templated[0]
        static = {k: v for k, v in where.items() if "{{" not in json.dumps(v, ensure_ascii=False)}
        values = set()
        for page in group:
            try:
                rendered = self.text(where[field_name]["eq"], self.context(page), "prefetch")
            except BuildError:
                continue  # the page fails when it is rendered, where its error names the block
            values.add(rendered)
        bulk = {**static, field_name: {"in": sorted(values)}}
        order = value.get("order_by") or [] if spec.type == "query" else []
        records = await self.data.records(value["entity"], bulk, order, None, Reads())
        self.prefetched[key] = records
        fields = self.spec.entities[value["entity"]].fields
        if field_name == "id" or (field_name in fields and fields[field_name].type == "ref"):
            index: dict[str, list[dict[str, Any]]] = {}
            for record in records:
                ref = record.get(field_name)
                if isinstance(ref, dict):
                    ref = ref.get("id")
                if ref is not None:
                    index.setdefault(str(ref), []).append(record)
            self.prefetch_index[key] = (field_name, index)

    def from_prefetch(
        self, raw: Any, rendered: dict[str, Any], reads: Reads, what: str = ""
    ) -> list[dict[str, Any]] | None:
        if not isinstance(raw, dict):
            return None
        key = json.dumps(raw, sort_keys=True, ensure_ascii=False)
        records = self.prefetched.get(key)
        if records is None:
            return None
        entity = rendered["entity"]
        where = rendered.get("where")
        if key in self.prefetch_index and isinstance(where, dict):
            # the others do not match: their ref differs from the one this page asks for
            field_name, index = self.prefetch_index[key]
            records = index.get(str(where[field_name]["eq"]), [])
        found = []
        for record in records:
            verdict = matches(self.spec, entity, where, record)
            if verdict is None:
                return None  # the database must decide: ask it directly
            if verdict:
                found.append(record)
        limit = rendered.get("limit")
        shown = found[:limit] if limit else found
        if what:  # an aggregate reads no records a change could enter or leave by id
            reads.note(entity, [], describe(entity, where, [], None, what), where)
        else:
            order = rendered.get("order_by") or []
            description = describe(entity, where, order, limit)
            cut = cut_short(found, order, limit)
            reads.note(entity, [str(r["id"]) for r in shown], description, where, cut)
            self.data.note_refs(entity, shown, reads)
        return found

    def text(self, value: str, ctx: dict[str, Any], where: str) -> str:
        try:
            return render_text(value, ctx)
        except RENDER_ERRORS as exc:
            raise BuildError(f"{where}: {exc}") from None

    async def rendered(self, value: Any, ctx: dict[str, Any], where: str) -> Any:
        """Every string inside a structure rendered as a template (query filters, presets)."""
        if isinstance(value, str):
            return self.text(value, ctx, where)
        if isinstance(value, list):
            return [await self.rendered(v, ctx, where) for v in value]
        if isinstance(value, dict):
            return {k: await self.rendered(v, ctx, where) for k, v in value.items()}
        return value

    async def render(self, page: Page, previous_inputs: str | None = None) -> bool:
        """Resolve a page's data, then render it unless its inputs are what they were.

        Returns whether the page was rendered (False: unchanged, the file on disk stands)."""
        landing = self.spec.landings[page.landing]
        ctx = self.context(page)
        where = f"landings.{page.landing}"
        theme = {**self.spec.site.theme, **landing.theme}
        if page.item is not None and landing.for_each is not None:
            page.reads.note(landing.for_each.entity, [str(page.item["id"])], "for_each", None)
            self.data.note_refs(landing.for_each.entity, [page.item], page.reads)
        resolved: list[tuple[Block, int, dict[str, Any], dict[str, Any]]] = []
        for index, entry in enumerate(landing.blocks):
            name, raw = next(iter(entry.items()))
            block = self.library.get(name)
            if block is None:
                raise BuildError(f"{where}.blocks[{index}]: no block named '{name}'")
            params: dict[str, Any] = {}
            given = raw or {}
            for key, spec in block.spec.params.items():
                slot = (page.landing, index, key)
                if slot in self.fixed_params:
                    params[key] = self.fixed_params[slot]
                    continue
                value = given.get(key)
                params[key] = await self.resolve(
                    spec, value, ctx, page.reads, f"{where}.blocks[{index}].{name}.{key}"
                )
                fixed = self.fixed_slots.get(slot)
                if fixed is None:
                    fixed = self.fixed_slots[slot] = _fixed(spec, value)
                if fixed:
                    # the same on every page of the landing: resolved once (templates cannot
                    # change what they are given: the sandbox is immutable)
                    self.fixed_params[slot] = params[key]
            resolved.append((block, index, params, raw or {}))
            if block.script and self.script_urls[name] not in page.scripts:
                page.scripts.append(self.script_urls[name])
            if block.spec.form and self.script_urls["_form"] not in page.scripts:
                page.scripts.append(self.script_urls["_form"])
        page.inputs = _digest(
            self.landing_digest(page.landing, theme, [b for b, _, _, _ in resolved]),
            page.item,
            [[b.name, params] for b, _, params, _ in resolved],
            page.scripts,
        )
        if previous_inputs == page.inputs:
            return False
        regions: dict[str, list[str]] = {"header": [], "main": [], "footer": []}
        for block, index, params, raw in resolved:
            block_ctx = {
                **ctx,
                "params": params,
                "block": {"name": block.name, "index": index, "id": f"b{index}-{block.name}"},
                "theme": theme,
            }
            if block.spec.form:
                block_ctx["form"] = self.form(page, landing, index, raw)
            try:
                html = self.block_templates[block.name].render(block_ctx)
            except RENDER_ERRORS as exc:
                raise BuildError(f"{where}.blocks[{index}] ({block.name}): {exc}") from None
            regions[block.spec.region].append(html)
        seo = landing.seo
        head = {
            "title": self.text(
                seo.title or landing.title or self.spec.title or "", ctx, f"{where}.seo.title"
            ),
            "description": self.text(
                seo.description or "", ctx, f"{where}.seo.description"
            ).strip(),
            "canonical": self.text(seo.canonical, ctx, f"{where}.seo.canonical")
            if seo.canonical
            else self.url(page.path),
            "image": self.absolute(self.text(seo.image, ctx, f"{where}.seo.image"))
            if seo.image
            else "",
            "noindex": seo.noindex,
        }
        html = self.page_template.render(
            **ctx,
            seo=head,
            css=self.css_url,
            scripts=page.scripts,
            theme=self.theme_css(page.landing, theme),
            header=Markup("".join(regions["header"])),
            main=Markup("".join(regions["main"])),
            footer=Markup("".join(regions["footer"])),
        )
        page.html = html.encode()
        return True

    def theme_css(self, landing: str, theme: dict[str, str]) -> Markup:
        """A landing's theme as CSS custom properties, made once per landing."""
        found = self.theme_vars.get(landing)
        if found is None:
            found = self.theme_vars[landing] = _css_vars(theme)
        return found

    def landing_digest(self, name: str, theme: dict[str, Any], blocks: list[Block]) -> str:
        """The part of a page's inputs its landing's pages share (the landing, its theme, the
        stylesheet, the templates), hashed once per landing and build."""
        key = (name, tuple(b.name for b in blocks))
        found = self.landing_digests.get(key)
        if found is None:
            found = self.landing_digests[key] = _digest(
                self.spec.landings[name].model_dump(mode="json", by_alias=True),
                theme,
                self.css_url,
                sorted({b.name: b.template for b in blocks}.items()),
                self.page_template_stamp,
            )
        return found

    def absolute(self, url: str) -> str:
        return url if url.startswith(("http://", "https://")) else self.url(url)

    def form(
        self, page: Page, landing: Landing, index: int, params: dict[str, Any]
    ) -> dict[str, Any]:
        """What a form block needs to post: the action, the fields with their labels and types."""
        entity_name = params.get("creates")
        entity = self.spec.entities.get(entity_name or "")
        fields = []
        for name in params.get("fields") or []:
            f = entity.fields.get(name) if entity else None
            if f is None:
                continue
            fields.append(
                {
                    "name": name,
                    "label": field_label(name, f),
                    "input": _INPUTS.get(f.type, "text"),
                    "type": f.type,
                    "required": f.required,
                    "max_length": f.max_length,
                    "values": f.values or [],
                }
            )
        runtime = self.spec.site.runtime_url.rstrip("/")
        return {
            "action": f"{runtime}/forms/{page.landing}/{index}",
            "fields": fields,
            "item": (page.item or {}).get("id"),
            "honeypot": "website",
        }

    # writing ------------------------------------------------------------------------------------

    def extras(self, pages: Mapping[str, dict[str, Any]]) -> dict[str, bytes]:
        """sitemap.xml, robots.txt and 404.html, for pages given by path with their manifest
        entries."""
        listed = {name for name, landing in self.spec.landings.items() if not landing.seo.noindex}
        base = _xml(self.spec.site.base_url.rstrip("/"))
        sitemap = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]
        sitemap += [
            f"  <url><loc>{base}{_xml(path)}</loc></url>"
            for path in sorted(pages)
            if pages[path]["landing"] in listed
        ]
        sitemap.append("</urlset>")
        robots = f"User-agent: *\nAllow: /\nSitemap: {self.url('/sitemap.xml')}\n"
        not_found = compiled((TEMPLATES / "404.html.j2").read_text(encoding="utf-8")).render(
            site={"title": self.spec.title or self.spec.ecosystem, "locale": self.spec.locale},
            css=self.css_url,
            theme=_css_vars(self.spec.site.theme),
        )
        return {
            "sitemap.xml": ("\n".join(sitemap) + "\n").encode(),
            "robots.txt": robots.encode(),
            "404.html": not_found.encode(),
        }


def field_label(name: str, spec: FieldSpec) -> str:
    """The label a form shows for a field: its title, else its name made readable."""
    return spec.title or name.replace("_", " ").capitalize()


_INPUTS = {
    "phone": "tel",
    "email": "email",
    "url": "url",
    "int": "number",
    "decimal": "number",
    "money": "number",
    "date": "date",
    "datetime": "datetime-local",
    "text": "textarea",
    "enum": "select",
    "bool": "checkbox",
    "ref": "select",
}


def _data_params(specs: dict[str, ParamSpec], raw: Any) -> list[tuple[ParamSpec, dict[str, Any]]]:
    """The query and aggregate parameters inside a block's parameters, however deep."""
    found: list[tuple[ParamSpec, dict[str, Any]]] = []
    if not isinstance(raw, dict):
        return found
    for key, spec in specs.items():
        value = raw.get(key)
        if spec.type in ("query", "aggregate") and isinstance(value, dict):
            found.append((spec, value))
        elif spec.type == "list" and isinstance(value, list):
            item = spec.of or ParamSpec(type="object", params=spec.params or {})
            for entry in value:
                if item.type in ("query", "aggregate") and isinstance(entry, dict):
                    found.append((item, entry))
                elif item.params:
                    found.extend(_data_params(item.params, entry))
        elif spec.type == "object" and spec.params:
            found.extend(_data_params(spec.params, value))
    return found


def fold(
    spec: Spec, entity: str, op: str, field_name: str | None, records: list[dict[str, Any]]
) -> Any:
    """An aggregate computed from records, exactly as the database computes it."""
    if op == "count":
        return len(records)
    f = spec.entities[entity].fields.get(field_name or "")
    values: list[Any] = [
        r[field_name] for r in records if field_name and r.get(field_name) is not None
    ]
    if f is None or not values:
        return None
    if f.type in ("money", "decimal"):
        numbers = [Decimal(str(v)) for v in values]
        unit = Decimal(1).scaleb(-f.decimal_places)
        total = sum(numbers, Decimal(0))
        if op == "sum":
            return str(total.quantize(unit))
        if op == "avg":
            return str(mean(int(total.scaleb(f.decimal_places)), len(numbers), f.decimal_places))
        chosen = min(numbers) if op == "min" else max(numbers)
        return str(chosen.quantize(unit))
    if f.type == "int":
        if op == "sum":
            return sum(int(v) for v in values)
        if op == "avg":
            return float(mean(sum(int(v) for v in values), len(values), 0, AVERAGE_PLACES))
    return min(values) if op == "min" else max(values)


def mean(total: int, count: int, scale: int, places: int = 0) -> Decimal:
    """The average of `count` values whose sum is `total` (in units of 10**-scale), exact to
    `scale + places` decimal places, rounded half away from zero: as the databases compute it."""
    scaled, rest = divmod(abs(total) * 10**places, count)
    scaled += 2 * rest >= count
    return Decimal(scaled if total >= 0 else -scaled).scaleb(-scale - places)


def _css_vars(theme: dict[str, str]) -> Markup:
    """Theme tokens as CSS custom properties (font_heading -> --font-heading). Values that could
    end the declaration or the style element are left out, so the result is safe in <style>."""
    safe = {
        k.replace("_", "-"): str(v)
        for k, v in sorted(theme.items())
        if re.match(r"^[a-z0-9_-]+$", k) and not re.search(r"[;{}<>\\]", str(v))
    }
    return Markup("".join(f"--{k}:{v};" for k, v in safe.items()))


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _linked(spec: Spec, entity: str) -> set[str]:
    """The entities a record's filters and permissions may look into: those its refs and lists
    lead to, however far."""
    found: set[str] = set()
    todo = [entity]
    while todo:
        current = spec.entities.get(todo.pop())
        if current is None:
            continue
        for f in current.fields.values():
            target = f.to if f.type == "ref" else f.of if f.type == "list" else None
            if target and target not in found:
                found.add(target)
                todo.append(target)
    return found


def _narrow(
    spec: Spec,
    index: PageIndex,
    landings: set[str] | None,
    paths: Collection[str],
    changed: Mapping[str, Collection[str]],
) -> tuple[dict[str, set[str]], dict[str, Any], dict[str, Any]]:
    """For a rebuild after changes to the records in `changed` (ids by entity): the records to
    plan each for_each landing's pages from, and the pages and failures left as they are.

    A landing's pages are planned afresh from the changed records of its entity and the records
    of the pages in `paths`; the other pages stand (their files are taken to be there, as the
    manifest says: `ecospec build` puts back a file removed by hand). A landing is planned
    whole when a change could move records in or out of it otherwise: a change to an entity its
    records lead to (a filter or a permission may look there), or a limit."""
    items: dict[str, set[str]] = {}
    carried: dict[str, Any] = {}
    carried_failed: dict[str, Any] = {}
    for name, landing in spec.landings.items():
        q = landing.for_each
        if q is None or q.limit is not None or (landings is not None and name not in landings):
            continue
        linked = _linked(spec, q.entity)
        if any(entity in linked for entity in changed if entity != q.entity):
            continue
        built, failed = index.pages_of(name), index.pages_of(name, "failed")
        wanted = {str(i) for i in changed.get(q.entity, ())}
        for path in paths:
            for entries in (built, failed):
                if path in entries:
                    wanted.add(str(entries[path].get("item")))
        for part, entries, kept in (("pages", built, carried), ("failed", failed, carried_failed)):
            if len(entries) < 8 * len(wanted):
                kept.update((p, e) for p, e in entries.items() if str(e.get("item")) not in wanted)
            else:  # the usual case: a few pages out of many, found by their records
                rest = dict(entries)
                for item in wanted:
                    for holder, path in index.items.get((name, item), ()):
                        if holder == part:
                            del rest[path]
                kept.update(rest)
        items[name] = wanted
    return items, carried, carried_failed


Affected = Callable[[dict[str, Any]], bool]
Selected = Callable[[str, dict[str, Any]], bool]  # a page, by its path and manifest entry


def _selector(only: Affected | None, paths: Collection[str] | None) -> Selected | None:
    if paths is not None:
        wanted = set(paths)

        def by_path(path: str, entry: dict[str, Any]) -> bool:
            return path in wanted

        return by_path
    if only is not None:
        chosen = only

        def by_entry(path: str, entry: dict[str, Any]) -> bool:
            return chosen(entry)

        return by_entry
    return None


async def build_site(
    spec: Spec,
    library: BlockLibrary,
    source: DataSource,
    project: Path,
    out: Path,
    *,
    progress: Progress | None = None,
    only: Affected | None = None,
    paths: Collection[str] | None = None,
    landings: set[str] | None = None,
    hashed_assets: bool = True,
    keep_going: bool = False,
    changed: Mapping[str, Collection[str]] | None = None,
    workers: int = 1,
    min_parallel: int = MIN_PAGES,
) -> BuildReport:
    """Build the sites into `out`. With `only`, pages already built whose manifest entry it does
    not select are left as they are (new and removed pages are always handled); `paths` does the
    same by the pages' paths (a live rebuild finds them in the manifest's index); `landings`
    names the landings whose pages may be rendered, so only their queries are prefetched.
    `changed` (with `paths`) names the records that changed since the last build, ids by
    entity: the pages of a for_each landing are then planned from those records and the pages in
    `paths`, not from every record (see `_narrow`). With `workers` above one, the pages are
    rendered in that many forked processes (see generator.parallel) when there are at least
    `min_parallel` to render.

    A page that fails to render fails the build, before anything is written; with `keep_going`
    (the live rebuilds after a change) it is reported in `failed` instead and the other pages
    are written: its previous file and manifest entry stand, and a page never built is left out.
    Either way the manifest lists it under `failed`, with what it read before it failed, so later
    rebuilds try it again only when a change touches it. When the data source failed and no page
    could read its data, the build still fails (the source is away: worth trying again)."""
    builder = SiteBuilder(spec, library, source, project)
    builder.hashed = hashed_assets
    builder.prepare_assets()
    report = BuildReport()
    previous = read_manifest(out)
    old_pages: dict[str, Any] = (
        previous.get("pages", {}) if isinstance(previous.get("pages"), dict) else {}
    )
    old_failed: dict[str, Any] = (
        previous.get("failed", {}) if isinstance(previous.get("failed"), dict) else {}
    )
    items: dict[str, set[str]] | None = None
    carried: dict[str, Any] = {}  # pages of for_each landings left as they are, unplanned
    carried_failed: dict[str, Any] = {}
    select = _selector(only, paths)
    if paths is not None and changed is not None:
        items, carried, carried_failed = _narrow(
            spec, page_index(spec, out), landings, paths, changed
        )
    pages = await builder.plan(landings, report.failed if keep_going else None, items)
    failed: dict[str, Any] = {}  # the manifest's record of pages that failed
    others: dict[str, Any] = {}  # pages of landings this build leaves alone
    if landings is not None:
        others = {
            path: entry
            for path, entry in old_pages.items()
            if isinstance(entry, dict)
            and entry.get("landing") not in landings
            and entry.get("landing") in spec.landings
        }
    # which pages to render: decided before any query, so only theirs are prefetched
    plans: list[tuple[Page, dict[str, Any], bool, bool]] = []
    for page in pages:
        found = old_pages.get(page.path)
        old: dict[str, Any] = found if isinstance(found, dict) else {}
        on_disk = bool(old) and old.get("file") == page.file and (out / page.file).is_file()
        failed_before = old_failed.get(page.path)
        if isinstance(failed_before, dict):  # it failed: what it read then counts too
            untouched = (
                select is not None
                and not select(page.path, failed_before)
                and not (on_disk and select(page.path, old))
            )
        else:
            untouched = select is not None and on_disk and not select(page.path, old)
        plans.append((page, old, on_disk, untouched))
    await builder.prefetch([page for page, _, _, untouched in plans if not untouched])
    todo = [i for i, (_, _, _, untouched) in enumerate(plans) if not untouched]
    # pages helpers rendered are written beside their place while the others render, and put in
    # place with the rest once every page has rendered (see _Staged)
    staged = _Staged(out)
    try:
        rendered_ahead = await render_ahead(
            builder,
            [(plans[i][0], plans[i][1].get("inputs") if plans[i][2] else None) for i in todo],
            workers,
            progress,
            min_parallel,
            arrived=lambda results: staged.stage_all(
                (plans[todo[k]][0].file, found.html)
                for k, found in results.items()
                if found.changed
            ),
        )
        ahead = {todo[k]: found for k, found in rendered_ahead.items()}
        files: dict[str, bytes] = {}
        kept: set[str] = set()
        entries: dict[str, Any] = {}
        report.pages = len(pages) + len(carried)
        read = 0  # pages whose data was read
        source_failure: DataError | None = None
        for i, (page, old, on_disk, untouched) in enumerate(plans):
            failed_before = old_failed.get(page.path)
            if untouched:
                if on_disk:
                    kept.add(page.file)
                    entries[page.path] = old
                if isinstance(failed_before, dict):
                    failed[page.path] = failed_before
            else:
                previous_inputs = old.get("inputs") if on_disk else None
                try:
                    done = ahead.get(i)
                    if done is not None:
                        rendered = done.apply(page)
                    else:
                        rendered = await builder.render(page, previous_inputs)
                except BuildError as exc:
                    if not keep_going:
                        raise
                    if isinstance(exc, DataError):
                        source_failure = source_failure or exc
                    report.failed.append(builder.failure(page, exc, kept=on_disk))
                    failed[page.path] = {
                        "landing": page.landing,
                        "item": (page.item or {}).get("id"),
                        "error": str(exc),
                        "reads": frozen(page.reads.to_json()),
                    }
                    if on_disk:
                        kept.add(page.file)
                        entries[page.path] = old
                else:
                    read += 1
                    if rendered:
                        files[page.file] = page.html
                    else:
                        kept.add(page.file)
                        report.unchanged += 1
                    entries[page.path] = {
                        "file": page.file,
                        "landing": page.landing,
                        "item": (page.item or {}).get("id"),
                        "inputs": page.inputs,
                        "reads": frozen(page.reads.to_json()),
                    }
            if progress and not ahead:
                progress(i + 1, len(plans))
        if source_failure is not None and not read:
            raise source_failure
        for index, failure in enumerate(report.failed):
            if failure.path is not None:
                continue
            # a record that gives its page no path: its page as last built stands
            for path, entry in old_pages.items():
                if (
                    isinstance(entry, dict)
                    and path not in entries
                    and entry.get("landing") == failure.landing
                    and entry.get("item") == failure.item
                    and (out / str(entry.get("file"))).is_file()
                ):
                    entries[path] = entry
                    kept.add(entry["file"])
                    report.failed[index] = replace(failure, path=path, kept=True)
        for path, entry in [*carried.items(), *others.items()]:
            if path not in entries:
                entries[path] = entry
                kept.add(entry["file"])
        for path, entry in carried_failed.items():
            failed.setdefault(path, entry)
        if landings is not None:
            for path, entry in old_failed.items():
                if isinstance(entry, dict) and entry.get("landing") not in landings:
                    failed.setdefault(path, entry)
        files.update(builder.assets)
        files.update(builder.extras(entries))
        copied = _sync_static(project / "static", out, report)
        manifest: dict[str, Any] = {  # its keys are sorted as it is written
            "pages": entries,
            "files": sorted(set(files) | kept | copied),
        }
        if failed:
            manifest["failed"] = failed
        _write(out, files, previous, manifest, report, builder, staged)
        return report
    except BaseException:
        staged.discard()  # the site stays as it was
        raise


def _write(
    out: Path,
    files: dict[str, bytes],
    previous: dict[str, Any],
    manifest: dict[str, Any],
    report: BuildReport,
    builder: SiteBuilder,
    staged: _Staged,
) -> None:
    """Write what changed, remove what is gone; everything was rendered before the first write."""
    out.mkdir(parents=True, exist_ok=True)
    page_files = {
        entry["file"]: path
        for path, entry in manifest["pages"].items()
        if entry["file"] in files  # a live rebuild writes a few pages out of many
    }
    ordered = sorted(files.items())
    if len(ordered) > WRITE_THREADS * 8:
        # the time goes to the file system (a folder and a file a page), which works on several
        # at once; the Python side is little. A few dozen files a task: a task for each would
        # cost more to hand out than to write.
        size = -(-len(ordered) // (WRITE_THREADS * 4))
        chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        with ThreadPoolExecutor(WRITE_THREADS) as pool:
            written = [
                done
                for found in pool.map(lambda chunk: _put_files(staged, chunk), chunks)
                for done in found
            ]
    else:
        written = _put_files(staged, ordered)
    staged.drop()  # nothing, unless a page staged was not to be written after all
    for (rel, _), was_written in zip(ordered, written, strict=True):
        if not was_written:
            if rel in page_files:
                report.unchanged += 1
            continue
        report.written.append(rel)
        if rel in page_files:
            report.changed_urls.append(builder.url(page_files[rel]))
        elif rel in ("sitemap.xml", "robots.txt", "404.html"):
            report.changed_urls.append(builder.url("/" + rel))
    old_files = previous.get("files", []) if isinstance(previous.get("files"), list) else []
    old_pages = previous.get("pages", {}) if isinstance(previous.get("pages"), dict) else {}
    gone = sorted(set(old_files) - set(manifest["files"]))
    old_by_file = (
        {entry.get("file"): path for path, entry in old_pages.items() if isinstance(entry, dict)}
        if gone
        else {}
    )
    for rel in gone:
        target = (out / rel).resolve()
        if out.resolve() not in target.parents or not target.is_file():
            continue
        target.unlink()
        report.removed.append(rel)
        if rel in old_by_file:
            report.changed_urls.append(builder.url(old_by_file[rel]))
        _prune(target.parent, out.resolve())
    if (out / MANIFEST).is_file() and manifest == previous:
        return
    write_manifest(out, manifest, builder.spec)


WRITE_THREADS = 8


def _put_files(staged: _Staged, files: list[tuple[str, bytes]]) -> list[bool]:
    return [staged.place(rel, data) for rel, data in files]


class _Staged:
    """Pages written beside their place (`name.tmp`) while other pages still render, so that the
    writing overlaps the rendering; put in place (renamed) with the rest of the build's files
    once every page has rendered, or removed if the build fails: until then the site is as it
    was."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.made_out = not out.exists()
        # by file: its content, and whether it was written beside (False: the file there has it)
        self.files: dict[str, tuple[bytes, bool]] = {}
        self.folders: list[str] = []  # made for new pages

    def stage_all(self, files: Iterable[tuple[str, bytes]]) -> None:
        for rel, data in files:
            name = os.fspath(self.out / rel)
            try:
                with open(name, "rb") as current:
                    differs = current.read() != data
            except FileNotFoundError:
                folder = os.path.dirname(name)
                if not os.path.isdir(folder):
                    os.makedirs(folder)
                    self.folders.append(folder)
                differs = True
            if differs:
                with open(name + ".tmp", "wb") as fresh:
                    fresh.write(data)
            self.files[rel] = (data, differs)

    def place(self, rel: str, data: bytes) -> bool:
        """Put a file in place (see put_file); whether it was written."""
        found = self.files.pop(rel, None)
        name = os.fspath(self.out / rel)
        if found is None or (found[0] is not data and found[0] != data):
            if found is not None and found[1]:
                os.unlink(name + ".tmp")
            return put_file(self.out / rel, data)
        if found[1]:
            os.replace(name + ".tmp", name)
        return found[1]

    def drop(self) -> None:
        """Remove what was staged and not put in place."""
        for rel, (_, written) in self.files.items():
            if written:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.fspath(self.out / rel) + ".tmp")
        self.files.clear()

    def discard(self) -> None:
        """Remove what was staged, and the folders made for it."""
        self.drop()
        root = self.out.resolve()
        for folder in self.folders:
            _prune(Path(folder).resolve(), root)
        if self.made_out and self.out.is_dir() and not any(self.out.iterdir()):
            self.out.rmdir()
        self.folders.clear()


def put_file(target: Path, data: bytes) -> bool:
    """Write a file unless it holds `data` already, as a new file put in place at once; whether
    it was written."""
    name = os.fspath(target)
    try:
        with open(name, "rb") as current:
            if current.read() == data:
                return False
    except FileNotFoundError:
        os.makedirs(os.path.dirname(name), exist_ok=True)
    tmp = name + ".tmp"
    with open(tmp, "wb") as fresh:
        fresh.write(data)
    os.replace(tmp, name)
    return True


def _sync_static(static: Path, out: Path, report: BuildReport) -> set[str]:
    """Copy the project's static files into the output, skipping those already there unchanged
    (same size and modification time)."""
    copied: set[str] = set()
    if not static.is_dir():
        return copied
    for path in sorted(static.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(static).as_posix()
        copied.add(rel)
        target = out / rel
        stat = path.stat()
        if target.is_file():
            have = target.stat()
            if have.st_size == stat.st_size and int(have.st_mtime) == int(stat.st_mtime):
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        report.written.append(rel)
    return copied


def _prune(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def progress_bar(stream: Any = None) -> Progress:
    """A one-line progress bar on a terminal; silent elsewhere (CI logs stay clean)."""
    out = stream or sys.stderr
    interactive = hasattr(out, "isatty") and out.isatty()

    def show(done: int, total: int) -> None:
        if not interactive:
            return
        width = 30
        filled = width * done // max(total, 1)
        out.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} pages")
        if done == total:
            out.write("\n")
        out.flush()

    return show


__all__ = ["BuildReport", "build_site", "progress_bar", "shutil"]
