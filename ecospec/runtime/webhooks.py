"""Webhooks: each event POSTed as JSON, signed with HMAC-SHA256 over "<timestamp>.<body>", the
event id as idempotency key; retried on the webhook's schedule, then dead-lettered."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import time

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ecospec.generator.checks import parse_duration
from ecospec.generator.model import Webhook
from ecospec.runtime.bus import Delivery, RetryLater, backoff, now
from ecospec.runtime.system import attempts

SIGNATURE_HEADER = "Ecospec-Signature"


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
        self.name = f"webhook:{name}"
        self.hook = hook
        self.engine = engine
        self.client = client
        self.schedule = [parse_duration(w) or 0.0 for w in hook.schedule]

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
