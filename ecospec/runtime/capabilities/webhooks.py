"""Webhooks: each event POSTed as JSON, signed with HMAC-SHA256 over "<timestamp>.<body>", the
event id as idempotency key; retried on the webhook's schedule, then dead-lettered. Every attempt
is kept (`ecospec_attempts`), and `webhookDeliveries` / `redeliverWebhook` let an admin follow and
resend them. Their API is declared in ecospec.generator.capabilities.webhooks."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecospec.generator.columns import IsoDateTime
from ecospec.generator.model import Webhook
from ecospec.runtime.bus import backoff, now
from ecospec.runtime.capabilities.audit import page, read_audit
from ecospec.runtime.capability import Capability, Parts
from ecospec.runtime.catalog import Catalog
from ecospec.runtime.system import SYSTEM, deliveries
from ecospec.runtime.types import (
    Delivery,
    ReadHandler,
    ReadRequest,
    RetryLater,
    Subscriber,
    WriteHandler,
    WriteRequest,
    to_id,
)
from ecospec.runtime.writes import Problem, WriteRejected

SIGNATURE_HEADER = "Ecospec-Signature"
PREFIX = "webhook:"  # a webhook's deliveries are kept under its subscriber name, webhook:<name>

# Every webhook attempt: when, the answer, how long it took, what went wrong.
attempts = Table(
    "ecospec_attempts",
    SYSTEM,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Integer(),
        ForeignKey("ecospec_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", IsoDateTime(), nullable=False),
    Column("status_code", Integer()),
    Column("latency_ms", Integer(), nullable=False),
    Column("error", Text()),
    sqlite_autoincrement=True,
)
Index("ix_ecospec_attempts_delivery", attempts.c.delivery_id)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: bytes, tolerance: int = 300, at: float | None = None
) -> bool:
    """What a receiver does: check the signature and that the timestamp is recent."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((at or time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookSubscriber:
    def __init__(
        self, name: str, hook: Webhook, engine: AsyncEngine, client: httpx.AsyncClient
    ) -> None:
        self.name = PREFIX + name
        self.hook = hook
        self.engine = engine
        self.client = client
        self.schedule = [wait.seconds for wait in hook.schedule]

    def wants(self, entity: str, operation: str) -> bool:
        return operation in self.hook.events.get(entity, [])

    def retry_after(self, attempts_made: int) -> dt.timedelta | None:
        return backoff(self.schedule, attempts_made)

    async def deliver(self, delivery: Delivery) -> None:
        secret = os.environ.get(self.hook.secret_env)
        if not secret:
            raise RetryLater(f"${self.hook.secret_env} is not set: nothing can be signed")
        body = json.dumps(
            delivery.event.to_json(), ensure_ascii=False, separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            "Idempotency-Key": str(delivery.event.id),
            "Ecospec-Event": f"{delivery.event.entity}.{delivery.event.operation}",
            "User-Agent": "Ecospec-Webhooks",
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = await self.client.post(
                self.hook.url, content=body, headers=headers, timeout=self.hook.timeout_ms / 1000
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency = int((time.monotonic() - started) * 1000)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(attempts).values(
                    delivery_id=delivery.id,
                    at=now(),
                    status_code=status,
                    latency_ms=latency,
                    error=error,
                )
            )
        if error is not None:
            raise RetryLater(error)


async def read_deliveries(
    conn: AsyncConnection, args: dict[str, Any], only: int | None = None
) -> list[dict[str, Any]]:
    """Webhook deliveries with their events and attempts (fields resolve by name)."""
    query = (
        select(deliveries)
        .where(deliveries.c.subscriber.startswith(PREFIX))
        .order_by(deliveries.c.id.desc())
    )
    if only is not None:
        query = query.where(deliveries.c.id == only)
    if args.get("webhook"):
        query = query.where(deliveries.c.subscriber == PREFIX + args["webhook"])
    if args.get("status"):
        query = query.where(deliveries.c.status == args["status"])
    limit, offset = page(args)
    rows = (await conn.execute(query.limit(limit).offset(offset))).mappings().all()
    if not rows:
        return []
    events = await read_audit(conn, {"ids": [r["event_id"] for r in rows], "limit": 1000})
    by_event = {int(e["id"]): e for e in events}
    tries = (
        (
            await conn.execute(
                select(attempts)
                .where(attempts.c.delivery_id.in_([r["id"] for r in rows]))
                .order_by(attempts.c.id)
            )
        )
        .mappings()
        .all()
    )
    logs: dict[int, list[dict[str, Any]]] = {}
    for t in tries:
        logs.setdefault(int(t["delivery_id"]), []).append(
            {
                "at": t["at"],
                "statusCode": t["status_code"],
                "latencyMs": t["latency_ms"],
                "error": t["error"],
            }
        )
    return [
        {
            "id": r["id"],
            "webhook": str(r["subscriber"]).removeprefix(PREFIX),
            "status": r["status"],
            "attempts": r["attempts"],
            "nextAttemptAt": r["next_attempt_at"] if r["status"] == "pending" else None,
            "lastError": r["last_error"],
            "event": by_event[int(r["event_id"])],
            "log": logs.get(int(r["id"]), []),
        }
        for r in rows
    ]


async def redeliver(conn: AsyncConnection, delivery_id: Any) -> dict[str, Any] | None:
    rid = to_id(delivery_id)
    if rid is None:
        return None
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == rid, deliveries.c.subscriber.startswith(PREFIX))
        .values(status="pending", next_attempt_at=now(), locked_until=None, updated_at=now())
    )
    if not result.rowcount:
        return None
    found = await read_deliveries(conn, {}, only=rid)
    return found[0] if found else None


async def _deliveries(request: ReadRequest) -> list[dict[str, Any]]:
    return await read_deliveries(request.conn, request.args)


async def _redeliver(request: WriteRequest) -> dict[str, Any]:
    found = await redeliver(request.conn, request.args["id"])
    if found is None:
        message = f"no webhook delivery with id {request.args['id']}"
        raise WriteRejected([Problem(None, message, "NOT_FOUND")])
    return found


def _reads(_: Catalog) -> Mapping[str, ReadHandler]:
    return {"webhookDeliveries": _deliveries}


def _writes(_: Catalog) -> Mapping[str, WriteHandler]:
    return {"redeliverWebhook": _redeliver}


def _subscribers(parts: Parts) -> Sequence[Subscriber]:
    return [
        WebhookSubscriber(name, hook, parts.engine, parts.outbound.client)
        for name, hook in sorted(parts.spec.webhooks.items())
        if hook.enabled
    ]


CAPABILITY = Capability(
    "webhooks",
    tables=(attempts,),
    reads=_reads,
    writes=_writes,
    subscribers=_subscribers,
)
