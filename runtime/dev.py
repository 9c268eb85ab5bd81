"""`ecospec dev`: the whole ecosystem served with live reload.

Saving a spec file, a block or a stylesheet reloads the spec; a spec that fails keeps the last
good ecosystem running and shows its errors (file:line:col) in the terminal and in an overlay in
every open page. A good one applies additive migrations, swaps in a new ecosystem (schema and
all) at once, rebuilds only the pages the change touches into a copy of the site, switches to
the copy, and tells open pages to reload (or to swap the stylesheet) over server-sent events."""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from watchfiles import Change, awatch

from generator.blocks import BlockLibrary, load_blocks
from generator.build import build_site
from generator.errors import EcospecError
from generator.loader import load_project
from generator.model import Spec
from runtime.ecosystem import Ecosystem
from runtime.migrate import migrate
from runtime.sitesource import InProcessSource

log = logging.getLogger("ecospec.dev")
DEV_JS = Path(__file__).parent / "static" / "dev.js"
SCRIPT_TAG = b'<script src="/__ecospec/dev.js"></script>'


class DevServer:
    def __init__(self, project: Path) -> None:
        self.project = project.resolve()
        self.work = self.project / ".ecospec" / "dev"
        self.site: Path = self.work / "sites-0"
        self.generation = 0
        self.clients: set[asyncio.Queue[str]] = set()
        self.errors: list[str] = []
        self.holder: dict[str, Any] = {}
        self.library: BlockLibrary = load_blocks(self.project)
        self.lock = asyncio.Lock()
        self.last_reload_ms: float | None = None

    # the ecosystem ----------------------------------------------------------------------------

    @property
    def ecosystem(self) -> Ecosystem:
        found: Ecosystem = self.holder["ecosystem"]
        return found

    async def start(self) -> None:
        """The first build, into a fresh folder (a previous build is copied in to save work)."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        built = self.project / "sites"
        if (built / ".ecospec-manifest.json").is_file():
            shutil.copytree(built, self.site, copy_function=os.link)
        await build_site(
            self.ecosystem.spec,
            self.library,
            InProcessSource(self.ecosystem),
            self.project,
            self.site,
            hashed_assets=False,
        )

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

    async def reload(self, changes: set[tuple[Change, str]]) -> None:
        started = time.perf_counter()
        paths = [Path(p) for _, p in changes]
        async with self.lock:
            result = await asyncio.to_thread(load_project, self.project)
            if result.errors or result.spec is None:
                await self.fail([str(d) for d in result.errors] or ["the spec did not load"])
                return
            new_spec = result.spec
            old = self.ecosystem
            old_spec = old.spec
            data_model = _data_model(old_spec) != _data_model(new_spec)
            if data_model:
                plan = await asyncio.to_thread(migrate, new_spec, old.url, plan_only=True)
                refused = [c for c in plan.changes if c.data_loss or c.blocked]
                if refused:
                    await self.fail(
                        [
                            "the database would need changes that are not additive (ecospec migrate --plan):"
                        ]
                        + [str(c) for c in refused]
                    )
                    return
                if plan.changes:
                    await asyncio.to_thread(migrate, new_spec, old.url)
            library = (
                load_blocks(self.project)
                if any("blocks" in p.parts for p in paths)
                else self.library
            )
            if data_model:
                fresh = Ecosystem.build(self.project, new_spec, old.url, production=False)
                fresh.listeners.extend(old.listeners)
                self.holder["ecosystem"] = fresh  # every request from now on sees the new ecosystem
                asyncio.get_running_loop().call_later(5, lambda: asyncio.ensure_future(old.close()))
            else:
                # the schema, tables and grants are the same: keep the ecosystem and its warm caches
                fresh = old
                fresh.spec = fresh.catalog.spec = new_spec
            landings = self.touched(old_spec, new_spec, library, paths, data_model)
            only_css = all(p.name == "style.css" or p.suffix == ".css" for p in paths)
            target = self.work / f"sites-{self.generation + 1}"
            shutil.copytree(self.site, target, copy_function=os.link)
            await build_site(
                new_spec,
                library,
                InProcessSource(fresh),
                self.project,
                target,
                only=lambda entry: entry.get("landing") in landings,
                landings=landings,
                hashed_assets=False,
            )
            previous, self.site = self.site, target  # pages switch to the new build at once
            self.generation += 1
            self.library = library
            asyncio.get_running_loop().call_later(5, shutil.rmtree, previous, True)
            self.errors = []
            self.last_reload_ms = (time.perf_counter() - started) * 1000
            await self.broadcast(
                {"type": "css" if only_css else "reload", "ms": round(self.last_reload_ms)}
            )
            print(
                f"reloaded in {self.last_reload_ms:.0f} ms ({len(landings)} landings rebuilt)",
                flush=True,
            )

    def touched(
        self, old: Spec, new: Spec, library: BlockLibrary, paths: list[Path], data_model: bool
    ) -> set[str]:
        """The landings whose pages a change can alter."""
        if data_model or any(p.suffix in (".css",) or "static" in p.parts for p in paths):
            return set(new.landings)
        changed_blocks = {p.parent.name for p in paths if "blocks" in p.parts}
        out = set()
        for name, landing in new.landings.items():
            before = old.landings.get(name)
            if before is None or before.model_dump() != landing.model_dump():
                out.add(name)
            elif any(next(iter(b)) in changed_blocks for b in landing.blocks):
                out.add(name)
        if old.site != new.site or old.title != new.title or old.locale != new.locale:
            return set(new.landings)
        return out

    async def fail(self, errors: list[str]) -> None:
        self.errors = errors
        print("\n".join(errors), flush=True)
        await self.broadcast({"type": "error", "errors": errors})

    # serving ------------------------------------------------------------------------------------

    async def broadcast(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, ensure_ascii=False)
        for queue in list(self.clients):
            queue.put_nowait(text)

    async def events(self, request: Request) -> Response:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.clients.add(queue)
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
                self.clients.discard(queue)

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
            body = target.read_bytes()
            cut = body.rfind(b"</body>")
            body = body[:cut] + SCRIPT_TAG + body[cut:] if cut >= 0 else body + SCRIPT_TAG
            return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=kind, headers={"Cache-Control": "no-store"})


def _data_model(spec: Spec) -> Any:
    """What the database and the API hang on: a change here needs a migration check and a new schema."""
    return [
        {n: e.model_dump() for n, e in spec.entities.items()},
        {n: r.model_dump() for n, r in spec.roles.items()},
        spec.auth.model_dump(),
        spec.limits.model_dump(),
        {n: w.model_dump() for n, w in spec.webhooks.items()},
    ]


__all__ = ["DevServer", "EcospecError"]
