"""The HTTP doors of the API: POST and GET /graphql (and GraphiQL for a browser), the GraphQL
websocket, and /healthz. Each handler reads the ecosystem in service when its request arrives."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket

from ecospec.runtime.auth import AuthError
from ecospec.runtime.database import read_only
from ecospec.runtime.ecosystem import Ecosystem, Live
from ecospec.runtime.graphiql import graphiql_page
from ecospec.runtime.subscriptions import EventFeed, serve_websocket


def _error(message: str, status: int = 400, code: str = "BAD_REQUEST") -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def current(request: Request | WebSocket) -> Ecosystem:
    live: Live = request.app.state.live
    return live.ecosystem


class _BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


async def _payload(request: Request, eco: Ecosystem) -> Any:
    """The request's {query, variables, operationName}: from the query string (GET), or the
    JSON body (POST), read no further than the body limit."""
    if request.method == "GET":
        payload: dict[str, Any] = dict(request.query_params)
        if isinstance(payload.get("variables"), str):
            try:
                payload["variables"] = json.loads(payload["variables"])
            except ValueError:
                raise _BadRequest(_error("variables: not JSON")) from None
        return payload
    limit = eco.spec.limits.body_bytes
    too_large = _error(f"the request body is larger than {limit} bytes", 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BadRequest(too_large)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _BadRequest(too_large)
    try:
        return json.loads(body)
    except ValueError:
        raise _BadRequest(
            _error('the body is not JSON; send {"query": "…", "variables": {…}}')
        ) from None


async def graphql(request: Request) -> Response:
    eco = current(request)
    wants_page = (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )
    if wants_page:
        if eco.production:
            return _error("GraphiQL is off in production", 404)
        return HTMLResponse(graphiql_page(eco.spec.title or eco.spec.ecosystem or "Ecospec"))
    try:
        payload = await _payload(request, eco)
    except _BadRequest as bad:
        return bad.response
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _error("query: a GraphQL document (string) is required")
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        return _error("variables: expected an object")
    operation = payload.get("operationName")
    try:
        session = await eco.auth.session(request.headers)
    except AuthError as exc:
        code = "UNAUTHENTICATED" if exc.status == 401 else "FORBIDDEN"
        return _error(str(exc), exc.status, code)
    answer = await eco.service(session.role).answer_http(
        payload["query"],
        variables,
        operation if isinstance(operation, str) else None,
        session,
        allow_mutations=request.method == "POST",
    )
    return Response(answer.body, status_code=answer.status, media_type="application/json")


async def healthz(request: Request) -> Response:
    eco = current(request)
    try:
        async with eco.engine.connect() as conn:
            await read_only(conn)
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # the check exists to report exactly this
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ok", "ecosystem": eco.spec.ecosystem})


async def websocket(ws: WebSocket) -> None:
    feed: EventFeed = ws.app.state.feed
    await serve_websocket(ws, current(ws), feed)
