"""The sites subscriber: after a committed change, rebuild exactly the pages it can affect.

A page is affected when its manifest says it read the changed record, or when one of its
filters matches the record as it was or as it is now (an apartment that becomes free enters its
complex's grid; one that is sold leaves it). New and removed records gain and lose their pages
and sitemap entries, because the build plans every page afresh.

A page that fails to render (a record without what its landing shows) does not hold up the
others: it is logged, with its landing's file and its record, and its previous file stands."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ecospec.generator.blocks import BlockLibrary, load_blocks
from ecospec.generator.build import BuildReport, SiteBuilder, build_site
from ecospec.generator.manifest import MANIFEST, Changed, page_index
from ecospec.generator.model import Spec
from ecospec.generator.types import DataSource
from ecospec.runtime.bus import backoff
from ecospec.runtime.catalog import Catalog
from ecospec.runtime.types import Delivery, Event

log = logging.getLogger("ecospec.sites")
CHANGED_LIST = ".ecospec-changed"
SCHEDULE = [1.0, 5.0, 30.0, 300.0, 1800.0]


class SitesSubscriber:
    """Keeps the pages built in `out` up to date with the records they show."""

    name = "sites"

    def __init__(
        self,
        spec: Spec,
        catalog: Catalog,
        engine: AsyncEngine,
        source: Callable[[], DataSource],
        project: Path,
        out: Path,
        library: BlockLibrary | None = None,
    ) -> None:
        self.spec = spec
        self.catalog = catalog
        self.engine = engine
        self.project = project
        self.out = out
        self.held = False  # True: the pages are kept elsewhere; deliveries wait for `serve`
        self._source = source
        self._library = library
        self.lock = asyncio.Lock()
        self.last: BuildReport | None = None

    @property
    def source(self) -> DataSource:
        """The anonymous role's data, made when the first page needs it."""
        found = self._source()
        self._source = lambda: found
        return found

    @property
    def library(self) -> BlockLibrary:
        if self._library is None:
            self._library = load_blocks(self.project)
        return self._library

    async def prepare(self) -> None:
        """Read and index the site's manifest and compile its templates before the first change
        arrives, so that the first change is as quick as the next ones.

        Then what the process holds (the spec, the schema, the manifest and its index: a few
        hundred thousand objects that live as long as it does) is moved out of the garbage
        collector's way (`gc.freeze`): otherwise every few changes a full collection goes
        through all of it, 0.1-0.3 s at 10,000 pages, and holds up the change at hand. Objects
        frozen are still freed when nothing refers to them any more."""
        if not (self.out / MANIFEST).is_file():
            return
        started = time.perf_counter()
        async with self.lock:
            pages = await asyncio.to_thread(self._prepare)
        gc.collect()
        gc.freeze()
        log.info(
            "sites: ready: the %d pages in %s indexed in %.1f s",
            pages,
            self.out,
            time.perf_counter() - started,
        )

    def _prepare(self) -> int:
        pages = len(page_index(self.spec, self.out).entries["pages"])
        SiteBuilder(self.spec, self.library, self.source, self.project).prepare_assets()
        return pages

    def wants(self, entity: str, operation: str) -> bool:
        return True

    def retry_after(self, attempts: int) -> dt.timedelta | None:
        return backoff(SCHEDULE, attempts)

    async def deliver(self, delivery: Delivery) -> None:
        await self.deliver_many([delivery])

    async def deliver_many(self, batch: list[Delivery]) -> None:
        if not (self.out / MANIFEST).is_file():
            return  # no site has been built here: nothing to keep up to date
        changes = [await self.change(d.event) for d in batch]
        spec = self.spec
        changed_ids: dict[str, set[str]] = {}
        for change in changes:
            changed_ids.setdefault(change.entity, set()).add(change.record_id)
        async with self.lock:
            report = await build_site(
                spec,
                self.library,
                self.source,
                self.project,
                self.out,
                paths=page_index(spec, self.out).touched(spec, changes),
                keep_going=True,
                changed=changed_ids,
            )
        self.last = report
        for failure in report.failed:
            log.error("sites: %s", failure)
        if report.changed_urls:
            with (self.out / CHANGED_LIST).open("a", encoding="utf-8") as changed:
                changed.writelines(url + "\n" for url in report.changed_urls)
            log.info(
                "sites: %d pages rewritten after %d changes", len(report.changed_urls), len(changes)
            )

    async def change(self, event: Event) -> Changed:
        """The record before and after the change, with spec field names (refs as ids)."""
        entity = self.catalog.entities.get(event.entity)
        now: dict[str, Any] | None = None
        if entity is not None and event.operation != "delete":
            async with self.engine.connect() as conn:
                row = (
                    (
                        await conn.execute(
                            select(entity.table).where(entity.table.c.id == event.record_id)
                        )
                    )
                    .mappings()
                    .first()
                )
            if row is not None:
                now = {"id": event.record_id}
                for info in entity.by_name.values():
                    if info.kind in ("scalar", "ref"):
                        now[info.name] = row[info.column]
        old: dict[str, Any] | None = None
        if event.operation == "delete":
            old = {"id": event.record_id, **{k: v[0] for k, v in event.changes.items()}}
        elif event.operation == "update" and now is not None:
            old = {**now, **{k: v[0] for k, v in event.changes.items()}}
        return Changed(event.entity, str(event.record_id), old, now)
