"""The Starlette application: /graphql, /healthz (and, later, the built sites at /)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from ecospec.runtime.auth import AuthError
from ecospec.runtime.database import read_only
from ecospec.runtime.dev import DevServer
from ecospec.runtime.ecosystem import Ecosystem, is_production
from ecospec.runtime.forms import RateLimiter, handle_form
from ecospec.runtime.graphiql import ASSETS, assets_installed, graphiql_page
from ecospec.runtime.subscriptions import EventFeed, serve_websocket


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]},
        status_code=status,
    )


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
    prod = is_production() if production is None else production
    holder: dict[str, Any] = {}

    def current() -> Ecosystem:
        found: Ecosystem = holder["ecosystem"]
        return found

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        eco = holder["ecosystem"] = ecosystem or Ecosystem.build(project, production=prod)
        stop = asyncio.Event()
        task: asyncio.Task[None] | None = None
        client = httpx.AsyncClient()
        if bus:
            # under `ecospec dev` the dev server keeps the pages; the bus serves webhooks
            dispatcher = eco.start_bus(None if dev else sites or project / "sites", client)
            task = asyncio.create_task(dispatcher.run(stop))
        watch_task: asyncio.Task[None] | None = None
        if dev is not None:
            dev.holder = holder
            await dev.start()
            watch_task = asyncio.create_task(dev.watch(stop))
        feed = holder["feed"] = EventFeed(eco)
        eco.listeners.append(feed.notify)
        feed_task = asyncio.create_task(feed.run(stop))
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            await feed_task
            if watch_task is not None:
                watch_task.cancel()
            await client.aclose()
            if ecosystem is None:
                await eco.close()

    async def graphql(request: Request) -> Response:
        eco = current()
        limit = eco.spec.limits.body_bytes
        if request.method == "GET":
            if (
                "text/html" in request.headers.get("accept", "")
                and "query" not in request.query_params
            ):
                if prod:
                    return _error("GraphiQL is off in production", 404)
                return HTMLResponse(
                    graphiql_page(eco.spec.title or eco.spec.ecosystem or "Ecospec")
                )
            payload: Any = dict(request.query_params)
            if isinstance(payload.get("variables"), str):
                try:
                    payload["variables"] = json.loads(payload["variables"])
                except ValueError:
                    return _error("variables: not JSON")
        else:
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return _error(f"the request body is larger than {limit} bytes", 413)
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    return _error(f"the request body is larger than {limit} bytes", 413)
            try:
                payload = json.loads(body)
            except ValueError:
                return _error('the body is not JSON; send {"query": "…", "variables": {…}}')
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return _error("query: a GraphQL document (string) is required")
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            return _error("variables: expected an object")
        operation = payload.get("operationName")
        try:
            session = await eco.auth.session(request.headers)
        except AuthError as exc:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": str(exc),
                            "extensions": {
                                "code": "UNAUTHENTICATED" if exc.status == 401 else "FORBIDDEN"
                            },
                        }
                    ]
                },
                status_code=exc.status,
            )
        service = eco.service(session.role)
        body = await service.respond(
            payload["query"],
            variables,
            operation if isinstance(operation, str) else None,
            session,
            allow_mutations=request.method == "POST",
        )
        refused = (
            request.method == "GET"
            and body.startswith(b'{"data":null')
            and b"METHOD_NOT_ALLOWED" in body
        )
        return Response(body, status_code=405 if refused else 200, media_type="application/json")

    async def healthz(request: Request) -> Response:
        eco = current()
        try:
            async with eco.engine.connect() as conn:
                await read_only(conn)
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # the check exists to report exactly this
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        return JSONResponse({"status": "ok", "ecosystem": eco.spec.ecosystem})

    limiter = RateLimiter()

    async def forms(request: Request) -> Response:
        return await handle_form(request, current(), limiter)

    async def websocket(ws: WebSocket) -> None:
        await serve_websocket(ws, current(), holder["feed"])

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", websocket),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/forms/{landing}/{index:int}", forms, methods=["POST"]),
    ]
    if not prod and assets_installed():
        routes.append(Mount("/graphql/assets", StaticFiles(directory=ASSETS), name="graphiql"))
    site_dir = sites or project / "sites"
    if dev is not None:
        routes.append(Route("/__ecospec/events", dev.events))
        routes.append(Route("/__ecospec/dev.js", dev.script))
        routes.append(Route("/{path:path}", dev.page))
    elif site_dir.is_dir():
        routes.append(Mount("/", StaticFiles(directory=site_dir, html=True), name="sites"))
    spec_origins = _origins(project, ecosystem)
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=spec_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "authorization", "x-api-key", "x-ecospec-role"],
        )
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


def _origins(project: Path, ecosystem: Ecosystem | None) -> list[str]:
    """Origins whose pages may post forms and query: the sites' own and site.origins."""
    from ecospec.generator.loader import load_spec

    spec = ecosystem.spec if ecosystem is not None else load_spec(project)
    found = []
    for url in [spec.site.base_url, *spec.site.origins]:
        parts = urlparse(url)
        if parts.scheme and parts.netloc:
            found.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(found))
