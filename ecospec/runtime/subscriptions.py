"""GraphQL subscriptions over websockets (the graphql-transport-ws protocol): every committed write
to an entity, as the subscriber's role may read it, filtered by `where`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    OperationType,
    execute,
    get_named_type,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.websockets import WebSocket, WebSocketDisconnect

from ecospec.runtime.auth import AuthError
from ecospec.runtime.bus import nap
from ecospec.runtime.database import read_only
from ecospec.runtime.ecosystem import Ecosystem
from ecospec.runtime.execution import GraphQLService, by_response_key
from ecospec.runtime.system import audit
from ecospec.runtime.types import Event, Session

log = logging.getLogger("ecospec.subscriptions")
PROTOCOL = "graphql-transport-ws"


@dataclass
class EventFeed:
    """Tails the event log and fans new events out to this process's subscriptions.

    Live notifications are at most once: a subscriber that is not connected misses what happens
    meanwhile (webhooks are the durable way out)."""

    engine: Callable[[], AsyncEngine]  # the engine of the ecosystem in service
    poll: float = 0.25
    listeners: set[asyncio.Queue[Event]] = field(default_factory=set)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    last: int | None = None

    def notify(self) -> None:
        self.wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database may be briefly away; keep tailing
                log.exception("subscriptions: reading events failed")
            await nap(self.wakeup, stop, self.poll)

    async def tick(self) -> None:
        async with self.engine().connect() as conn:
            await read_only(conn)
            if self.last is None:
                newest = await conn.scalar(select(audit.c.id).order_by(audit.c.id.desc()).limit(1))
                self.last = int(newest or 0)
                return
            if not self.listeners:
                newest = await conn.scalar(select(audit.c.id).order_by(audit.c.id.desc()).limit(1))
                self.last = max(self.last, int(newest or 0))
                return
            rows = (
                await conn.execute(
                    select(audit).where(audit.c.id > self.last).order_by(audit.c.id).limit(500)
                )
            ).all()
        for row in rows:
            self.last = max(self.last, int(row.id))
            event = Event(
                row.id,
                row.at,
                row.entity,
                row.operation,
                row.record_id,
                row.changes or {},
                row.role,
                row.user_id,
                row.key_id,
            )
            for queue in list(self.listeners):
                queue.put_nowait(event)


async def serve_websocket(websocket: WebSocket, ecosystem: Ecosystem, feed: EventFeed) -> None:
    await websocket.accept(subprotocol=PROTOCOL)
    session: Session | None = None
    tasks: dict[str, asyncio.Task[None]] = {}
    try:
        while True:
            message = await websocket.receive_json()
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "connection_init":
                payload = message.get("payload") or {}
                headers = (
                    {str(k).lower(): str(v) for k, v in payload.items()}
                    if isinstance(payload, dict)
                    else {}
                )
                try:
                    session = await ecosystem.auth.session(headers)
                except AuthError as exc:
                    await websocket.close(code=4403, reason=str(exc)[:120])
                    return
                await websocket.send_json({"type": "connection_ack"})
            elif kind == "ping":
                await websocket.send_json({"type": "pong"})
            elif kind == "subscribe":
                if session is None:
                    await websocket.close(code=4401, reason="Unauthorized")
                    return
                sub_id = str(message.get("id"))
                if sub_id in tasks:
                    await websocket.close(
                        code=4409, reason=f"Subscriber for {sub_id} already exists"
                    )
                    return
                tasks[sub_id] = asyncio.create_task(
                    _subscription(
                        websocket, ecosystem, feed, session, sub_id, message.get("payload") or {}
                    )
                )
            elif kind == "complete":
                task = tasks.pop(str(message.get("id")), None)
                if task is not None:
                    task.cancel()
    except (WebSocketDisconnect, RuntimeError, ValueError):
        pass
    finally:
        for task in tasks.values():
            task.cancel()


async def _subscription(
    websocket: WebSocket,
    ecosystem: Ecosystem,
    feed: EventFeed,
    session: Session,
    sub_id: str,
    payload: dict[str, Any],
) -> None:
    service = ecosystem.service(session.role)
    found = service.operation(
        str(payload.get("query") or ""), payload.get("variables"), payload.get("operationName")
    )
    if isinstance(found, list) or found[1].operation is not OperationType.SUBSCRIPTION:
        errors = (
            found
            if isinstance(found, list)
            else [GraphQLError("expected a subscription operation")]
        )
        await websocket.send_json(
            {"type": "error", "id": sub_id, "payload": [e.formatted for e in errors]}
        )
        return
    prepared, op, variables = found
    root = service.schema.subscription_type
    assert root is not None
    fields = collect_fields(service.schema, prepared.fragments, variables, root, op.selection_set)
    queue: asyncio.Queue[Event] = asyncio.Queue()
    feed.listeners.add(queue)
    try:
        while True:
            event = await queue.get()
            data: dict[str, Any] = {}
            for key, nodes in fields.items():
                change = await _change(
                    service, ecosystem, session, root, nodes, variables, prepared, event
                )
                if change is not None:
                    data[key] = change
            if not data:
                continue
            result = execute(
                service.schema,
                prepared.document,
                root_value=data,
                variable_values=payload.get("variables"),
                operation_name=payload.get("operationName"),
                field_resolver=by_response_key,
            )
            assert isinstance(result, ExecutionResult)
            await websocket.send_json({"type": "next", "id": sub_id, "payload": result.formatted})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        feed.listeners.discard(queue)
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "complete", "id": sub_id})


async def _change(
    service: GraphQLService,
    ecosystem: Ecosystem,
    session: Session,
    root: GraphQLObjectType,
    nodes: Any,
    variables: dict[str, Any],
    prepared: Any,
    event: Event,
) -> dict[str, Any] | None:
    name = nodes[0].name.value
    field = root.fields[name]
    entity = next((e for e in ecosystem.catalog.entities.values() if e.names.changed == name), None)
    if entity is None or entity.name != event.entity:
        return None
    args = get_argument_values(field, nodes[0], variables)
    if args.get("operations") and event.operation not in args["operations"]:
        return None
    compiler = service.compiler(prepared, variables, service.policy(session))
    change_type = get_named_type(field.type)
    assert isinstance(change_type, GraphQLObjectType)
    record_type = get_named_type(change_type.fields["record"].type)
    assert isinstance(record_type, GraphQLObjectType)
    out: dict[str, Any] = {}
    record: Any = None
    sub = compiler.subfields(change_type, nodes)
    record_nodes = [n for ns in sub.values() if ns[0].name.value == "record" for n in ns]
    if event.operation == "delete":
        # a deleted row cannot be filtered in SQL: tell only roles that may read every row
        rule = service.access.read(entity.name)
        if args.get("where") or rule is None or rule.where:
            return None
    else:
        alias = entity.table.alias("t0")
        conditions = [
            alias.c.id == event.record_id,
            *compiler.filters(entity, alias, args.get("where")),
        ]
        statement = select(
            compiler.object(entity, alias, record_type, record_nodes or nodes)
        ).where(*conditions)
        async with ecosystem.engine.connect() as conn:
            value = await conn.scalar(statement)
        if value is None:
            return None  # not visible to this role, or not matching the filter
        record = json.loads(value) if isinstance(value, str) else value
    for key, knodes in sub.items():
        kname = knodes[0].name.value
        if kname == "operation":
            out[key] = event.operation
        elif kname == "recordId":
            out[key] = str(event.record_id)
        elif kname == "record":
            out[key] = record
        elif kname == "at":
            out[key] = event.at
    return out
