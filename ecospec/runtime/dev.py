"""`ecospec dev`: the whole ecosystem served with live reload.

Saving a spec file, a block or a stylesheet reloads what it touches; a spec that fails keeps the
last good ecosystem running and shows its errors (file:line:col) in the terminal and in an
overlay in every open page. A good one applies additive migrations, swaps in a new ecosystem
(schema, bus and all) at once, rebuilds only the pages the change touches into a copy of the
site, switches to the copy, and tells open pages over server-sent events: to patch themselves
with their new HTML (see static/dev.js), to reload when the files the pages load changed, or to
swap the stylesheet. Everything saved since the last good reload is part of the next one, so a
block saved while the spec is broken is not forgotten once the spec is fixed."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import mimetypes
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from jinja2 import TemplateError, TemplateSyntaxError
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from watchfiles import Change, awatch

from ecospec.generator.blocks import BlockLibrary, block_files, load_blocks
from ecospec.generator.build import MANIFEST, SiteBuilder, build_site, put_file
from ecospec.generator.checks.blocks import template_diagnostic
from ecospec.generator.errors import BuildError, EcospecError, Severity, relative_name
from ecospec.generator.loader import SPEC_DIR, LoadResult, load_sources, spec_files
from ecospec.generator.manifest import read_manifest
from ecospec.generator.model import Spec
from ecospec.generator.source import SourceFile, read_yaml
from ecospec.generator.types import DataSource
from ecospec.runtime.bus import BusLoop
from ecospec.runtime.database import sqlite_file
from ecospec.runtime.ecosystem import Ecosystem, Live
from ecospec.runtime.migrate import migrate

T = TypeVar("T")
log = logging.getLogger("ecospec.dev")
DEV_JS = Path(__file__).parent / "static" / "dev.js"
SCRIPT_TAG = b'<script src="/__ecospec/dev.js"></script>'
RETIRE_AFTER = 5.0  # seconds a replaced ecosystem lives on for the requests in flight
QUIET = 2.0  # seconds without a reload before the heap is settled (settle_heap)
BACK_WITHIN = 1.0  # seconds the rest of a build waits for the pages told to reload first


class DevServer:
    def __init__(self, project: Path) -> None:
        self.project = project.resolve()
        self.work = self.project / ".ecospec" / "dev"
        self.site: Path = self.work / "sites-0"  # the build served
        self.other: Path = self.work / "sites-1"  # the next build's folder
        self.ready = False  # whether `other` holds what `site` holds, ready to build into
        self.arrivals: dict[str, list[asyncio.Event]] = {}  # pages awaited back after a reload
        self.clients: dict[asyncio.Queue[str], str] = {}  # each open page's queue and path
        self.told: set[str] = set()  # pages told to reload already during this reload
        self.changed: set[str] = set()  # the files this reload's builds changed, so far
        self.errors: list[str] = []
        self.live: Live | None = None  # the app's ecosystem in service, from start()
        self.bus: BusLoop | None = None  # the app's bus, handed each new ecosystem
        self.library: BlockLibrary = load_blocks(self.project)
        self.lock = asyncio.Lock()
        self.last_reload_ms: float | None = None
        self.last_reload_at = 0.0  # time.monotonic() at the end of the last reload
        self.settling = False  # a settle_heap is due
        self.pending: set[Path] = set()  # saved since the last good reload, relative
        self.answers = Answers()
        self.built: Spec | None = None  # the spec the current pages were built from
        self.built_model: dict[str, Any] | None = None  # its data model (_data_model)
        self.api_model: dict[str, Any] | None = None  # that of the ecosystem serving the API
        self.background: set[asyncio.Future[Any]] = set()
        self.sources: dict[Path, tuple[tuple[int, int] | None, SourceFile]] = {}

    # the ecosystem ----------------------------------------------------------------------------

    @property
    def ecosystem(self) -> Ecosystem:
        if self.live is None:
            raise RuntimeError("the dev server has not started")
        return self.live.ecosystem

    def routes(self) -> list[BaseRoute]:
        """The live-reload events, its script, and every page of the served build."""
        return [
            Route("/__ecospec/events", self.events),
            Route("/__ecospec/dev.js", self.script),
            Route("/{path:path}", self.page),
        ]

    async def start(self, live: Live) -> None:
        """The first build, into a fresh folder (pages `ecospec build` left in sites/ are
        reused, never changed)."""
        self.live = live
        await asyncio.to_thread(shutil.rmtree, self.work, True)
        self.work.mkdir(parents=True)
        built = self.project / "sites"
        if (built / MANIFEST).is_file():
            await asyncio.to_thread(copy_site, built, self.site, self.project / "static")
        eco = self.ecosystem
        eco.commits.listeners.append(self.answers.written)
        self.api_model = _data_model(eco.spec)
        await off_loop(
            build_site(
                eco.spec,
                self.library,
                self.answers.source(eco),
                self.project,
                self.site,
                hashed_assets=False,
            )
        )
        self.built, self.built_model = eco.spec, self.api_model
        await asyncio.to_thread(copy_site, self.site, self.other, self.project / "static")
        self.ready = True
        self.later(asyncio.to_thread, self.read_sources, delay=0)  # ready for the first reload
        settle_heap()

    async def watch(self, stop: asyncio.Event) -> None:
        folders = [
            p
            for p in (self.project / "spec", self.project / "blocks", self.project / "static")
            if p.is_dir()
        ]
        async for changes in awatch(
            *folders, stop_event=stop, debounce=40, step=10, recursive=True
        ):
            try:
                await self.reload(changes)
            except Exception as exc:  # a reload must never take the server down
                log.exception("reload failed")
                await self.fail([f"internal error while reloading: {type(exc).__name__}: {exc}"])
            finally:
                self.last_reload_at = time.monotonic()

    async def reload(self, changes: set[tuple[Change, str]]) -> None:
        started = time.perf_counter()
        async with self.lock:
            self.pending.update(self.relative(Path(p)) for _, p in changes)
            self.told, self.changed = set(), set()
            try:
                done = await self.rebuild(sorted(self.pending))
            except EcospecError as exc:
                await self.fail(str(exc).splitlines())
                return
            except TemplateError as exc:
                await self.fail([_template_error(exc)])
                return
            if done is None:
                return
            kind, summary = done
            self.pending.clear()
            self.errors = []
            self.last_reload_ms = (time.perf_counter() - started) * 1000
            told, self.told = self.told, set()
            message: dict[str, Any] = {"type": kind, "ms": round(self.last_reload_ms)}
            if kind == "reload":
                message["patch"] = patchable(self.changed)
            await self.broadcast(message, lambda path: path not in told)
            print(f"reloaded in {self.last_reload_ms:.0f} ms ({summary})", flush=True)

    async def rebuild(self, paths: list[Path]) -> tuple[str, str] | None:
        """Apply what `paths` (relative) changed; what to tell the pages and the terminal, or
        None when the change has errors (reported)."""
        eco = self.ecosystem
        blocks = [p for p in paths if p.parts[:1] == ("blocks",)]
        library = self.library
        if blocks:
            found = _refreshed(library, blocks, self.project)
            if found is None:
                found = await asyncio.to_thread(load_blocks, self.project)
            library = found
        if self.built is not None and all(_is_asset(p) for p in paths):
            # stylesheets and static files: the pages link to them by name and stay as they are
            if paths == blocks:
                await self.restyle(self.built, library, eco)
            else:
                await self.build(self.built, library, eco, set())
            if all(p.suffix == ".css" for p in paths):
                return "css", "stylesheet swapped"
            return "reload", "static files copied"
        if self.built is not None and not any(_reads_spec(p) for p in paths):
            # block templates or scripts: the spec is as it was
            spec = eco.spec
            problems = [str(d) for d in library.diagnostics if d.severity is Severity.ERROR]
            problems += _template_problems(spec, library)
            if problems:
                await self.fail(problems)
                return None
            landings = self.touched(self.built, spec, library, paths, False)
            await self.build(spec, library, eco, landings)
            return "reload", f"{len(landings)} landings rebuilt"
        result = await asyncio.to_thread(self.load, library, paths)
        if result.errors or result.spec is None:
            await self.fail([str(d) for d in result.errors] or ["the spec did not load"])
            return None
        spec = result.spec
        model = _data_model(spec)
        if model != self.api_model:
            eco = await self.swap(spec, model)
        else:
            # the schema, tables and grants are the same: keep the ecosystem and its warm caches
            eco.spec = eco.catalog.spec = spec
        old = self.built or spec
        landings = self.touched(old, spec, library, paths, False)
        landings |= self.remodelled(self.built_model or model, model, spec)
        await self.build(spec, library, eco, landings)
        self.built_model = model
        return "reload", f"{len(landings)} landings rebuilt"

    def load(self, library: BlockLibrary, changed: list[Path]) -> LoadResult:
        """The spec loaded and checked against `library`, reading again only the spec files
        saved since they were last read (`changed`, relative, or a new size or time)."""
        return load_sources(
            self.read_sources({self.project / p for p in changed}),
            spec_root=relative_name(self.project / SPEC_DIR, self.project),
            blocks=library,
        )

    def read_sources(self, changed: set[Path] | None = None) -> list[SourceFile]:
        kept: dict[Path, tuple[tuple[int, int] | None, SourceFile]] = {}
        for path in spec_files(self.project):
            stamp = _file_stamp(path)
            found = self.sources.get(path)
            if found is None or found[0] != stamp or stamp is None or path in (changed or ()):
                found = (stamp, read_yaml(path, relative_name(path, self.project)))
            kept[path] = found
        self.sources = kept
        return [source for _, source in kept.values()]

    async def swap(self, spec: Spec, model: dict[str, Any]) -> Ecosystem:
        """A new ecosystem for a new data model, after the additive migrations (others are
        refused with a MigrationError naming them); every request from now on sees it."""
        old = self.ecosystem
        # the new ecosystem is made while the database migrates: it needs no tables to be made
        migrating = asyncio.ensure_future(
            asyncio.to_thread(migrate, spec, old.url, plan_first=False)
        )
        try:
            fresh = await asyncio.to_thread(
                partial(
                    Ecosystem.build,
                    self.project,
                    spec,
                    old.url,
                    production=False,
                    live_sites=False,
                    commits=old.commits,
                )
            )
        except BaseException:
            await asyncio.gather(migrating, return_exceptions=True)
            raise
        try:
            plan = await migrating
        except BaseException:
            await fresh.close()
            raise
        for change in plan.changes:
            print(f"migrated: {change}", flush=True)
        if self.bus is not None:
            self.bus.replace(fresh.dispatcher())
        assert self.live is not None
        self.live.swap(fresh)
        self.api_model = model
        self.answers.forget()
        self.later(old.close)
        if not self.settling:
            self.settling = True
            asyncio.get_running_loop().call_later(RETIRE_AFTER + 1, self.settle_when_quiet)
        return fresh

    async def build(
        self, spec: Spec, library: BlockLibrary, eco: Ecosystem, landings: set[str]
    ) -> None:
        """Rebuild the pages of `landings` (and the assets, static files and sitemap) into a
        copy of the site, then serve the copy. When other pages are to be rebuilt than those
        open in a browser, the open ones go first, in a build of their own, and are told to
        reload at once; the rest follow."""
        source = self.answers.source(eco)

        def making(
            only: Callable[[dict[str, Any]], bool],
        ) -> Callable[[Path], Awaitable[set[str]]]:
            async def make(target: Path) -> set[str]:
                report = await off_loop(
                    build_site(
                        spec,
                        library,
                        source,
                        self.project,
                        target,
                        only=only,
                        landings=landings,
                        hashed_assets=False,
                    )
                )
                return {*report.written, *report.removed}

            return make

        def touched(entry: dict[str, Any]) -> bool:
            return entry.get("landing") in landings

        pages = self.manifest_pages()
        shown = {p for p in self.clients.values() if p in pages}
        if any(touched(e) and p not in shown for p, e in pages.items()) and shown:
            files = {pages[p].get("file") for p in shown if touched(pages[p])}
            if files:
                await self.into_copy(
                    making(lambda entry: touched(entry) and entry.get("file") in files)
                )
            self.told |= shown
            # the spec is good again: a page reloading now must not be shown the old errors
            self.errors = []
            back = [self.arrival(path) for path in sorted(shown)]
            await self.broadcast(
                {"type": "reload", "patch": patchable(self.changed)}, lambda path: path in shown
            )
            # the reloading pages' requests come first; then the rest of the build
            waiting = [asyncio.ensure_future(event.wait()) for event in back]
            await asyncio.wait(waiting, timeout=BACK_WITHIN)
            for waiter in waiting:
                waiter.cancel()
            for path, event in zip(sorted(shown), back, strict=True):
                left = [e for e in self.arrivals.get(path, []) if e is not event]
                if left:
                    self.arrivals[path] = left
                else:
                    self.arrivals.pop(path, None)
        await self.into_copy(making(touched))
        self.library = library
        self.built = spec

    def manifest_pages(self) -> dict[str, dict[str, Any]]:
        """The pages of the build served, as its manifest lists them (read again only when the
        manifest is another file: see generator.manifest)."""
        pages = read_manifest(self.site).get("pages")
        if not isinstance(pages, dict):
            return {}
        return {p: e for p, e in pages.items() if isinstance(e, dict)}

    def arrival(self, path: str) -> asyncio.Event:
        """An event set when a page at `path` next connects (it has reloaded) or fetches its
        new HTML to patch itself with."""
        event = asyncio.Event()
        self.arrivals.setdefault(path, []).append(event)
        return event

    async def restyle(self, spec: Spec, library: BlockLibrary, eco: Ecosystem) -> None:
        """Only the stylesheet and scripts made again: a stylesheet's change alters no page."""
        builder = SiteBuilder(spec, library, self.answers.source(eco), self.project)
        builder.hashed = False
        builder.prepare_assets()

        async def make(target: Path) -> set[str]:
            return await asyncio.to_thread(_write_files, target, builder.assets)

        await self.into_copy(make)
        self.library = library

    async def into_copy(self, make: Callable[[Path], Awaitable[set[str]]]) -> None:
        """`make` the next build in the other folder (a copy of the site served), then serve
        it, and bring the folder served until then up to date with what `make` changed (the
        files it names): it is where the build after goes."""
        target = self.other
        if not self.ready:
            await asyncio.to_thread(copy_site, self.site, target, self.project / "static")
            self.ready = True
        try:
            changed = await make(target)
        except BaseException:
            self.ready = False  # it may be half written: copied afresh for the next build
            raise
        previous, self.site, self.other = self.site, target, self.site  # pages switch at once
        self.changed |= changed
        try:
            await asyncio.to_thread(follow, target, previous, changed, self.project / "static")
        except OSError:
            log.warning("updating %s failed; it is copied afresh before the next build", previous)
            self.ready = False

    def settle_when_quiet(self) -> None:
        """settle_heap() once the replaced ecosystems are gone, when no reload has run for a
        while: the full pass holds the server up for a tenth of a second or so."""
        if self.lock.locked() or time.monotonic() - self.last_reload_at < QUIET:
            asyncio.get_running_loop().call_later(1, self.settle_when_quiet)
            return
        self.settling = False
        settle_heap()

    def later(
        self, work: Callable[..., Awaitable[Any]], *args: Any, delay: float = RETIRE_AFTER
    ) -> None:
        """Run `work(*args)` after `delay` seconds, in the background."""

        def run() -> None:
            task = asyncio.ensure_future(work(*args))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

        asyncio.get_running_loop().call_later(delay, run)

    # what a change touches ----------------------------------------------------------------------

    def relative(self, path: Path) -> Path:
        """A changed file's path inside the project (spec/…, blocks/…, static/…)."""
        if not path.is_absolute():
            return path
        for candidate in (path, path.resolve()):
            if candidate.is_relative_to(self.project):
                return candidate.relative_to(self.project)
        return path

    def touched(
        self, old: Spec, new: Spec, library: BlockLibrary, paths: list[Path], data_model: bool
    ) -> set[str]:
        """The landings whose pages a change can alter."""
        rel = [self.relative(p) for p in paths]
        if data_model or any(p.suffix == ".css" or p.parts[:1] == ("static",) for p in rel):
            return set(new.landings)
        if old.site != new.site or old.title != new.title or old.locale != new.locale:
            return set(new.landings)
        changed_blocks = {
            p.parts[1] for p in rel if p.parts[:1] == ("blocks",) and len(p.parts) > 1
        }
        out = set()
        for name, landing in new.landings.items():
            before = old.landings.get(name)
            if before is None or before.model_dump() != landing.model_dump():
                out.add(name)
            elif any(next(iter(b)) in changed_blocks for b in landing.blocks):
                out.add(name)
        return out

    def remodelled(self, old: dict[str, Any], new: dict[str, Any], spec: Spec) -> set[str]:
        """The landings a change of the data model can alter (old and new as `_data_model`
        gives them): every one when the grants change (what the public may read), else those
        that name a changed entity (for_each, a query, a form) or whose pages read one."""
        if any(old[key] != new[key] for key in ("roles", "auth", "limits")):
            return set(spec.landings)
        before, after = old["entities"], new["entities"]
        changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
        if not changed:
            return set()
        out = {n for n, landing in spec.landings.items() if _names(landing.model_dump(), changed)}
        for entry in self.manifest_pages().values():
            reads = set((entry.get("reads") or {}).get("entities") or [])
            if reads & changed and entry.get("landing") in spec.landings:
                out.add(entry["landing"])
        return out

    async def fail(self, errors: list[str]) -> None:
        self.errors = errors
        print("\n".join(errors), flush=True)
        await self.broadcast({"type": "error", "errors": errors})

    # serving ------------------------------------------------------------------------------------

    async def broadcast(
        self, message: dict[str, Any], to: Callable[[str], bool] | None = None
    ) -> None:
        """Send a message to every open page, or to those whose path `to` accepts."""
        text = json.dumps(message, ensure_ascii=False)
        for queue, path in list(self.clients.items()):
            if to is None or to(path):
                queue.put_nowait(text)

    async def events(self, request: Request) -> Response:
        queue: asyncio.Queue[str] = asyncio.Queue()
        path = _page_path(request.query_params.get("path", ""))
        self.clients[queue] = path
        for event in self.arrivals.pop(path, []):
            event.set()
        if self.errors:
            queue.put_nowait(
                json.dumps({"type": "error", "errors": self.errors}, ensure_ascii=False)
            )

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 500\n\n"
                while True:
                    try:
                        text = await asyncio.wait_for(queue.get(), 15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {text}\n\n"
            finally:
                self.clients.pop(queue, None)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def script(self, request: Request) -> Response:
        return Response(
            DEV_JS.read_bytes(), media_type="text/javascript", headers={"Cache-Control": "no-store"}
        )

    async def page(self, request: Request) -> Response:
        """A file of the current build; HTML gets the reload script, added here and never on disk."""
        rel = request.path_params.get("path", "")
        site = self.site
        target = (site / rel).resolve()
        if site.resolve() not in target.parents and target != site.resolve():
            return Response(status_code=404)
        if target.is_dir():
            target = target / "index.html"
        status = 200
        if not target.is_file():
            target, status = site / "404.html", 404
            if not target.is_file():
                return Response("not found", status_code=404)
        if target.suffix == ".html":
            if request.headers.get("x-ecospec-patch"):  # an open page, patching itself
                for event in self.arrivals.pop(_page_path(request.url.path), []):
                    event.set()
            body = target.read_bytes()
            cut = body.rfind(b"</body>")
            body = body[:cut] + SCRIPT_TAG + body[cut:] if cut >= 0 else body + SCRIPT_TAG
            return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=kind, headers={"Cache-Control": "no-store"})


class Answers:
    """What the pages' queries answered, kept from one build to the next while the data cannot
    have changed: no write committed in this process, the SQLite files as they were (a write
    from another process changes them), the same data model. On other databases every build
    asks afresh."""

    LIMIT = 5000  # answers kept at most

    def __init__(self) -> None:
        self.kept: dict[str, dict[str, Any]] = {}
        self.stamp: Any = None
        self.writes = 0

    def written(self) -> None:
        self.writes += 1

    def forget(self) -> None:
        self.kept = {}  # a new dict: a build in flight keeps the one it has

    def source(self, ecosystem: Ecosystem) -> DataSource:
        database = sqlite_file(ecosystem.url)
        stamp = None
        if database is not None:
            wal = database.with_name(database.name + "-wal")
            stamp = (self.writes, _file_stamp(database), _file_stamp(wal))
        if stamp is None or stamp != self.stamp or len(self.kept) > self.LIMIT:
            self.forget()
        self.stamp = stamp
        loop = asyncio.get_running_loop()
        return KeptSource(LoopSource(ecosystem.source(), loop), self.kept)


class KeptSource:
    """A DataSource that answers a question asked before from what it answered then."""

    def __init__(self, source: DataSource, kept: dict[str, dict[str, Any]]) -> None:
        self.source = source
        self.kept = kept

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        key = query + "\n" + json.dumps(variables, sort_keys=True, ensure_ascii=False, default=str)
        found = self.kept.get(key)
        if found is None:
            found = self.kept[key] = await self.source.execute(query, variables)
        return found


class LoopSource:
    """A DataSource for a build running on an event loop of its own (off_loop): each query runs
    on the server's loop, where the ecosystem's engine lives."""

    def __init__(self, source: DataSource, loop: asyncio.AbstractEventLoop) -> None:
        self.source = source
        self.loop = loop

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if asyncio.get_running_loop() is self.loop:
            return await self.source.execute(query, variables)
        asked = asyncio.run_coroutine_threadsafe(self.source.execute(query, variables), self.loop)
        answer = asyncio.wrap_future(asked)
        while not answer.done():
            await asyncio.wait({answer}, timeout=0.5)
            if not answer.done() and not self.loop.is_running():
                asked.cancel()
                raise BuildError("the server stopped while the site was being built")
        return answer.result()


def settle_heap() -> None:
    """Collect the garbage, then leave what is left out of the garbage collector's full passes
    (gc.freeze): the server's long-lived heap (libraries, the ecosystem and its schema, the
    spec) is a few hundred thousand objects, and a full pass in the middle of a reload walked
    them all, a quarter of a second for the demo's data model changes. Run after the first
    build and once a replaced ecosystem has been closed: what was frozen then can be garbage
    now, and only a pass with everything unfrozen collects it."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def off_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` in a thread, on an event loop of its own: rendering pages takes seconds of
    CPU, and the server's loop goes on answering requests and committing the bus's writes
    meanwhile (a write that waits for the loop holds SQLite's write lock)."""
    return await asyncio.to_thread(asyncio.run, work)


def copy_site(source: Path, target: Path, static: Path) -> None:
    """A copy of a built site that a build may change without changing `source`: the files a
    build replaces whole (pages, assets) are hard links; the manifest and the static files,
    which it rewrites in place, are copies."""
    shutil.rmtree(target, ignore_errors=True)
    if not source.is_dir():
        target.mkdir(parents=True)
        return

    def copy(src: str, dst: str) -> str:
        rel = Path(src).relative_to(source).as_posix()
        if _rewritten_in_place(rel, static):
            shutil.copy2(src, dst)
        else:
            os.link(src, dst)
        return dst

    shutil.copytree(source, target, copy_function=copy)


def follow(source: Path, target: Path, changed: set[str], static: Path) -> None:
    """Make `target`, a copy of a site before a build, a copy of `source`, the site that
    build made, by the files the build wrote or removed (and the manifest), as copy_site
    would: each file put in place at once."""
    root = target.resolve()
    for rel in sorted({*changed, MANIFEST}):
        made, there = source / rel, target / rel
        if root not in there.resolve().parents:
            continue
        if made.is_file():
            there.parent.mkdir(parents=True, exist_ok=True)
            tmp = there.with_name(there.name + ".tmp")
            tmp.unlink(missing_ok=True)
            if _rewritten_in_place(rel, static):
                shutil.copy2(made, tmp)
            else:
                os.link(made, tmp)
            tmp.replace(there)
        elif there.is_file():
            there.unlink()
            folder = there.parent
            while folder.resolve() != root and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent


def patchable(changed: set[str]) -> bool:
    """Whether open pages may patch themselves after a build that changed these files (site
    paths): only when it changed pages, not the scripts, stylesheets or other files they load."""
    return all(rel.endswith(".html") or rel in ("sitemap.xml", "robots.txt") for rel in changed)


def _rewritten_in_place(rel: str, static: Path) -> bool:
    """Whether a build writes into a file of the site as it is (the manifest, the static files)
    rather than putting a new one in its place."""
    return rel == MANIFEST or (static / rel).is_file()


def _page_path(path: str) -> str:
    """A page's URL path as the manifest names it (/promo/spring-sale/ for …/index.html)."""
    path = "/" + unquote(path).lstrip("/")
    return path.removesuffix("index.html")


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _is_asset(path: Path) -> bool:
    """A file pages link to by name, whose change alters no page: a static file, a block's
    stylesheet."""
    if path.parts[:1] == ("static",):
        return True
    return path.parts[:1] == ("blocks",) and len(path.parts) == 3 and path.suffix == ".css"


def _reads_spec(path: Path) -> bool:
    """Whether a change to `path` needs the spec loaded again: a spec file, a block's
    block.yaml (landings are checked against it), a block folder added or removed."""
    if path.parts[:1] == ("blocks",):
        return len(path.parts) != 3 or path.name == "block.yaml"
    return path.parts[:1] != ("static",)


BLOCK_FILES = ("template.html.j2", "style.css", "script.js")


def _refreshed(library: BlockLibrary, paths: list[Path], project: Path) -> BlockLibrary | None:
    """The library with the templates, stylesheets and scripts at `paths` (relative) read
    again; None when a change needs the library loaded afresh (a block.yaml, a block added or
    removed, a built-in block overridden)."""
    if any(len(p.parts) != 3 or p.name not in BLOCK_FILES for p in paths):
        return None
    blocks = dict(library.blocks)
    for name in sorted({p.parts[1] for p in paths}):
        block = blocks.get(name)
        folder = project / "blocks" / name
        if block is None or block.folder.resolve() != folder.resolve():
            return None
        files = block_files(folder)
        if files is None:
            return None  # load_blocks reports it
        template, css, script = files
        blocks[name] = replace(block, template=template, css=css, script=script)
    return BlockLibrary(blocks, list(library.diagnostics))


def _template_problems(spec: Spec, library: BlockLibrary) -> list[str]:
    """The templates of the blocks the landings use that do not compile, with file and line."""
    used = sorted({next(iter(b)) for landing in spec.landings.values() for b in landing.blocks})
    found = []
    for name in used:
        block = library.get(name)
        problem = template_diagnostic(block) if block is not None else None
        if problem is not None:
            found.append(str(problem))
    return found


def _template_error(exc: TemplateError) -> str:
    if isinstance(exc, TemplateSyntaxError):
        where = exc.filename or exc.name or "a template"
        return f"{where}:{exc.lineno}: template: {exc.message}"
    return f"template: {exc}"


def _data_model(spec: Spec) -> dict[str, Any]:
    """What the database and the API hang on: a change here needs a migration check and a new schema."""
    return {
        "entities": {n: e.model_dump() for n, e in spec.entities.items()},
        "roles": {n: r.model_dump() for n, r in spec.roles.items()},
        "auth": spec.auth.model_dump(),
        "limits": spec.limits.model_dump(),
        "webhooks": {n: w.model_dump() for n, w in spec.webhooks.items()},
    }


def _names(value: Any, names: set[str]) -> bool:
    """Whether one of `names` is a value somewhere inside `value` (entity: Apartment)."""
    if isinstance(value, str):
        return value in names
    if isinstance(value, dict):
        return any(_names(v, names) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, names) for v in value)
    return False


def _write_files(out: Path, files: dict[str, bytes]) -> set[str]:
    """Write the files whose content changed, each as a new file put in place at once; their
    names."""
    return {rel for rel, data in files.items() if put_file(out / rel, data)}


__all__ = ["DevServer", "EcospecError"]
