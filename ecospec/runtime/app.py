"""The Starlette application, composed in one place: /graphql and its websocket, /healthz, the
capabilities' routes (landing forms, …), and the built sites at / (or the dev server's pages).

While it runs, the app holds the ecosystem in service (`app.state.live`), the bus that delivers
its events to the subscribers, and the feed of its subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec
from ecospec.runtime import endpoint
from ecospec.runtime.bus import BusLoop
from ecospec.runtime.capabilities import CAPABILITIES
from ecospec.runtime.dev import DevServer
from ecospec.runtime.ecosystem import Ecosystem, Live, is_production
from ecospec.runtime.graphiql import ASSETS, assets_installed
from ecospec.runtime.subscriptions import EventFeed


@dataclass(frozen=True)
class _Options:
    project: Path
    ecosystem: Ecosystem | None
    production: bool
    sites: Path | None
    bus: bool
    dev: DevServer | None


def _lifespan(options: _Options) -> object:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        eco = options.ecosystem or Ecosystem.build(
            options.project,
            production=options.production,
            sites=options.sites,
            live_sites=options.dev is None,
        )
        live = app.state.live = Live(eco)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if options.bus:
            bus = BusLoop(eco.dispatcher())
            eco.commits.listeners.append(bus.notify)
            tasks.append(asyncio.create_task(bus.run(stop)))
            if options.dev is not None:
                options.dev.bus = bus
        feed = app.state.feed = EventFeed(lambda: live.ecosystem.engine)
        eco.commits.listeners.append(feed.notify)
        tasks.append(asyncio.create_task(feed.run(stop)))
        watching: asyncio.Task[None] | None = None
        if options.dev is not None:
            await options.dev.start(live)
            watching = asyncio.create_task(options.dev.watch(stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            if watching is not None:
                watching.cancel()
            if options.ecosystem is None:
                await live.ecosystem.close()

    return lifespan


def _routes(options: _Options) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/graphql", endpoint.graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", endpoint.websocket),
        Route("/healthz", endpoint.healthz, methods=["GET"]),
    ]
    for capability in CAPABILITIES:
        routes.extend(capability.routes())
    if not options.production and assets_installed():
        routes.append(Mount("/graphql/assets", StaticFiles(directory=ASSETS), name="graphiql"))
    site_dir = options.sites or options.project / "sites"
    if options.dev is not None:
        routes.extend(options.dev.routes())
    elif site_dir.is_dir():
        routes.append(Mount("/", StaticFiles(directory=site_dir, html=True), name="sites"))
    return routes


def create_app(
    project: Path,
    *,
    ecosystem: Ecosystem | None = None,
    production: bool | None = None,
    sites: Path | None = None,
    bus: bool = True,
    dev: DevServer | None = None,
) -> Starlette:
    """The app for a project; pass an Ecosystem to share one (tests), else one is built on start."""
    options = _Options(
        project,
        ecosystem,
        is_production() if production is None else production,
        sites,
        bus,
        dev,
    )
    spec = ecosystem.spec if ecosystem is not None else load_spec(project)
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=_origins(spec),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "authorization", "x-api-key", "x-ecospec-role"],
        )
    ]
    return Starlette(routes=_routes(options), lifespan=_lifespan(options), middleware=middleware)  # type: ignore[arg-type]


def _origins(spec: Spec) -> list[str]:
    """Origins whose pages may post forms and query: the sites' own and site.origins."""
    found = []
    for url in [spec.site.base_url, *spec.site.origins]:
        parts = urlparse(url)
        if parts.scheme and parts.netloc:
            found.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(found))
