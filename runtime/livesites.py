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
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from generator.blocks import BlockLibrary
from generator.build import BuildReport, build_site
from generator.matching import matches, precedes
from runtime.bus import Delivery, Event, backoff
from runtime.ecosystem import Ecosystem
from runtime.sitesource import InProcessSource

log = logging.getLogger("ecospec.sites")
CHANGED_LIST = ".ecospec-changed"
SCHEDULE = [1.0, 5.0, 30.0, 300.0, 1800.0]


@dataclass
class Change:
    entity: str
    record_id: int
    old: dict[str, Any] | None
    new: dict[str, Any] | None


class SitesSubscriber:
    name = "sites"

    def __init__(self, ecosystem: Ecosystem, library: BlockLibrary, out: Path) -> None:
        self.ecosystem = ecosystem
        self.library = library
        self.out = out
        self.lock = asyncio.Lock()
        self.last: BuildReport | None = None

    def wants(self, entity: str, operation: str) -> bool:
        return True

    def retry_after(self, attempts: int) -> dt.timedelta | None:
        return backoff(SCHEDULE, attempts)

    async def deliver(self, delivery: Delivery) -> None:
        await self.deliver_many([delivery])

    async def deliver_many(self, batch: list[Delivery]) -> None:
        if not (self.out / ".ecospec-manifest.json").is_file():
            return  # no site has been built here: nothing to keep up to date
        changes = [await self.change(d.event) for d in batch]
        spec = self.ecosystem.spec

        by_entity: dict[str, list[Change]] = {}
        for change in changes:
            by_entity.setdefault(change.entity, []).append(change)
        changed_ids = {
            entity: {str(c.record_id) for c in found} for entity, found in by_entity.items()
        }

        def affected(entry: dict[str, Any]) -> bool:
            reads = entry.get("reads") or {}
            records = reads.get("records") or {}
            for entity, ids in changed_ids.items():
                shown = records.get(entity)
                if shown and not ids.isdisjoint(shown):
                    return True
            for read in reads.get("filters") or []:
                entity = read.get("entity")
                if entity not in by_entity:
                    continue
                where, last = read.get("where"), read.get("last")
                for change in by_entity[entity]:
                    # a list cut short by its limit, which did not show the record: the record
                    # as it was is not in it, and as it is now enters it only if it sorts
                    # before the list's last record
                    for row in (change.new,) if last is not None else (change.old, change.new):
                        if (
                            row is not None
                            and matches(spec, entity, where, row) is not False
                            and (
                                last is None
                                or precedes(spec, entity, row, read["order_by"], last) is not False
                            )
                        ):
                            return True
            return False

        async with self.lock:
            report = await build_site(
                spec,
                self.library,
                InProcessSource(self.ecosystem),
                self.ecosystem.project,
                self.out,
                only=affected,
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

    async def change(self, event: Event) -> Change:
        """The record before and after the change, with spec field names (refs as ids)."""
        entity = self.ecosystem.catalog.entities.get(event.entity)
        now: dict[str, Any] | None = None
        if entity is not None and event.operation != "delete":
            async with self.ecosystem.engine.connect() as conn:
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
        return Change(event.entity, event.record_id, old, now)
