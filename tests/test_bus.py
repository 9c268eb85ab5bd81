"""The bus in process, on SQLite and PostgreSQL: the outbox (an event and its deliveries commit with
the write or not at all, whatever order transactions commit in), claims, leases, retries, dead
letters, order per record, and subscribers that fail without stopping the others.

The subscribers here are our own small classes standing in for webhooks (they take the webhooks'
deliveries by name); the database and the bus are the real ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dbs import Api, api_on, resolve
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool
from test_webhooks import migrated, write_hooks_project

from ecospec.generator.model import Webhook
from ecospec.runtime.bus import DatabaseBus, Dispatcher, backoff
from ecospec.runtime.database import async_engine
from ecospec.runtime.system import audit, deliveries
from ecospec.runtime.types import Actor, Delivery, Event, RetryLater
from ecospec.runtime.writes import Writer

pytest_plugins = ["dbs"]

CRM = "webhook:crm"  # Lead: create, update, delete
ARCHIVE = "webhook:archive"  # Note: create


@dataclass
class Recorder:
    """A subscriber that keeps what it is given; it refuses the events in `refusing` (or all of
    them), and waits for `gate` when one is set (for the events in `gated`, or all of them)."""

    name: str
    schedule: list[float] = field(default_factory=lambda: [0.01] * 50)
    got: list[Delivery] = field(default_factory=list)
    refusing: set[int] = field(default_factory=set)
    refuse_all: bool = False
    gate: asyncio.Event | None = None
    gated: set[int] | None = None

    def wants(self, entity: str, operation: str) -> bool:
        return True

    def retry_after(self, attempts: int) -> dt.timedelta | None:
        return backoff(self.schedule, attempts)

    async def deliver(self, delivery: Delivery) -> None:
        if self.gate is not None and (self.gated is None or delivery.event.id in self.gated):
            await self.gate.wait()
        if self.refuse_all or delivery.event.id in self.refusing:
            raise RetryLater("refused")
        self.got.append(delivery)

    @property
    def events(self) -> list[int]:
        return [d.event.id for d in self.got]


@pytest.fixture
def bus_api(database: str, tmp_path: Path) -> Iterator[Api]:
    """The hooks project (leads to `crm`, notes to `archive`) on an empty database."""
    project = write_hooks_project(
        tmp_path / "project", "http://127.0.0.1:9/crm", "http://127.0.0.1:9/in"
    )
    migrated(project, database)
    with api_on(database, project) as api:
        yield api


def writer(api: Api) -> Writer:
    return api.eco.graphql.writer


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    """Wait (in the test's loop) until `condition` holds; fail naming `what` after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


async def rows(api: Api, table: Any) -> list[dict[str, Any]]:
    async with api.eco.engine.connect() as conn:
        found = await conn.execute(select(table).order_by(table.c.id))
        return [dict(r) for r in found.mappings()]


async def counts(api: Api) -> tuple[int, int, int]:
    """Leads, events, deliveries."""
    async with api.eco.engine.connect() as conn:
        lead = api.eco.catalog.entities["Lead"].table
        return (
            int(await conn.scalar(select(func.count()).select_from(lead)) or 0),
            int(await conn.scalar(select(func.count()).select_from(audit)) or 0),
            int(await conn.scalar(select(func.count()).select_from(deliveries)) or 0),
        )


def seen_elsewhere(api: Api) -> tuple[int, int]:
    """Events and deliveries, as a connection of another client sees them (a plain engine of
    our own: a reader that takes no lock)."""
    engine = create_engine(api.eco.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return (
                int(conn.scalar(select(func.count()).select_from(audit)) or 0),
                int(conn.scalar(select(func.count()).select_from(deliveries)) or 0),
            )
    finally:
        engine.dispose()


async def create(api: Api, entity: str, data: dict[str, Any], actor: Actor | None = None) -> int:
    async with api.eco.engine.begin() as conn:
        return await writer(api).create(conn, entity, data, actor or Actor())


async def update(api: Api, entity: str, rid: int, data: dict[str, Any]) -> int:
    async with api.eco.engine.begin() as conn:
        return await writer(api).update(conn, entity, rid, data)


async def event_ids(api: Api, rid: int, entity: str = "Lead") -> list[int]:
    async with api.eco.engine.connect() as conn:
        found = await conn.execute(
            select(audit.c.id)
            .where(audit.c.entity == entity, audit.c.record_id == rid)
            .order_by(audit.c.id)
        )
        return [int(i) for i in found.scalars()]


async def drain(dispatcher: Dispatcher, done: Callable[[], bool], what: str) -> None:
    """run_once until `done()`: what the dispatcher's loop does, without its waits."""

    async def step() -> bool:
        await dispatcher.run_once()
        return done()

    await until(step, what)


# -- the outbox ---------------------------------------------------------------------------------------


def test_a_write_and_its_event_and_deliveries_commit_together(bus_api: Api) -> None:
    api = bus_api

    async def scenario() -> int:
        async with api.eco.engine.begin() as conn:
            rid = await writer(api).create(
                conn, "Lead", {"name": "Anna"}, Actor(role="admin", user_id="7", key_id="k1")
            )
            assert seen_elsewhere(api) == (0, 0)  # another connection sees nothing yet
        assert seen_elsewhere(api) == (1, 1)
        return rid

    rid = api.runner.run(scenario())
    (event,) = api.runner.run(rows(api, audit))
    at = event.pop("at")
    assert dt.datetime.fromisoformat(at).tzinfo is not None
    assert event == {
        "id": event["id"],
        "role": "admin",
        "user_id": "7",
        "key_id": "k1",
        "entity": "Lead",
        "record_id": rid,
        "operation": "create",
        "changes": {"name": [None, "Anna"], "status": [None, "new"]},
    }
    (delivery,) = api.runner.run(rows(api, deliveries))
    assert {k: delivery[k] for k in ("event_id", "subscriber", "entity", "record_id")} == {
        "event_id": event["id"],
        "subscriber": CRM,
        "entity": "Lead",
        "record_id": rid,
    }
    assert (delivery["status"], delivery["attempts"], delivery["locked_until"]) == (
        "pending",
        0,
        None,
    )

    # an update carries only what changed, old and new; a delete the record as it was; a note goes
    # to the archive only
    api.data(
        f'mutation {{ updateLead(id: "{rid}", input: {{status: won, phone: "+7 900 1"}}) {{ id }} }}'
    )
    api.data(f'mutation {{ deleteLead(id: "{rid}") {{ id }} }}')
    api.data('mutation { createNote(input: {text: "hello"}) { id } }')
    events = api.runner.run(rows(api, audit))
    assert [(e["entity"], e["operation"], e["changes"]) for e in events[1:]] == [
        ("Lead", "update", {"status": ["new", "won"], "phone": [None, "+7 900 1"]}),
        (
            "Lead",
            "delete",
            {"name": ["Anna", None], "status": ["won", None], "phone": ["+7 900 1", None]},
        ),
        ("Note", "create", {"text": [None, "hello"]}),
    ]
    subscribers = [(d["event_id"], d["subscriber"]) for d in api.runner.run(rows(api, deliveries))]
    assert subscribers == [(e["id"], CRM) for e in events[:3]] + [(events[3]["id"], ARCHIVE)]


def test_a_rolled_back_write_publishes_nothing(bus_api: Api) -> None:
    api = bus_api
    api.data('mutation { createLead(input: {name: "Kept"}) { id } }')
    before = api.runner.run(counts(api))

    # one request, two mutations, the second refused: neither is written, nothing is published
    errors = api.errors(
        'mutation($long: String!) { a: createLead(input: {name: "Ghost"}) { id }'
        " b: createLead(input: {name: $long}) { id } }",
        {"long": "x" * 121},
    )
    assert errors  # (which error it names is test_writes.py's business)
    assert api.runner.run(counts(api)) == before

    async def rolled_back() -> None:
        with pytest.raises(RuntimeError, match="changed my mind"):
            async with api.eco.engine.begin() as conn:
                await writer(api).create(conn, "Lead", {"name": "Ghost"})
                raise RuntimeError("changed my mind")

    api.runner.run(rolled_back())
    assert api.runner.run(counts(api)) == before
    recorder = Recorder(CRM)
    api.runner.run(Dispatcher(DatabaseBus(api.eco.engine), [recorder]).run_once())
    assert len(recorder.got) == 1  # the kept lead's event only


def test_events_that_commit_out_of_id_order_are_all_delivered(bus_api: Api, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: transactions cannot commit out of order")
    api = bus_api
    recorder = Recorder(CRM)
    dispatcher = Dispatcher(DatabaseBus(api.eco.engine), [recorder])

    async def scenario() -> None:
        engine = api.eco.engine
        async with engine.connect() as first, engine.connect() as second:
            early = await first.begin()
            rid1 = await writer(api).create(first, "Lead", {"name": "Early"})
            late = await second.begin()
            rid2 = await writer(api).create(second, "Lead", {"name": "Late"})
            await late.commit()
            assert await dispatcher.run_once() == 1
            assert [d.event.record_id for d in recorder.got] == [rid2]
            await early.commit()  # the smaller event id commits last
        assert await dispatcher.run_once() == 1
        assert [d.event.record_id for d in recorder.got] == [rid2, rid1]
        (e1,), (e2,) = await event_ids(api, rid1), await event_ids(api, rid2)
        assert e1 < e2
        assert await dispatcher.run_once() == 0

    api.runner.run(scenario())


# -- delivery -----------------------------------------------------------------------------------------


def test_a_record_s_events_wait_behind_a_refused_one(bus_api: Api) -> None:
    api = bus_api
    recorder = Recorder(CRM)
    dispatcher = Dispatcher(DatabaseBus(api.eco.engine), [recorder])

    async def scenario() -> None:
        a = await create(api, "Lead", {"name": "A"})
        b = await create(api, "Lead", {"name": "B"})
        await update(api, "Lead", a, {"status": "in_progress"})
        await update(api, "Lead", b, {"status": "lost"})
        await update(api, "Lead", a, {"status": "won"})
        ea, eb = await event_ids(api, a), await event_ids(api, b)
        recorder.refusing = {ea[0]}
        await drain(
            dispatcher, lambda: recorder.events == eb, "B's events, while A's first is refused"
        )
        for _ in range(5):  # A's later events wait, however often the bus looks
            await dispatcher.run_once()
            await asyncio.sleep(0.02)
        assert recorder.events == eb
        (first,) = [d for d in await rows(api, deliveries) if d["event_id"] == ea[0]]
        assert first["attempts"] >= 2 and first["last_error"] == "refused"
        recorder.refusing = set()
        await drain(dispatcher, lambda: len(recorder.got) == 5, "every event once A's is taken")
        assert recorder.events == eb + ea
        assert await dispatcher.run_once() == 0

    api.runner.run(scenario())


def test_concurrent_claims_never_share_a_delivery(bus_api: Api) -> None:
    api = bus_api
    url = api.eco.url

    async def scenario() -> None:
        async with api.eco.engine.begin() as conn:
            for i in range(200):
                await writer(api).create(conn, "Lead", {"name": f"Lead {i}"})
        engines = [
            async_engine(resolve(url.render_as_string(hide_password=False))) for _ in range(4)
        ]
        buses = [DatabaseBus(engine) for engine in engines]
        try:
            claimed: list[list[int]] = [[] for _ in buses]

            async def claim_all(i: int) -> None:
                while True:
                    batch = await buses[i].claim(CRM, limit=random.randint(5, 25))
                    if not batch:
                        return
                    claimed[i].extend(d.id for d in batch)

            await asyncio.gather(*(claim_all(i) for i in range(len(buses))))
        finally:
            for engine in engines:
                await engine.dispose()
        every = [i for ids in claimed for i in ids]
        assert len(every) == len(set(every)) == 200
        assert {d["id"] for d in await rows(api, deliveries)} == set(every)

    api.runner.run(scenario())


def test_a_lease_keeps_others_off_until_it_runs_out(bus_api: Api) -> None:
    api = bus_api
    engine = api.eco.engine

    async def scenario() -> None:
        await create(api, "Lead", {"name": "Leased"})
        holder = DatabaseBus(engine, lease=dt.timedelta(seconds=60))
        (held,) = await holder.claim(CRM)
        assert held.attempts == 1
        assert await DatabaseBus(engine).claim(CRM) == []  # leased: nobody else takes it

        await create(api, "Lead", {"name": "Briefly leased"})
        brief = DatabaseBus(engine, lease=dt.timedelta(milliseconds=300))
        (taken,) = await brief.claim(CRM)
        again: list[Delivery] = []

        async def claimed_again() -> bool:
            again.extend(await DatabaseBus(engine).claim(CRM))
            return bool(again)

        await until(claimed_again, "the delivery to be claimed again once its lease ran out")
        assert [(d.id, d.attempts, d.event) for d in again] == [(taken.id, 2, taken.event)]

    api.runner.run(scenario())


def test_a_spent_schedule_buries_the_delivery_and_redeliver_queues_it_again(bus_api: Api) -> None:
    api = bus_api
    recorder = Recorder(CRM, schedule=[0.01, 0.02], refuse_all=True)
    bus = DatabaseBus(api.eco.engine)
    dispatcher = Dispatcher(bus, [recorder])

    async def state() -> tuple[str, int, str | None]:
        (d,) = await rows(api, deliveries)
        return d["status"], d["attempts"], d["last_error"]

    async def scenario() -> None:
        await create(api, "Lead", {"name": "Nobody home"})

        async def dead() -> bool:
            await dispatcher.run_once()
            return (await state())[0] == "dead"

        await until(dead, "the delivery to be dead-lettered")
        assert await state() == ("dead", 3, "refused")  # the first attempt and two retries
        for _ in range(3):
            assert await dispatcher.run_once() == 0  # a dead delivery is left alone
        (d,) = await rows(api, deliveries)
        assert await bus.redeliver(d["id"]) is True
        assert (await state())[0] == "pending"
        recorder.refuse_all = False
        assert await dispatcher.run_once() == 1
        assert await state() == ("done", 4, None)
        assert await bus.redeliver(10**9) is False

    api.runner.run(scenario())


def test_a_refusing_subscriber_does_not_stop_the_others(bus_api: Api) -> None:
    api = bus_api
    crm = Recorder(CRM, schedule=[60.0], refuse_all=True)
    archive = Recorder(ARCHIVE)
    dispatcher = Dispatcher(DatabaseBus(api.eco.engine), [crm, archive])

    async def scenario() -> None:
        await create(api, "Lead", {"name": "Refused"})
        await create(api, "Note", {"text": "Taken"})
        assert await dispatcher.run_once() == 2
        assert [d.event.entity for d in archive.got] == ["Note"]
        states = {
            d["subscriber"]: (d["status"], d["attempts"]) for d in await rows(api, deliveries)
        }
        assert states == {CRM: ("pending", 1), ARCHIVE: ("done", 1)}
        assert await dispatcher.run_once() == 0  # the refused one waits for its retry

    api.runner.run(scenario())


def test_a_hanging_subscriber_does_not_hold_up_the_others(bus_api: Api) -> None:
    api = bus_api
    gate = asyncio.Event()
    crm = Recorder(CRM, gate=gate)
    archive = Recorder(ARCHIVE)
    dispatcher = Dispatcher(DatabaseBus(api.eco.engine), [crm, archive], poll=0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(dispatcher.run(stop))
        try:
            await create(api, "Lead", {"name": "Hangs"})
            await asyncio.sleep(0.3)  # the CRM's delivery is in flight, and hangs
            await create(api, "Note", {"text": "Should not wait"})

            async def archived() -> bool:
                return bool(archive.got)

            await until(archived, "the note to reach the archive while the CRM hangs", timeout=2)
        finally:
            gate.set()
            stop.set()
            await loop
        assert crm.got and archive.got

    api.runner.run(scenario())


def test_a_hanging_delivery_holds_up_its_record_only(bus_api: Api) -> None:
    """Within one subscriber, a delivery that hangs takes one of its places in flight: the other
    records' events go on through the others, and its record's next event waits behind it."""
    api = bus_api
    gate = asyncio.Event()
    crm = Recorder(CRM, gate=gate)
    dispatcher = Dispatcher(DatabaseBus(api.eco.engine), [crm], poll=0.05, concurrency=2)

    async def scenario() -> None:
        hangs = await create(api, "Lead", {"name": "Hangs"})
        (first,) = await event_ids(api, hangs)
        crm.gated = {first}
        stop = asyncio.Event()
        loop = asyncio.create_task(dispatcher.run(stop))
        try:

            async def in_flight() -> bool:
                return any(d["attempts"] for d in await rows(api, deliveries))

            await until(in_flight, "the first delivery to be in flight")
            await update(api, "Lead", hangs, {"status": "won"})
            others = [await create(api, "Lead", {"name": f"Lead {i}"}) for i in range(6)]
            expected = [e for rid in others for e in await event_ids(api, rid)]

            async def others_taken() -> bool:
                return sorted(crm.events) == sorted(expected)

            await until(others_taken, "the other leads' events while one delivery hangs")
            gate.set()
            (_, second) = await event_ids(api, hangs)

            async def all_taken() -> bool:
                return len(crm.got) == len(expected) + 2

            await until(all_taken, "the hanging lead's events once it is released")
        finally:
            gate.set()
            stop.set()
            await loop
        assert [e for e in crm.events if e in (first, second)] == [first, second]
        assert {d["status"] for d in await rows(api, deliveries)} == {"done"}

    api.runner.run(scenario())


def test_a_commit_wakes_the_dispatcher_before_its_next_poll(bus_api: Api) -> None:
    api = bus_api
    recorder = Recorder(CRM)
    dispatcher = Dispatcher(DatabaseBus(api.eco.engine), [recorder], poll=600)
    api.eco.commits.listeners.append(dispatcher.notify)  # as serve does: commits wake it

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(dispatcher.run(stop))
        try:
            await asyncio.sleep(0.3)  # it looked, found nothing, and sleeps for ten minutes
            result = await api.eco.graphql.run(
                'mutation { createLead(input: {name: "Now"}) { id } }'
            )
            assert not result.errors

            async def delivered() -> bool:
                return bool(recorder.got)

            await until(delivered, "the write to wake the dispatcher", timeout=10)
        finally:
            stop.set()
            await loop

    api.runner.run(scenario())


def test_a_write_survives_the_dispatcher_committing_beside_it(bus_api: Api) -> None:
    """`ecospec serve` runs mutations and the dispatcher on one database. A mutation reads (finds
    the record, checks refs and uniques) before it writes; when the dispatcher commits in between
    (a claim, an ack, an attempt logged), the mutation must still go through. (On SQLite with a
    deferred BEGIN it failed with 'database is locked': SQLITE_BUSY_SNAPSHOT, no busy wait.)"""
    api = bus_api
    engine = api.eco.engine
    bus = DatabaseBus(engine)

    async def scenario() -> None:
        rid = await create(api, "Lead", {"name": "Busy"})
        (delivery,) = await bus.claim(CRM)
        read = asyncio.Event()
        go_on = asyncio.Event()
        lead = api.eco.catalog.entities["Lead"].table

        async def mutation() -> None:
            async with engine.begin() as conn:
                await conn.execute(select(lead.c.id))  # the mutation's first read
                read.set()
                await go_on.wait()
                await writer(api).update(conn, "Lead", rid, {"status": "won"})

        async def dispatcher_side() -> None:
            await read.wait()
            ack = asyncio.create_task(bus.ack(delivery))
            await asyncio.wait([ack], timeout=2)  # it commits now, or waits for the mutation
            go_on.set()
            await ack

        await asyncio.gather(mutation(), dispatcher_side())
        async with engine.connect() as conn:
            assert await conn.scalar(select(lead.c.status).where(lead.c.id == rid)) == "won"

    api.runner.run(scenario())


# -- the schedule and the payload ------------------------------------------------------------------


def test_backoff_follows_the_schedule_with_ten_percent_of_jitter() -> None:
    schedule = [5.0, 300.0, 1800.0]
    for attempts, base in enumerate(schedule, 1):
        waits = {backoff(schedule, attempts) for _ in range(200)}
        assert all(w is not None and base * 0.9 <= w.total_seconds() <= base * 1.1 for w in waits)
        assert len(waits) > 1  # jittered, so retries of many events spread out
    assert backoff(schedule, 4) is None  # the schedule is spent: dead letter


def test_the_default_schedule_is_svix_s() -> None:
    hook = Webhook.model_validate(
        {"url": "http://x", "secret_env": "S", "events": {"Lead": ["create"]}}
    )
    assert [str(wait) for wait in hook.schedule] == ["5s", "5m", "30m", "2h", "5h", "10h", "10h"]
    assert hook.timeout_ms == 10_000


def test_an_event_as_json() -> None:
    event = Event(12, "2026-11-22T10:00:00.000000+00:00", "Lead", "update", 37,
                  {"status": ["new", "in_progress"]}, "manager", "3", None)  # fmt: skip
    assert event.to_json() == {
        "id": 12,
        "type": "Lead.update",
        "at": "2026-11-22T10:00:00.000000+00:00",
        "entity": "Lead",
        "operation": "update",
        "record_id": 37,
        "changes": {"status": ["new", "in_progress"]},
        "actor": {"role": "manager", "user_id": "3", "key_id": None},
    }
