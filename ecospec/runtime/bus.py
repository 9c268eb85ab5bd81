"""The data bus: events written with each write (the outbox), delivered to subscribers at least
once, in order per record, with retries. The database is the broker: rows claimed with
FOR UPDATE SKIP LOCKED on PostgreSQL, so any number of workers share the work."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from ecospec.runtime.system import audit, deliveries
from ecospec.runtime.types import Delivery, Event, RetryLater, Subscriber

log = logging.getLogger("ecospec.bus")
LEASE = dt.timedelta(seconds=60)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def publish(conn: AsyncConnection, values: dict[str, Any], subscribers: Sequence[str]) -> int:
    """Write an event and one pending delivery per subscriber, in the caller's transaction."""
    result = await conn.execute(insert(audit).values(values).returning(audit.c.id))
    event_id = int(result.scalar_one())
    if subscribers:
        moment = now()
        await conn.execute(
            insert(deliveries),
            [
                {
                    "event_id": event_id,
                    "subscriber": name,
                    "entity": values["entity"],
                    "record_id": values["record_id"],
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": moment,
                    "updated_at": moment,
                }
                for name in subscribers
            ],
        )
    return event_id


class DatabaseBus:
    """Claim, ack, retry and bury deliveries in the database."""

    def __init__(self, engine: AsyncEngine, lease: dt.timedelta = LEASE) -> None:
        self.engine = engine
        self.lease = lease
        self.postgres = engine.dialect.name == "postgresql"

    async def claim(self, subscriber: str, limit: int = 50) -> list[Delivery]:
        """The next deliveries due for a subscriber, at most one in flight per record."""
        moment = now()
        earlier = aliased(deliveries)
        blocked = exists().where(
            earlier.c.subscriber == deliveries.c.subscriber,
            earlier.c.entity == deliveries.c.entity,
            earlier.c.record_id == deliveries.c.record_id,
            earlier.c.status == "pending",
            earlier.c.id < deliveries.c.id,
        )
        due = (
            select(deliveries.c.id)
            .where(
                deliveries.c.subscriber == subscriber,
                deliveries.c.status == "pending",
                deliveries.c.next_attempt_at <= moment,
                (deliveries.c.locked_until.is_(None)) | (deliveries.c.locked_until < moment),
                ~blocked,
            )
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        if self.postgres:
            due = due.with_for_update(skip_locked=True, of=deliveries)
        async with self.engine.begin() as conn:
            claimed = (
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(due.scalar_subquery()))
                    .values(
                        locked_until=moment + self.lease,
                        attempts=deliveries.c.attempts + 1,
                        updated_at=moment,
                    )
                    .returning(deliveries.c.id, deliveries.c.event_id, deliveries.c.attempts)
                )
            ).all()
            if not claimed:
                return []
            ids = {row.event_id for row in claimed}
            events = {
                row.id: row
                for row in (await conn.execute(select(audit).where(audit.c.id.in_(ids)))).all()
            }
        out = []
        for row in sorted(claimed, key=lambda r: r.id):
            e = events[row.event_id]
            event = Event(
                e.id,
                e.at,
                e.entity,
                e.operation,
                e.record_id,
                e.changes or {},
                e.role,
                e.user_id,
                e.key_id,
            )
            out.append(Delivery(row.id, subscriber, row.attempts, event))
        return out

    async def ack(self, delivery: Delivery) -> None:
        await self._set(delivery, status="done", locked_until=None, last_error=None)

    async def retry(self, delivery: Delivery, wait: dt.timedelta, error: str) -> None:
        await self._set(
            delivery, next_attempt_at=now() + wait, locked_until=None, last_error=error[:2000]
        )

    async def bury(self, delivery: Delivery, error: str) -> None:
        """Give up on a delivery: it stays, marked dead, for an admin to redeliver."""
        await self._set(delivery, status="dead", locked_until=None, last_error=error[:2000])

    async def _set(self, delivery: Delivery, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery.id)
                .values(updated_at=now(), **values)
            )

    async def redeliver(self, delivery_id: int) -> bool:
        """Put a done or dead delivery back in the queue (an admin's redeliver)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="pending", next_attempt_at=now(), locked_until=None, updated_at=now()
                )
            )
        return bool(result.rowcount)


class Dispatcher:
    """Runs subscribers over the bus: in `ecospec serve`, and alone as `ecospec worker`.

    Each subscriber is served by a loop of its own, so a slow or hanging one (a webhook receiver
    that answers only at its timeout) holds up no other. A subscriber that takes one delivery at
    a time has up to `concurrency` of them in flight and as many claimed behind them, and claims
    more as places free up: a delivery that hangs takes one place, and holds up only the later
    events of its record. (A claimed delivery waits for at most one round of those in flight,
    well within its lease.)"""

    def __init__(
        self,
        bus: DatabaseBus,
        subscribers: Sequence[Subscriber],
        *,
        poll: float = 0.25,
        concurrency: int = 8,
        batch: int = 50,
    ) -> None:
        self.bus = bus
        self.subscribers = list(subscribers)
        self.poll = poll
        self.concurrency = concurrency
        self.batch = batch
        self.wakeups = {s.name: asyncio.Event() for s in self.subscribers}

    def notify(self) -> None:
        """A write committed in this process: look now rather than at the next poll."""
        for wakeup in self.wakeups.values():
            wakeup.set()

    async def run_once(self) -> int:
        """Deliver what is due now, once, to every subscriber side by side; the number of
        deliveries handled."""
        results = await asyncio.gather(
            *(self._round(s) for s in self.subscribers), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _round(self, subscriber: Subscriber) -> int:
        """One claim of a subscriber's due deliveries, delivered; how many there were."""
        many = getattr(subscriber, "deliver_many", None)
        limit = self.batch if many is not None else min(self.batch, self.concurrency)
        batch = await self.bus.claim(subscriber.name, limit)
        if not batch:
            return 0
        if many is not None:
            await self._deliver_many(subscriber, batch, many)
        else:
            await asyncio.gather(*(self._deliver(subscriber, d) for d in batch))
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve every subscriber until `stop` is set; what is in flight then is finished. A
        subscriber whose deliveries are `held` (its work is done elsewhere for now) is left to
        the process that does it."""
        async with asyncio.TaskGroup() as group:
            for subscriber in self.subscribers:
                if not getattr(subscriber, "held", False):
                    group.create_task(self._serve(subscriber, stop))

    async def _serve(self, subscriber: Subscriber, stop: asyncio.Event) -> None:
        wakeup = self.wakeups[subscriber.name]
        prepare = getattr(subscriber, "prepare", None)
        if prepare is not None:
            try:
                await prepare()
            except Exception:  # only a head start: the deliveries do the same work if need be
                log.exception("bus: %s: getting ready failed", subscriber.name)
        if getattr(subscriber, "deliver_many", None) is not None:
            while not stop.is_set():
                wakeup.clear()
                try:
                    handled = await self._round(subscriber)
                except Exception:  # the database may be briefly away; keep the loop alive
                    log.exception("bus: %s: delivering failed; trying again", subscriber.name)
                    handled = 0
                if not handled:
                    await nap(wakeup, stop, self.poll, clear=False)
            return
        # claimed deliveries: in flight, or waiting for one of the `concurrency` places
        held: set[asyncio.Task[None]] = set()
        places = asyncio.Semaphore(self.concurrency)
        clock = asyncio.get_running_loop().time
        last_claim = -self.poll
        try:
            while not stop.is_set():
                room = 2 * self.concurrency - len(held)
                # claim a batch once half the room is free, and whatever room there is once the
                # poll interval has passed (some deliveries are slow)
                if room >= self.concurrency or (room > 0 and clock() - last_claim >= self.poll):
                    wakeup.clear()
                    last_claim = clock()
                    try:
                        claimed = await self.bus.claim(subscriber.name, min(room, self.batch))
                    except Exception:  # the database may be briefly away; keep the loop alive
                        log.exception("bus: %s: claiming failed; trying again", subscriber.name)
                        claimed = []
                    for delivery in claimed:
                        task = asyncio.create_task(self._deliver(subscriber, delivery, places))
                        held.add(task)
                        task.add_done_callback(held.discard)
                    # until a delivery is over (its record's next event may be due), a write is
                    # committed here, the poll interval passes, or the dispatcher is stopped
                    await nap(wakeup, stop, self.poll, clear=False, also=held)
                else:
                    await nap(None, stop, last_claim + self.poll - clock(), also=held)
            if held:
                await asyncio.wait(held)
        finally:
            if held:  # cancelled: so are the deliveries held (their leases run out)
                for task in held:
                    task.cancel()
                await asyncio.wait(held)

    async def _deliver_many(self, subscriber: Subscriber, batch: list[Delivery], many: Any) -> None:
        """A subscriber that takes a batch at once (the sites: one rebuild for many changes)."""
        try:
            await many(batch)
        except Exception as exc:  # the whole batch is retried; per record order is kept
            error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: %d events retried: %s", subscriber.name, len(batch), error)
            for delivery in batch:
                wait = subscriber.retry_after(delivery.attempts)
                if wait is None:
                    await self.bus.bury(delivery, error)
                else:
                    await self.bus.retry(delivery, wait, error)
            return
        for delivery in batch:
            await self.bus.ack(delivery)

    async def _deliver(
        self, subscriber: Subscriber, delivery: Delivery, places: asyncio.Semaphore | None = None
    ) -> None:
        try:
            if places is None:
                await self._attempt(subscriber, delivery)
            else:
                async with places:
                    await self._attempt(subscriber, delivery)
        except Exception:  # the outcome was not recorded: the lease runs out, and it is retried
            log.exception(
                "%s: event %s: recording the outcome failed; it is delivered again once its "
                "lease runs out",
                subscriber.name,
                delivery.event.id,
            )

    async def _attempt(self, subscriber: Subscriber, delivery: Delivery) -> None:
        try:
            await subscriber.deliver(delivery)
        except Exception as exc:  # a subscriber's failure is recorded, never fatal to the bus
            error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, RetryLater) else str(exc)
            wait = subscriber.retry_after(delivery.attempts)
            if wait is None:
                log.warning(
                    "%s: event %s dead-lettered: %s", subscriber.name, delivery.event.id, error
                )
                await self.bus.bury(delivery, error)
            else:
                log.debug(  # every attempt is in the deliveries' log (GraphQL) already
                    "%s: event %s retried in %s: %s",
                    subscriber.name,
                    delivery.event.id,
                    wait,
                    error,
                )
                await self.bus.retry(delivery, wait, error)
            return
        await self.bus.ack(delivery)


async def nap(
    wakeup: asyncio.Event | None,
    stop: asyncio.Event,
    seconds: float,
    *,
    clear: bool = True,
    also: set[asyncio.Task[None]] | None = None,
) -> None:
    """Wait until woken, stopped, one of `also` is over, or `seconds` pass, whichever comes
    first. `clear=False` keeps a wakeup that came before the wait (the caller cleared it before
    it last looked)."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wakeup is not None:
        if clear:
            wakeup.clear()
        waiters.append(asyncio.ensure_future(wakeup.wait()))
    await asyncio.wait(
        [*waiters, *(also or ())], timeout=max(seconds, 0), return_when=asyncio.FIRST_COMPLETED
    )
    for waiter in waiters:
        waiter.cancel()


def backoff(schedule: Sequence[float], attempts: int) -> dt.timedelta | None:
    """The wait before attempt `attempts + 1`, with ±10% jitter; None after the schedule ends."""
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    return dt.timedelta(seconds=base * random.uniform(0.9, 1.1))


class BusLoop:
    """Runs a dispatcher until stopped. `replace` hands it a new one (new subscribers, a new
    engine): the old one finishes what it has in flight and claims nothing more, while the new
    one starts at once (a claimed delivery is leased, so the two never deliver the same one)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.replaced = asyncio.Event()

    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self.dispatcher.subscribers)

    def replace(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.replaced.set()

    def notify(self) -> None:
        """A write committed in this process: the dispatcher in service looks at once."""
        self.dispatcher.notify()

    async def run(self, stop: asyncio.Event) -> None:
        running: list[asyncio.Task[None]] = []
        while not stop.is_set():
            self.replaced.clear()
            until = asyncio.Event()
            running.append(asyncio.create_task(self.dispatcher.run(until)))
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.replaced.wait()),
            ]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            until.set()
        await asyncio.gather(*running)
