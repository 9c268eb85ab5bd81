"""One running ecosystem: a spec with its tables, its database, its API for each role, its write
path and the subscribers every write is published to. The app holds the one in service behind
one reference (`Live`), so live reload swaps a whole new one in at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphql import GraphQLSchema
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from ecospec.generator.access import Access
from ecospec.generator.api import build_schema
from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec
from ecospec.generator.types import DataSource
from ecospec.runtime.auth import Authenticator
from ecospec.runtime.bus import DatabaseBus, Dispatcher
from ecospec.runtime.capabilities import CAPABILITIES
from ecospec.runtime.capability import Capability, Outbound, Parts, handlers_of
from ecospec.runtime.catalog import Catalog, build_catalog
from ecospec.runtime.database import async_engine, database_url
from ecospec.runtime.execution import GraphQLService
from ecospec.runtime.records import record_writes
from ecospec.runtime.sitesource import InProcessSource
from ecospec.runtime.types import Handlers, Subscriber
from ecospec.runtime.writes import Writer


def is_production() -> bool:
    return os.environ.get("ECOSPEC_ENV", "").lower() == "production"


@dataclass
class Commits:
    """Told of every write committed in this process, so that the bus and the subscriptions look
    at once rather than at their next poll. Live reload hands it from one ecosystem to the next."""

    listeners: list[Callable[[], None]] = field(default_factory=list)

    def notify(self) -> None:
        for listener in self.listeners:
            listener()


class Api:
    """The GraphQL API of one ecosystem: the whole API, and each role's own (its own schema, its
    own filters), made when first asked for."""

    def __init__(
        self,
        catalog: Catalog,
        engine: AsyncEngine,
        writer: Writer,
        handlers: Handlers,
        commits: Commits,
        *,
        production: bool,
    ) -> None:
        self.catalog = catalog
        self.engine = engine
        self.writer = writer
        self.handlers = handlers
        self.commits = commits
        self.production = production
        self.full = self._service(build_schema(catalog.spec), Access.full(catalog.spec))
        self.roles: dict[str, GraphQLService] = {}

    def _service(self, schema: GraphQLSchema, access: Access) -> GraphQLService:
        return GraphQLService(
            self.catalog,
            schema,
            self.engine,
            access=access,
            production=self.production,
            writer=self.writer,
            handlers=self.handlers,
            on_commit=self.commits.notify,
        )

    def service(self, role: str) -> GraphQLService:
        found = self.roles.get(role)
        if found is None:
            spec = self.catalog.spec
            found = self.roles[role] = self._service(
                build_schema(spec, role), Access.of(spec, role)
            )
        return found


@dataclass
class Ecosystem:
    project: Path
    spec: Spec
    url: URL
    catalog: Catalog
    engine: AsyncEngine
    auth: Authenticator
    api: Api
    subscribers: tuple[Subscriber, ...]
    outbound: Outbound
    commits: Commits
    production: bool = False

    @property
    def graphql(self) -> GraphQLService:
        """The whole API, without a role's restrictions (seeds, tests, `explain`)."""
        return self.api.full

    @property
    def writer(self) -> Writer:
        return self.api.writer

    def service(self, role: str) -> GraphQLService:
        """The API as one role sees it: its own schema, its own filters."""
        return self.api.service(role)

    def source(self) -> DataSource:
        """The data pages read: the anonymous role's API, in process."""
        role = self.spec.auth.anonymous_role
        return InProcessSource(self.service(role), role)

    def notify(self) -> None:
        """A write committed in this process: the bus and the subscriptions look at once."""
        self.commits.notify()

    def dispatcher(self) -> Dispatcher:
        """A dispatcher of the events of this ecosystem's database to its subscribers."""
        return Dispatcher(DatabaseBus(self.engine), self.subscribers)

    @classmethod
    def build(
        cls,
        project: Path,
        spec: Spec | None = None,
        url: URL | None = None,
        *,
        production: bool | None = None,
        sites: Path | None = None,
        live_sites: bool = True,
        commits: Commits | None = None,
        capabilities: Sequence[Capability] = CAPABILITIES,
    ) -> Ecosystem:
        """An ecosystem of `project` (its spec loaded unless given). `sites` is where the built
        pages are (default: the project's sites/), kept up to date by the bus unless
        `live_sites` is false (`ecospec dev` keeps pages of its own; the deliveries wait for
        `ecospec serve`). `commits` is handed on from the ecosystem this one replaces."""
        spec = spec or load_spec(project)
        url = url or database_url(spec, project)
        prod = is_production() if production is None else production
        catalog = build_catalog(spec)
        engine = async_engine(url, spec.limits.statement_timeout_ms)
        outbound = Outbound()
        commits = commits or Commits()
        anonymous = spec.auth.anonymous_role

        def source() -> DataSource:  # asked for once the API below is made
            return InProcessSource(api.service(anonymous), anonymous)

        folder = sites or project / "sites"
        parts = Parts(project, spec, catalog, engine, outbound, source, folder, live_sites)
        subscribers = tuple(s for c in capabilities for s in c.subscribers(parts))
        writer = Writer(catalog, subscribers)
        handlers = handlers_of(capabilities, catalog)
        handlers.writes.update(record_writes(catalog, writer))
        api = Api(catalog, engine, writer, handlers, commits, production=prod)
        return cls(
            project,
            spec,
            url,
            catalog,
            engine,
            Authenticator(spec, engine),
            api,
            subscribers,
            outbound,
            commits,
            prod,
        )

    async def close(self) -> None:
        await self.outbound.aclose()
        await self.engine.dispose()


class Live:
    """The one reference to the ecosystem in service: every request reads it when it starts, and
    live reload swaps a whole new one in."""

    def __init__(self, ecosystem: Ecosystem) -> None:
        self.ecosystem = ecosystem

    def swap(self, fresh: Ecosystem) -> Ecosystem:
        """Serve `fresh` from now on; the one it replaces."""
        old, self.ecosystem = self.ecosystem, fresh
        return old
