"""Where `ecospec build` reads data: in process from the database, or from a running runtime over
HTTP. Either way the queries run as the anonymous role."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ecospec.generator.errors import BuildError
from ecospec.runtime.execution import GraphQLService
from ecospec.runtime.types import Session


class InProcessSource:
    """The runtime's own GraphQL service of the anonymous role, on the project's database."""

    def __init__(self, service: GraphQLService, role: str) -> None:
        self.service = service
        self.session = Session(role)

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        # the answer an HTTP client gets: for lists, the JSON the database built, read once
        # (graphql-core completing every field of every record costs more than the query)
        body = json.loads(await self.service.respond(query, variables, None, self.session))
        return _data(body, "data query failed")


class HttpSource:
    """A running runtime's /graphql endpoint, without credentials (the anonymous role)."""

    def __init__(self, url: str, client: httpx.AsyncClient | None = None) -> None:
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/graphql") else base + "/graphql"
        self.client = client or httpx.AsyncClient(timeout=30)

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.client.post(
                self.endpoint, json={"query": query, "variables": variables}
            )
        except httpx.HTTPError as exc:
            raise BuildError(f"{self.endpoint}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise BuildError(
                f"{self.endpoint}: answered {response.status_code} without JSON"
            ) from None
        return _data(body, self.endpoint)

    async def close(self) -> None:
        await self.client.aclose()


def _data(body: Any, where: str) -> dict[str, Any]:
    """The data of a GraphQL answer; its errors, or its lack of data, as a BuildError."""
    if not isinstance(body, dict):
        raise BuildError(f"{where}: the answer is not a JSON object")
    if body.get("errors"):
        raise BuildError(f"{where}: " + "; ".join(e.get("message", "?") for e in body["errors"]))
    data = body.get("data")
    if not isinstance(data, dict):
        raise BuildError(f"{where}: no data in the answer")
    return data
