"""The record verbs of every entity's API — create, update, delete, upsert — as the write handlers
of their mutation fields (`createLead`, …), through the one write path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from ecospec.runtime.catalog import Catalog, EntityInfo, MutationKind
from ecospec.runtime.types import WriteHandler, WriteRequest
from ecospec.runtime.writes import Writer

Verb = Callable[[Writer, EntityInfo, WriteRequest], Awaitable[Any]]


def _input(entity: EntityInfo, args: dict[str, Any]) -> dict[str, Any]:
    """The mutation's input with spec field names."""
    return {entity.fields[k].name: v for k, v in (args.get("input") or {}).items()}


async def _create(writer: Writer, entity: EntityInfo, request: WriteRequest) -> Any:
    data = _input(entity, request.args)
    rid = await writer.create(request.conn, entity.name, data, request.actor)
    return await request.answer(entity.name, rid)


async def _update(writer: Writer, entity: EntityInfo, request: WriteRequest) -> Any:
    data = _input(entity, request.args)
    rid = await writer.update(request.conn, entity.name, request.args["id"], data, request.actor)
    return await request.answer(entity.name, rid)


async def _upsert(writer: Writer, entity: EntityInfo, request: WriteRequest) -> Any:
    data = _input(entity, request.args)
    rid = await writer.upsert(request.conn, entity.name, request.args["on"], data, request.actor)
    return await request.answer(entity.name, rid)


async def _delete(writer: Writer, entity: EntityInfo, request: WriteRequest) -> Any:
    # the answer is the record as it was: read it (as the role) before it goes
    rid = await writer.find(request.conn, entity, request.args["id"], request.actor, "delete")
    answer = await request.answer(entity.name, rid)
    await writer.delete(request.conn, entity.name, rid, request.actor)
    return answer


VERBS: dict[MutationKind, Verb] = {
    "create": _create,
    "update": _update,
    "delete": _delete,
    "upsert": _upsert,
}


def record_writes(catalog: Catalog, writer: Writer) -> dict[str, WriteHandler]:
    """Every entity's record mutations, by field name."""
    return {
        name: partial(VERBS[verb], writer, catalog.entities[entity])
        for name, (entity, verb) in catalog.mutations.items()
    }
