"""The data bus: events per second through the outbox, and the time from a mutation to the page.

Part 1, throughput. Ecospec's outbox (`runtime.bus.publish`: an event row and a delivery row, in
the writer's transaction) drained by its dispatcher (`Dispatcher.run`, as `ecospec worker` runs
it: claim, deliver, ack each, up to 8 deliveries in flight) on SQLite and PostgreSQL, beside procrastinate, a PostgreSQL job queue, on the same
PostgreSQL database (its own schema) doing the same work: defer N jobs, a worker consumes them.
Four workloads, each timed in two phases (write N, then drain N):

- no-op: a subscriber (a task) that does nothing: the bus's own cost;
- batched: the same, written 100 to a transaction (procrastinate: `batch_defer_async`);
- hot records: N events over 10 records, delivered in order per record (procrastinate: jobs with
  a `lock` per record, which it runs one at a time in order);
- webhook: each event POSTed as signed JSON to a receiver on loopback (uvicorn in a subprocess);
  Ecospec's WebhookSubscriber (which also logs every attempt), a procrastinate task doing the
  same POST with the same signature through one httpx client. Both run 8 deliveries at a time.

Part 2, mutation to page. The demo, enlarged with generated complexes, buildings and apartments
until the sites have about `--pages` pages (one per public apartment), is built into a temporary
project's sites/; `ecospec serve` runs on it (the dispatcher in its lifespan; the timing starts
once its sites subscriber has read and indexed the built site, which it does at start and which
is reported apart); the script changes
one apartment's price over GraphQL as admin, and watches the apartment's page file until the new
price is in it, then waits for the sites' delivery to be acknowledged (every page the change
touches rewritten, the manifest written); `--changes` times, one after the other. The peer is what a site without the bus
does after a change: a full `ecospec build` (timed in process, over the built folder).

Run: .venv/bin/python bench/bus.py [--events 5000] [--pages 10000] [--changes 30]
     [--only throughput|latency] [--latency-database postgresql|sqlite]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is first on sys.path and bench/graphql.py would shadow graphql-core,
# which the runtime imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import jwt
import procrastinate
import psycopg
from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from ecospec.generator.blocks import load_blocks
from ecospec.generator.build import build_site
from ecospec.generator.loader import load_spec
from ecospec.generator.model import Webhook
from ecospec.generator.render import money
from ecospec.runtime.bus import DatabaseBus, Dispatcher, publish
from ecospec.runtime.capabilities.webhooks import WebhookSubscriber, sign
from ecospec.runtime.database import async_engine
from ecospec.runtime.ecosystem import Ecosystem
from ecospec.runtime.migrate import migrate
from ecospec.runtime.system import deliveries
from ecospec.runtime.types import Delivery

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "whsec_bench_0123456789abcdef"
SECRET_ENV = "ECOSPEC_BENCH_HOOK_SECRET"
JWT_SECRET = "a bench secret that is long enough for HS256 signing"
CONCURRENCY = 8  # the Dispatcher's default; procrastinate's worker gets the same
HOT_RECORDS = 10
BATCH = 100

# A project of one entity and one webhook: the tables the outbox needs, nothing more.
PROJECT = {
    "spec/ecosystem.yaml": "ecosystem: busbench\ntitle: Bus bench\n",
    "spec/roles.yaml": "roles:\n  public:\n    description: nobody\n",
    "spec/entities.yaml": textwrap.dedent(
        """\
        entities:
          Lead:
            fields:
              name: {type: string, required: true}
              status: {type: enum, values: [new, won], default: new}
        """
    ),
    "spec/webhooks.yaml": textwrap.dedent(
        f"""\
        webhooks:
          bench:
            url: http://127.0.0.1:9/bench
            secret_env: {SECRET_ENV}
            events: {{Lead: [update]}}
        """
    ),
}


def payload(i: int, records: int) -> dict[str, Any]:
    """The event of an update of lead `i % records`, as Writer.record writes it."""
    return {
        "at": dt.datetime.now(dt.UTC),
        "role": "admin",
        "user_id": "1",
        "key_id": None,
        "entity": "Lead",
        "record_id": i % records,
        "operation": "update",
        "changes": {"status": ["new", "won"], "note": [None, f"bench event {i}"]},
    }


# -- databases -------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema, as a URL whose search_path points at it; dropped after."""
    name = f"bench_bus_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield str(
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={name}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def conninfo(url: str) -> str:
    """A SQLAlchemy-style PostgreSQL URL as libpq takes it (procrastinate, psycopg)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def sa_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def write_project(folder: Path, files: dict[str, str]) -> Path:
    for rel, body in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return folder


# -- a loopback receiver ------------------------------------------------------------------------------

RECEIVER = textwrap.dedent(
    """
    import sys, uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False)
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    """A webhook receiver that answers 200 to everything: uvicorn in a subprocess."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    url = f"http://127.0.0.1:{port}/hook"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- part 1: throughput ------------------------------------------------------------------------------


@dataclass
class Phases:
    """One contender on one workload: seconds to write N, seconds to drain N."""

    events: int
    write: float
    drain: float

    @property
    def write_rate(self) -> float:
        return self.events / self.write

    @property
    def drain_rate(self) -> float:
        return self.events / self.drain

    @property
    def rate(self) -> float:
        """Events per second through both phases."""
        return self.events / (self.write + self.drain)


class Noop:
    """A subscriber that takes every event and does nothing."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen = 0

    def wants(self, entity: str, operation: str) -> bool:
        return True

    def retry_after(self, attempts: int) -> dt.timedelta | None:
        return dt.timedelta(seconds=5)

    async def deliver(self, delivery: Delivery) -> None:
        self.seen += 1


async def ecospec_write(
    engine: AsyncEngine, n: int, records: int, subscriber: str, per: int
) -> float:
    """Publish n events, `per` to a transaction; seconds."""
    started = time.perf_counter()
    for first in range(0, n, per):
        async with engine.begin() as conn:
            for i in range(first, min(n, first + per)):
                await publish(conn, payload(i, records), [subscriber])
    return time.perf_counter() - started


class CountingBus(DatabaseBus):
    """The database bus, telling when it has acknowledged `n` deliveries."""

    def __init__(self, engine: AsyncEngine, n: int) -> None:
        super().__init__(engine)
        self.n = n
        self.acked = 0
        self.all_acked = asyncio.Event()

    async def ack(self, delivery: Delivery) -> None:
        await super().ack(delivery)
        self.acked += 1
        if self.acked >= self.n:
            self.all_acked.set()


async def ecospec_drain(
    dispatcher: Dispatcher, bus: CountingBus, n: int, pending: Callable[[], Awaitable[int]]
) -> float:
    """The dispatcher's loop until the subscriber's deliveries are all done; seconds."""
    stop = asyncio.Event()
    started = time.perf_counter()
    loop = asyncio.create_task(dispatcher.run(stop))
    await bus.all_acked.wait()
    elapsed = time.perf_counter() - started
    stop.set()
    await loop
    left = await pending()
    if left:
        raise RuntimeError(f"{left} of {n} deliveries were left pending")
    return elapsed


async def ecospec_workload(
    url: str, workload: str, n: int, hook_url: str | None, folder: Path, analyze: bool = True
) -> Phases:
    project = write_project(folder / f"project-{uuid.uuid4().hex[:6]}", PROJECT)
    spec = load_spec(project)
    migrate(spec, sa_url(url))
    engine = async_engine(sa_url(url))
    try:
        records = HOT_RECORDS if workload == "hot records" else n
        per = BATCH if workload == "batched" else 1
        name = "webhook:bench" if workload == "webhook" else "noop"

        async def pending() -> int:
            async with engine.connect() as conn:
                found = await conn.scalar(
                    select(func.count())
                    .select_from(deliveries)
                    .where(deliveries.c.subscriber == name, deliveries.c.status != "done")
                )
                return int(found or 0)

        write = await ecospec_write(engine, n, records, name, per)
        if analyze and engine.dialect.name == "postgresql":
            async with engine.begin() as conn:  # what autovacuum does within a minute
                await conn.execute(text("ANALYZE ecospec_events, ecospec_deliveries"))
        async with httpx.AsyncClient() as client:
            if workload == "webhook":
                assert hook_url is not None
                hook = Webhook.model_validate(
                    {"url": hook_url, "secret_env": SECRET_ENV, "events": {"Lead": ["update"]}}
                )
                subscriber: Any = WebhookSubscriber("bench", hook, engine, client)
            else:
                subscriber = Noop(name)
            bus = CountingBus(engine, n)
            dispatcher = Dispatcher(bus, [subscriber], concurrency=CONCURRENCY)
            drain = await ecospec_drain(dispatcher, bus, n, pending)
        return Phases(n, write, drain)
    finally:
        await engine.dispose()


async def procrastinate_workload(
    url: str, workload: str, n: int, hook_url: str | None, analyze: bool = True
) -> Phases:
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(url), min_size=2, max_size=CONCURRENCY + 4
    )
    app = procrastinate.App(connector=connector)
    seen = 0
    client = httpx.AsyncClient()

    @app.task(name="noop")  # type: ignore[untyped-decorator,unused-ignore]
    async def noop(**event: Any) -> None:
        nonlocal seen
        seen += 1

    @app.task(name="post")  # type: ignore[untyped-decorator,unused-ignore]
    async def post(**event: Any) -> None:
        nonlocal seen
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        assert hook_url is not None
        response = await client.post(
            hook_url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Ecospec-Signature": sign(SECRET, int(time.time()), body),
                "Idempotency-Key": str(event["record_id"]),
            },
            timeout=10,
        )
        response.raise_for_status()
        seen += 1

    task = post if workload == "webhook" else noop
    records = HOT_RECORDS if workload == "hot records" else n
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        started = time.perf_counter()
        if workload == "batched":
            for first in range(0, n, BATCH):
                await task.batch_defer_async(
                    *(_jsonable(payload(i, records)) for i in range(first, min(n, first + BATCH)))
                )
        elif workload == "hot records":
            for i in range(n):
                await task.configure(lock=f"lead-{i % records}").defer_async(
                    **_jsonable(payload(i, records))
                )
        else:
            for i in range(n):
                await task.defer_async(**_jsonable(payload(i, records)))
        write = time.perf_counter() - started
        if analyze:
            await connector.execute_query_async("ANALYZE procrastinate_jobs")
        started = time.perf_counter()
        await app.run_worker_async(
            wait=False,
            concurrency=CONCURRENCY,
            install_signal_handlers=False,
            listen_notify=False,
            fetch_job_polling_interval=0.05,
        )
        drain = time.perf_counter() - started
    await client.aclose()
    if seen != n:
        raise RuntimeError(f"procrastinate ran {seen} of {n} jobs")
    return Phases(n, write, drain)


def _jsonable(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "at": event["at"].isoformat()}


async def claim_cost(url: str, n: int, folder: Path) -> tuple[float, float]:
    """Milliseconds for one claim of 50 from a backlog of n: with the statistics of a fresh
    table (none: as after a migration, or with autovacuum off or behind), then after ANALYZE."""
    project = write_project(folder / f"project-{uuid.uuid4().hex[:6]}", PROJECT)
    migrate(load_spec(project), sa_url(url))
    engine = async_engine(sa_url(url))
    try:
        await ecospec_write(engine, n, n, "noop", BATCH)
        bus = DatabaseBus(engine)
        started = time.perf_counter()
        await bus.claim("noop")
        cold = time.perf_counter() - started
        async with engine.begin() as conn:
            postgres = engine.dialect.name == "postgresql"
            await conn.execute(
                text("ANALYZE ecospec_events, ecospec_deliveries" if postgres else "ANALYZE")
            )
        started = time.perf_counter()
        await bus.claim("noop")
        warm = time.perf_counter() - started
        return 1000 * cold, 1000 * warm
    finally:
        await engine.dispose()


WORKLOADS = ("no-op", "batched", "hot records", "webhook")
CONTENDERS = ("ecospec sqlite", "ecospec postgresql", "procrastinate")


@dataclass
class Throughput:
    rows: dict[tuple[str, str], Phases] = field(default_factory=dict)  # (contender, workload)
    claims: dict[str, tuple[float, float]] = field(default_factory=dict)  # database: ms


async def throughput(args: argparse.Namespace, folder: Path) -> Throughput:
    os.environ[SECRET_ENV] = SECRET
    results = Throughput()
    n = args.events
    with postgres_schema(args.database_url) as pg:
        results.claims["postgresql"] = await claim_cost(pg, n, folder)
    results.claims["sqlite"] = await claim_cost(f"sqlite:///{folder}/claims.db", n, folder)
    for database, (cold, warm) in results.claims.items():
        print(
            f"  one claim of 50 from {n} pending on {database}: {cold:,.1f} ms before ANALYZE, "
            f"{warm:,.1f} ms after",
            flush=True,
        )
    with receiver() as hook_url:
        for workload in WORKLOADS:
            with postgres_schema(args.database_url) as pg, postgres_schema(args.database_url) as pq:
                sqlite = f"sqlite:///{folder}/bus-{uuid.uuid4().hex[:6]}.db"
                for name in CONTENDERS:
                    analyze = not args.cold_statistics
                    if name == "procrastinate":
                        phases = await procrastinate_workload(pq, workload, n, hook_url, analyze)
                    else:
                        database = sqlite if name == "ecospec sqlite" else pg
                        phases = await ecospec_workload(
                            database, workload, n, hook_url, folder, analyze
                        )
                    results.rows[(name, workload)] = phases
                    print(
                        f"  {workload:<12} {name:<19} write {phases.write_rate:8.0f}/s   "
                        f"drain {phases.drain_rate:8.0f}/s   through {phases.rate:8.0f}/s",
                        flush=True,
                    )
    return results


def print_throughput(results: Throughput, n: int, cold: bool) -> None:
    print(f"\none claim of 50 deliveries from a backlog of {n}:")
    print("| database | no statistics yet | after ANALYZE |")
    print("|---|---:|---:|")
    for database, (before, after) in results.claims.items():
        print(f"| {database} | {before:,.1f} ms | {after:,.1f} ms |")
    statistics_note = "no ANALYZE" if cold else "ANALYZE after writing, as autovacuum would"
    print(
        f"\nthroughput, {n} events per workload ({statistics_note}; events/s: write, drain, "
        "both phases):"
    )
    print("| workload | contender | write | drain | through both |")
    print("|---|---|---:|---:|---:|")
    for workload in WORKLOADS:
        for name in CONTENDERS:
            p = results.rows[(name, workload)]
            print(
                f"| {workload} | {name} | {p.write_rate:,.0f} | {p.drain_rate:,.0f} | {p.rate:,.0f} |"
            )
    print("\nratios, ecospec on PostgreSQL / procrastinate (above 1x: ecospec is faster):")
    print("| workload | write | drain | through both | ecospec sqlite / postgresql, both |")
    print("|---|---:|---:|---:|---:|")
    for workload in WORKLOADS:
        e = results.rows[("ecospec postgresql", workload)]
        s = results.rows[("ecospec sqlite", workload)]
        p = results.rows[("procrastinate", workload)]
        print(
            f"| {workload} | {e.write_rate / p.write_rate:.2f}x | {e.drain_rate / p.drain_rate:.2f}x "
            f"| {e.rate / p.rate:.2f}x | {s.rate / e.rate:.2f}x |"
        )


# -- part 2: mutation to page -------------------------------------------------------------------------


def enlarge(url: str, pages: int) -> dict[str, int]:
    """Add complexes (4 buildings of 75 apartments each, a third of them sold) until the public
    apartments number about `pages`; the counts of the site's records."""
    eco_spec = load_spec(ROOT)
    from ecospec.runtime.catalog import build_catalog

    catalog = build_catalog(eco_spec)
    tables = {name: catalog.entities[name].table for name in ("Complex", "Building", "Apartment")}
    engine = create_engine(sa_url(url), poolclass=NullPool)
    per_complex = 4 * 75 * 2 // 3
    complexes = max(1, round(pages / per_complex))
    moment = dt.datetime.now(dt.UTC)
    stamp = {"created_at": moment, "updated_at": moment}
    rng = random.Random(7)
    with engine.begin() as conn:
        for c in range(1, complexes + 1):
            cid = conn.execute(
                insert(tables["Complex"])
                .values(
                    name=f"Бенч {c}", slug=f"bench-{c}", city="Бенчград", status="building", **stamp
                )
                .returning(tables["Complex"].c.id)
            ).scalar_one()
            for b in range(1, 5):
                bid = conn.execute(
                    insert(tables["Building"]).values(
                        code=f"B{c}-{b}", complex_id=cid, name=f"Корпус {b}", number=b,
                        floors=17, status="building", **stamp,
                    ).returning(tables["Building"].c.id)
                ).scalar_one()  # fmt: skip
                rows = [
                    {
                        "code": f"X{c}-{b}-{k}",
                        "complex_id": cid,
                        "building_id": bid,
                        "number": k,
                        "floor": 1 + k % 17,
                        "rooms": k % 5,
                        "area": Decimal(25 + (k * 7) % 90) + Decimal("0.5"),
                        "price": Decimal(5_000_000 + rng.randrange(0, 3_000_000) * 10),
                        "status": ("free", "booked", "sold")[k % 3],
                        "finishing": "white_box",
                        "balcony": k % 2 == 0,
                        **stamp,
                    }
                    for k in range(1, 76)
                ]
                conn.execute(insert(tables["Apartment"]), rows)
        # the seed's events are in the first build: nothing for the bus to catch up on
        conn.execute(update(deliveries).values(status="done"))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # what autovacuum does within a minute
            conn.execute(
                text("ANALYZE complex, building, apartment, ecospec_events, ecospec_deliveries")
            )
    with engine.connect() as conn:
        counts = {
            name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in tables.items()
        }
    engine.dispose()
    return counts


def latency_project(folder: Path) -> Path:
    """The demo's spec, blocks and static files, with sites/ of its own."""
    project = folder / "demo"
    project.mkdir()
    for name in ("spec", "blocks", "static"):
        if (ROOT / name).exists():
            (project / name).symlink_to(ROOT / name)
    return project


def ecospec_command(*args: str) -> list[str]:
    exe = BIN / "ecospec"
    return [str(exe) if exe.exists() else shutil.which("ecospec") or "ecospec", *args]


def run_ecospec(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ecospec_command(*args), env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ecospec {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.asynccontextmanager
async def serving(project: Path, env: dict[str, str], logs: Path) -> AsyncIterator[str]:
    port = free_port()
    with (logs / "serve.out").open("w") as out, (logs / "serve.err").open("w") as err:
        process = subprocess.Popen(
            ecospec_command("serve", "--project", str(project), "--port", str(port)),
            stdout=out,
            stderr=err,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"ecospec serve exited: {(logs / 'serve.err').read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    # up, and the sites subscriber has read and indexed the built site (it
                    # does that once, at start: timed apart, as `ready`)
                    if (await client.get(f"{base}/healthz")).status_code == 200 and (
                        "sites: ready" in (logs / "serve.err").read_text()
                    ):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("ecospec serve did not start")
                await asyncio.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def pending_sites(url: str) -> int:
    engine = create_engine(sa_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.scalar(
                select(func.count())
                .select_from(deliveries)
                .where(deliveries.c.subscriber == "sites", deliveries.c.status == "pending")
            )
            return int(found or 0)
    finally:
        engine.dispose()


@dataclass
class Latency:
    database: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    first_build: float = 0.0
    full_rebuild: float = 0.0
    mutation: list[float] = field(default_factory=list)  # the HTTP request
    to_page: list[float] = field(default_factory=list)  # request sent -> new price in the file
    settled: list[float] = field(default_factory=list)  # request sent -> the rebuild acknowledged
    rewritten: list[int] = field(default_factory=list)  # page files written per change
    ready: float = 0.0  # the sites subscriber reading and indexing the manifest, at start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def latency(args: argparse.Namespace, folder: Path) -> Latency:
    result = Latency(database=args.latency_database)
    with contextlib.ExitStack() as stack:
        if args.latency_database == "postgresql":
            url = stack.enter_context(postgres_schema(args.database_url))
        else:
            url = f"sqlite:///{folder}/pages.db"
        project = latency_project(folder)
        env = {**os.environ, "ECOSPEC_DATABASE_URL": url, "ECOSPEC_JWT_SECRET": JWT_SECRET}
        env.pop("ECOSPEC_ENV", None)
        run_ecospec(env, "migrate", "--project", str(project))
        run_ecospec(env, "seed", "--project", str(project))
        result.counts = enlarge(url, args.pages)
        print(f"  data: {result.counts}", flush=True)

        eco = Ecosystem.build(project, load_spec(project), sa_url(url))
        library = load_blocks(project)
        out = project / "sites"
        try:
            started = time.perf_counter()
            report = await build_site(eco.spec, library, eco.source(), project, out)
            result.first_build = time.perf_counter() - started
            result.pages = report.pages
            print(f"  first build: {report.pages} pages in {result.first_build:.1f} s", flush=True)
            async with eco.engine.connect() as conn:
                apartment = eco.catalog.entities["Apartment"].table
                rows = (
                    await conn.execute(
                        select(apartment.c.id, apartment.c.code, apartment.c.price).where(
                            apartment.c.status == "free", apartment.c.code.startswith("X")
                        )
                    )
                ).all()
        finally:
            await eco.close()
        rng = random.Random(11)
        chosen = rng.sample(rows, args.changes)

        token = jwt.encode(
            {"role": "admin", "sub": "1", "exp": int(time.time()) + 36000}, JWT_SECRET, "HS256"
        )
        headers = {"authorization": f"Bearer {token}"}
        changed_list = out / ".ecospec-changed"
        async with serving(project, env, folder) as base, httpx.AsyncClient(timeout=120) as client:
            found = re.search(r"indexed in ([\d.]+) s", (folder / "serve.err").read_text())
            result.ready = float(found.group(1)) if found else 0.0
            print(f"  serving; the sites subscriber ready in {result.ready:.1f} s", flush=True)
            for n, (rid, code, price) in enumerate(chosen, 1):
                new = Decimal(price) + 1000 * n
                wanted = money(new).encode()
                page = out / "apartments" / code / "index.html"
                before = len(changed_list.read_text().splitlines()) if changed_list.exists() else 0
                sent = time.perf_counter()
                response = await client.post(
                    f"{base}/graphql",
                    json={
                        "query": "mutation($id: ID!, $p: Money!) { updateApartment(id: $id, "
                        "input: {price: $p}) { id } }",
                        "variables": {"id": str(rid), "p": str(new)},
                    },
                    headers=headers,
                )
                answered = time.perf_counter()
                if response.status_code != 200 or "errors" in response.json():
                    raise RuntimeError(f"the mutation failed: {response.text}")
                while wanted not in page.read_bytes():
                    if time.perf_counter() - sent > 120:
                        raise RuntimeError(f"{page} did not change within 120 s")
                    await asyncio.sleep(0.002)
                seen = time.perf_counter()
                result.mutation.append(answered - sent)
                result.to_page.append(seen - sent)
                # let the rebuild finish (every page written, the changed list appended, acked)
                while pending_sites(url):
                    await asyncio.sleep(0.01)
                result.settled.append(time.perf_counter() - sent)
                after = len(changed_list.read_text().splitlines())
                result.rewritten.append(after - before)
                print(
                    f"  change {n}/{args.changes}: mutation {1000 * (answered - sent):.0f} ms, "
                    f"page {1000 * (seen - sent):.0f} ms, {after - before} pages rewritten",
                    flush=True,
                )

        eco = Ecosystem.build(project, load_spec(project), sa_url(url))
        try:
            started = time.perf_counter()
            await build_site(eco.spec, library, eco.source(), project, out)
            result.full_rebuild = time.perf_counter() - started
        finally:
            await eco.close()
    return result


def print_latency(result: Latency) -> None:
    ms = [1000 * v for v in result.to_page]
    mutation = [1000 * v for v in result.mutation]
    print(
        f"\nmutation to page on {result.database}: {result.pages} pages built "
        f"({result.counts.get('Apartment')} apartments, {result.counts.get('Complex')} complexes), "
        f"{len(ms)} price changes one after the other"
    )
    print("| measure | p50 | p90 | p99 | max |")
    print("|---|---:|---:|---:|---:|")
    settled = [1000 * v for v in result.settled]
    for name, values in (
        ("GraphQL mutation answered", mutation),
        ("new price in the page file", ms),
        ("every page rewritten, the manifest too (acknowledged)", settled),
    ):
        print(
            f"| {name} | {statistics.median(values):,.0f} ms | {percentile(values, 90):,.0f} ms "
            f"| {percentile(values, 99):,.0f} ms | {max(values):,.0f} ms |"
        )
    print(f"pages rewritten per change: median {statistics.median(result.rewritten):.0f}")
    print(
        f"at start, before the first change: the manifest read and indexed in {result.ready:.1f} s"
    )
    print(
        f"peer, a full build: first build {result.first_build:.1f} s; a full rebuild over the "
        f"built folder {result.full_rebuild:.1f} s = {1000 * result.full_rebuild / statistics.median(ms):.1f}x "
        "the median mutation-to-page time"
    )


# -- the run -------------------------------------------------------------------------------------------


def _commit() -> str:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        return "not a git checkout"
    head = subprocess.run(
        [git, "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run([git, "-C", str(ROOT), "diff", "--quiet", "HEAD"], check=False)
    return head.stdout.strip() + (" with uncommitted changes" if dirty.returncode else "")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def print_header(args: argparse.Namespace) -> None:
    with psycopg.connect(args.database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        autovacuum = conn.execute("SHOW autovacuum").fetchone()
    load1, load5, _ = os.getloadavg()
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Ecospec at {_commit()}")
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )
    print(f"load average before the run: {load1:.2f} (1 min), {load5:.2f} (5 min)")
    print(
        f"PostgreSQL {row[0] if row else '?'} (autovacuum {autovacuum[0] if autovacuum else '?'}); Python {platform.python_version()}; "
        f"SQLAlchemy {version('sqlalchemy')}, psycopg {version('psycopg')}, aiosqlite "
        f"{version('aiosqlite')}, httpx {version('httpx')}, uvicorn {version('uvicorn')}; "
        f"procrastinate {version('procrastinate')}"
    )


async def run(args: argparse.Namespace) -> int:
    # procrastinate warns that its App lives in __main__: true, and harmless here
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    print_header(args)
    with tempfile.TemporaryDirectory(prefix="ecospec-bus-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "throughput"):
            print(f"\nthroughput: {args.events} events per workload and contender", flush=True)
            print_throughput(await throughput(args, folder), args.events, args.cold_statistics)
        if args.only in (None, "latency"):
            print(
                f"\nmutation to page: about {args.pages} pages on {args.latency_database}",
                flush=True,
            )
            print_latency(await latency(args, folder))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=5000, help="events per workload (5000)")
    parser.add_argument("--pages", type=int, default=10_000, help="pages to build, about (10000)")
    parser.add_argument("--changes", type=int, default=30, help="price changes to time (30)")
    parser.add_argument("--only", choices=["throughput", "latency"], help="run one part")
    parser.add_argument(
        "--cold-statistics",
        action="store_true",
        help="no ANALYZE between writing and draining (PostgreSQL plans the claim without "
        "statistics, as on a fresh table or with autovacuum off)",
    )
    parser.add_argument(
        "--latency-database",
        choices=["postgresql", "sqlite"],
        default="postgresql",
        help="the database of the mutation-to-page part (postgresql)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("ECOSPEC_TEST_POSTGRES_URL", DEFAULT_URL),
        help="the PostgreSQL server (a schema of its own is made and dropped per run)",
    )
    args = parser.parse_args(argv)
    # stopped with SIGTERM, still drop the schemas and stop the subprocesses
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
