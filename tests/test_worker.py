"""`ecospec worker` as a real process: killed with SIGKILL in the middle of a delivery, it loses
nothing (another worker delivers once the lease runs out); two workers on one PostgreSQL database
deliver each of a few hundred events exactly once, in order per record.

The CLI has no option for the lease (60 s): the worker that is killed is started through a few
lines that run the same `cli.main(["worker", ...])` with DatabaseBus's default lease set to 2 s.
The worker that takes over is the plain `ecospec worker`."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sys
import textwrap
from collections import Counter
from collections.abc import Collection
from pathlib import Path

import httpx
import pytest
from dbs import api_on, resolve
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool
from test_webhooks import (
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    Hit,
    ecospec_command,
    migrated,
    process_env,
    receiving,
    running,
    wait_for,
    write_hooks_project,
)

from ecospec.runtime.bus import DatabaseBus, Dispatcher
from ecospec.runtime.capabilities.webhooks import WebhookSubscriber, attempts, verify
from ecospec.runtime.database import async_engine
from ecospec.runtime.system import audit, deliveries

pytest_plugins = ["dbs"]

READY = "worker for hooks: delivering to webhook:archive, webhook:crm"
LAUNCHER = textwrap.dedent(
    """
    import datetime, sys
    import ecospec.runtime.bus
    # `ecospec worker` itself, with the bus's lease set to argv[1] seconds (the CLI has no option)
    ecospec.runtime.bus.DatabaseBus.__init__.__defaults__ = (datetime.timedelta(seconds=float(sys.argv[1])),)
    from ecospec.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def worker_command(project: Path, lease: float | None = None) -> list[str]:
    if lease is None:
        return ecospec_command("worker", "--project", str(project))
    return [sys.executable, "-c", LAUNCHER, str(lease), "worker", "--project", str(project)]


def last_errors(database: str, events: Collection[int]) -> dict[int, str | None]:
    """Why the last attempt of each of these deliveries to the CRM failed."""
    engine = create_engine(resolve(database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                select(deliveries.c.event_id, deliveries.c.last_error).where(
                    deliveries.c.subscriber == "webhook:crm",
                    deliveries.c.event_id.in_(list(events)),
                )
            )
            return {int(r.event_id): r.last_error for r in found}
    finally:
        engine.dispose()


def states(database: str) -> dict[int, tuple[str, int, bool]]:
    """Each delivery to the CRM by event id: status, attempts, whether it is leased."""
    engine = create_engine(resolve(database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                select(
                    deliveries.c.event_id,
                    deliveries.c.status,
                    deliveries.c.attempts,
                    deliveries.c.locked_until,
                ).where(deliveries.c.subscriber == "webhook:crm")
            )
            return {
                int(r.event_id): (r.status, int(r.attempts), r.locked_until is not None)
                for r in found
            }
    finally:
        engine.dispose()


def logged_attempts(database: str) -> int:
    engine = create_engine(resolve(database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return len(conn.execute(select(attempts.c.id)).all())
    finally:
        engine.dispose()


def leads_events(database: str) -> dict[int, list[int]]:
    """Every lead's event ids, oldest first."""
    engine = create_engine(resolve(database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                select(audit.c.record_id, audit.c.id)
                .where(audit.c.entity == "Lead")
                .order_by(audit.c.id)
            )
            events: dict[int, list[int]] = {}
            for record_id, event_id in found:
                events.setdefault(int(record_id), []).append(int(event_id))
            return events
    finally:
        engine.dispose()


def all_done(database: str) -> bool:
    found = states(database)
    return bool(found) and all(status == "done" for status, _, _ in found.values())


def check_order_and_keys(hits: list[Hit], events: dict[int, list[int]]) -> None:
    """Every event arrived, signed, with one key; each record's events arrived in order."""
    for record_id, ids in events.items():
        arrived = [int(h.key) for h in hits if h.event["record_id"] == record_id]
        assert arrived == sorted(arrived), f"lead {record_id}: out of order: {arrived}"
        assert set(arrived) == set(ids), f"lead {record_id}: got {arrived}, wrote {ids}"
    for hit in hits:
        assert hit.key == str(hit.event["id"])
        assert verify(HOOK_SECRET, hit.headers["ecospec-signature"], hit.body)


def test_a_worker_killed_mid_delivery_loses_nothing(database: str, tmp_path: Path) -> None:
    with receiving() as crm:
        project = write_hooks_project(
            tmp_path / "project", f"{crm.url}/crm", "http://127.0.0.1:9/in"
        )
        migrated(project, database)
        env = process_env(database)
        crm.hold()  # every request hangs: the worker is mid-delivery
        with running(worker_command(project, lease=2), env, tmp_path / "first", READY) as first:
            with api_on(database, project) as api:
                a = api.data('mutation { createLead(input: {name: "A"}) { id } }')["createLead"][
                    "id"
                ]
                b = api.data('mutation { createLead(input: {name: "B"}) { id } }')["createLead"][
                    "id"
                ]
                api.data(f'mutation {{ updateLead(id: "{a}", input: {{status: won}}) {{ id }} }}')
            events = leads_events(database)
            ea, eb = events[int(a)], events[int(b)]
            wait_for(
                lambda: {h.key for h in crm.snapshot()} == {str(ea[0]), str(eb[0])},
                "the worker to be in the middle of delivering both leads' first events",
            )
            first.kill()
            assert first.popen.returncode == -signal.SIGKILL

        # the killed worker's deliveries are still there, leased; nothing was logged as done
        assert states(database) == {
            ea[0]: ("pending", 1, True),
            eb[0]: ("pending", 1, True),
            ea[1]: ("pending", 0, False),
        }
        assert logged_attempts(database) == 0
        crm.release()  # the hung requests end, answering a worker that is gone

        with running(worker_command(project), env, tmp_path / "second", READY) as second:
            wait_for(lambda: all_done(database), "the second worker to deliver everything")
            second_code = second.stop()
        assert second_code == 0  # SIGTERM: it finishes what it holds and exits cleanly

        hits = crm.snapshot()
        check_order_and_keys(hits, events)
        assert Counter(h.key for h in hits) == {str(ea[0]): 2, str(eb[0]): 2, str(ea[1]): 1}
        for event_id in (ea[0], eb[0]):  # the same request again: same key, same payload
            assert len({h.body for h in crm.of(event_id)}) == 1
        assert states(database) == {
            ea[0]: ("done", 2, False),
            eb[0]: ("done", 2, False),
            ea[1]: ("done", 1, False),
        }


def test_a_dispatcher_cancelled_mid_delivery_is_taken_over(database: str, tmp_path: Path) -> None:
    """The same in one process: two dispatchers on their own engines, one cancelled while its
    request hangs (a replica going away); the other takes the delivery once the lease is over."""
    with receiving() as crm:
        project = write_hooks_project(
            tmp_path / "project", f"{crm.url}/crm", "http://127.0.0.1:9/in"
        )
        migrated(project, database)
        crm.hold()
        with api_on(database, project) as api:
            api.data('mutation { createLead(input: {name: "Cancelled"}) { id } }')
            hook = api.eco.spec.webhooks["crm"]

            async def scenario(monkey: pytest.MonkeyPatch) -> None:
                monkey.setenv(HOOK_SECRET_ENV, HOOK_SECRET)
                lease = dt.timedelta(milliseconds=500)
                engines = [async_engine(resolve(database)) for _ in range(2)]
                async with httpx.AsyncClient() as client:
                    try:
                        one, two = (
                            Dispatcher(
                                DatabaseBus(engine, lease=lease),
                                [WebhookSubscriber("crm", hook, engine, client)],
                            )
                            for engine in engines
                        )
                        stop = asyncio.Event()
                        task = asyncio.create_task(one.run(stop))
                        while not crm.snapshot():
                            await asyncio.sleep(0.02)
                        task.cancel()
                        with pytest.raises(asyncio.CancelledError):
                            await task
                        crm.release()
                        while not await two.run_once():
                            await asyncio.sleep(0.05)
                    finally:
                        for engine in engines:
                            await engine.dispose()

            with pytest.MonkeyPatch.context() as monkey:
                api.runner.run(scenario(monkey))
        ((event_id, state),) = states(database).items()
        assert state == ("done", 2, False)
        assert [h.key for h in crm.snapshot()] == [str(event_id)] * 2


def test_two_workers_on_postgresql_deliver_each_event_once(
    backend: str, database: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("on SQLite one worker is the rule: its writes are serialised anyway")
    with receiving() as crm:
        # the same webhook in both workers' specs, at two paths, to tell who delivered what
        one = write_hooks_project(tmp_path / "one", f"{crm.url}/one", "http://127.0.0.1:9/in")
        two = write_hooks_project(tmp_path / "two", f"{crm.url}/two", "http://127.0.0.1:9/in")
        migrated(one, database)
        env = process_env(database)
        with (
            running(worker_command(one), env, tmp_path / "w1", READY),
            running(worker_command(two), env, tmp_path / "w2", READY),
            api_on(database, one) as api,
        ):
            writer = api.eco.graphql.writer

            async def write(n: int) -> list[int]:
                async with api.eco.engine.begin() as conn:
                    return [
                        await writer.create(conn, "Lead", {"name": f"Lead {i}"}) for i in range(n)
                    ]

            async def touch(ids: list[int]) -> None:
                async with api.eco.engine.begin() as conn:
                    for rid in ids:
                        await writer.update(conn, "Lead", rid, {"status": "in_progress"})

            ids = api.runner.run(write(150))
            api.runner.run(touch(ids))
            wait_for(lambda: all_done(database), "two workers to deliver 300 events", timeout=90)

    hits = crm.snapshot()
    events = leads_events(database)
    every = sorted(e for ids in events.values() for e in ids)
    assert len(every) == 300
    counted = Counter(int(h.key) for h in hits)
    twice = {e: n for e, n in counted.items() if n != 1}
    assert twice == {}, f"delivered more than once: {twice}"
    assert sorted(counted) == every
    check_order_and_keys(hits, events)
    by_worker = Counter(h.path for h in hits)
    assert set(by_worker) == {"/one", "/two"}, by_worker  # both took a share
    retried = {e: s for e, s in states(database).items() if s[:2] != ("done", 1)}
    assert retried == {}, f"attempted more than once: {retried}: {last_errors(database, retried)}"
