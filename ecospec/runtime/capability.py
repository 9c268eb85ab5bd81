"""The seam a capability plugs into at run time.

A capability (the audit log, webhook deliveries, the live sites, and next processes, timers,
files) is one module of ecospec.runtime.capabilities that makes one `Capability`: the tables it
keeps beside the ecosystem's, the root fields of the API it answers (its compile-time half,
ecospec.generator.capabilities, declares them under the same names), the subscribers it puts on
the bus and the HTTP routes it serves. The core (the executor, the write path, the bus, the app)
asks the capabilities for these and names none of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute

from ecospec.generator.model import Spec
from ecospec.generator.types import DataSource
from ecospec.runtime.catalog import Catalog
from ecospec.runtime.execution import GraphQLService
from ecospec.runtime.types import Handlers, ReadHandler, Subscriber, WriteHandler
from ecospec.runtime.writes import Writer


class Outbound:
    """The ecosystem's HTTP client for calls out (webhooks), made on first use."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass(frozen=True)
class Parts:
    """What a capability's subscribers are made of: never the whole ecosystem."""

    project: Path
    spec: Spec
    catalog: Catalog
    engine: AsyncEngine
    outbound: Outbound
    source: Callable[[], DataSource]  # the anonymous role's data, as pages read it
    sites: Path  # where the built sites are
    live_sites: bool  # whether this process keeps them up to date (not under `ecospec dev`)


def _nothing(_: Any) -> Sequence[Any]:
    return ()


def _none() -> Sequence[Any]:
    return ()


def _no_fields(_: Catalog) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Capability:
    name: str
    tables: tuple[Table, ...] = ()
    reads: Callable[[Catalog], Mapping[str, ReadHandler]] = _no_fields
    writes: Callable[[Catalog], Mapping[str, WriteHandler]] = _no_fields
    subscribers: Callable[[Parts], Sequence[Subscriber]] = _nothing
    routes: Callable[[], Sequence[BaseRoute]] = _none  # made once per app; see serving()


class Serving(Protocol):
    """What a capability's HTTP handler may use of the ecosystem in service."""

    project: Path
    spec: Spec
    catalog: Catalog
    engine: AsyncEngine

    @property
    def writer(self) -> Writer: ...

    def service(self, role: str) -> GraphQLService:
        """The API as one role sees it."""
        ...

    def source(self) -> DataSource:
        """The data pages read (the anonymous role's)."""
        ...

    def notify(self) -> None:
        """Tell the bus and the subscriptions of a write this handler committed."""
        ...


class Live(Protocol):
    ecosystem: Serving


def serving(connection: HTTPConnection) -> Serving:
    """The ecosystem in service when a request arrives (live reload may swap in a new one)."""
    live: Live = connection.app.state.live
    return live.ecosystem


def handlers_of(capabilities: Sequence[Capability], catalog: Catalog) -> Handlers:
    """The root fields the capabilities answer, by field name."""
    found = Handlers()
    for capability in capabilities:
        found.reads.update(capability.reads(catalog))
        found.writes.update(capability.writes(catalog))
    return found
