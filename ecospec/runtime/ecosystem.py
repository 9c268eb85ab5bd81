"""One running ecosystem: a spec with its API schema, tables, database engine and services."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from graphql import GraphQLSchema
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from ecospec.generator.access import Access
from ecospec.generator.api import build_schema
from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec
from ecospec.runtime.auth import Authenticator
from ecospec.runtime.bus import DatabaseBus, Dispatcher, Subscriber
from ecospec.runtime.catalog import Catalog, build_catalog
from ecospec.runtime.database import async_engine, database_url
from ecospec.runtime.execution import GraphQLService

if TYPE_CHECKING:
    from ecospec.runtime.migrate import MigrationPlan


def is_production() -> bool:
    return os.environ.get("ECOSPEC_ENV", "").lower() == "production"


@dataclass
class Ecosystem:
    project: Path
    spec: Spec
    url: URL
    catalog: Catalog
    schema: GraphQLSchema
    engine: AsyncEngine
    graphql: GraphQLService
    auth: Authenticator
    production: bool = False
    services: dict[str, GraphQLService] = field(default_factory=dict)
    dispatcher: Dispatcher | None = None
    listeners: list[Callable[[], None]] = field(default_factory=list)
    bus: BusLoop | None = None
    bus_setup: tuple[Path | None, httpx.AsyncClient] | None = None

    def notify(self) -> None:
        """A write committed in this process: the bus and the subscriptions look at once."""
        if self.dispatcher is not None:
            self.dispatcher.notify()
        for listener in self.listeners:
            listener()

    def start_bus(self, sites: Path | None, client: httpx.AsyncClient) -> BusLoop:
        """The bus, to run until stopped, with every subscriber: the sites (when built there)
        and the webhooks."""
        self.bus_setup = (sites, client)
        self.bus = BusLoop(self._dispatcher(sites, client))
        return self.bus

    def take_bus(self, old: Ecosystem) -> None:
        """Serve the bus `old` runs, with this ecosystem's engine and subscribers: `ecospec dev`
        swaps in a new ecosystem when the data model changes, webhooks included."""
        if old.bus is None or old.bus_setup is None:
            return
        self.bus_setup = old.bus_setup
        self.bus = old.bus
        self.bus.replace(self._dispatcher(*old.bus_setup))

    def _dispatcher(self, sites: Path | None, client: httpx.AsyncClient) -> Dispatcher:
        from ecospec.generator.blocks import load_blocks
        from ecospec.runtime.livesites import SitesSubscriber
        from ecospec.runtime.webhooks import WebhookSubscriber

        subscribers: list[Any] = []
        if sites is not None and self.spec.landings:
            subscribers.append(SitesSubscriber(self, load_blocks(self.project), sites))
        for name, hook in sorted(self.spec.webhooks.items()):
            if hook.enabled:
                subscribers.append(WebhookSubscriber(name, hook, self.engine, client))
        self.dispatcher = Dispatcher(DatabaseBus(self.engine), subscribers)
        self.graphql.on_commit = self.notify
        for service in self.services.values():
            service.on_commit = self.notify
        return self.dispatcher

    @classmethod
    def build(
        cls,
        project: Path,
        spec: Spec | None = None,
        url: URL | None = None,
        *,
        production: bool | None = None,
    ) -> Ecosystem:
        spec = spec or load_spec(project)
        url = url or database_url(spec, project)
        prod = is_production() if production is None else production
        catalog = build_catalog(spec)
        schema = build_schema(spec)
        engine = async_engine(url, spec.limits.statement_timeout_ms)
        full = GraphQLService(catalog, schema, engine, production=prod)
        ecosystem = cls(
            project, spec, url, catalog, schema, engine, full, Authenticator(spec, engine), prod
        )
        full.on_commit = ecosystem.notify
        return ecosystem

    def service(self, role: str) -> GraphQLService:
        """The API as one role sees it: its own schema, its own filters."""
        found = self.services.get(role)
        if found is None:
            found = GraphQLService(
                self.catalog,
                build_schema(self.spec, role),
                self.engine,
                access=Access.of(self.spec, role),
                production=self.production,
            )
            found.on_commit = self.notify
            self.services[role] = found
        return found

    async def close(self) -> None:
        await self.engine.dispose()


class BusLoop:
    """Runs a dispatcher until stopped. `replace` hands it a new one (new subscribers, a new
    engine): the old one finishes what it has in flight and claims nothing more, while the new
    one starts at once (a claimed delivery is leased, so the two never deliver the same one)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.replaced = asyncio.Event()

    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self.dispatcher.subscribers)

    def replace(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.replaced.set()

    async def run(self, stop: asyncio.Event) -> None:
        running: list[asyncio.Task[None]] = []
        while not stop.is_set():
            self.replaced.clear()
            until = asyncio.Event()
            running.append(asyncio.create_task(self.dispatcher.run(until)))
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.replaced.wait()),
            ]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            until.set()
        await asyncio.gather(*running)


def migrate_additive(spec: Spec, url: URL) -> MigrationPlan:
    """Apply the changes that lose nothing; refuse to start on any other, naming them."""
    from ecospec.runtime.migrate import (
        migrate,  # Alembic: what a command that does not migrate skips
    )

    return migrate(spec, url, additive_only=True)
