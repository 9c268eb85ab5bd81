"""Real databases for the runtime tests: SQLite files in tmp_path, PostgreSQL schemas (on the server
of ECOSPEC_TEST_POSTGRES_URL, or else on one the session starts for itself), the seeded demo, and a
synchronous handle on the GraphQL service.

Test modules load this file as a plugin (`pytest_plugins = ["dbs"]`) so that its session-scoped
fixtures (the seeded demo on each database) are built once per run, not once per module.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import sqlite3
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from graphql import ExecutionResult
from postgres_server import LocalPostgres, PostgresStartError
from postgres_server import start as start_postgres
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec
from ecospec.generator.slugs import slugify
from ecospec.runtime.ecosystem import Ecosystem
from ecospec.runtime.migrate import migrate
from ecospec.runtime.seed import SeedReport, load_seed

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "ECOSPEC_TEST_POSTGRES_URL"
REQUIRE_ENV = "ECOSPEC_TEST_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgresql")
DEMO_RECORDS = 496

WriteSpec = Callable[[Path, dict[str, str]], Path]  # the conftest's `write_spec` fixture

# Statements that steer a connection or a transaction rather than read or write data.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ", "PRAGMA")


# -- URLs and PostgreSQL schemas ------------------------------------------------------------------


def resolve(url: str) -> URL:
    """A test URL as the runtime uses it (PostgreSQL through psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise ValueError(f"{url} names no SQLite file")
    return Path(database)


_reachable: dict[str, str | None] = {}
_own: dict[str, LocalPostgres | str] = {}  # the session's own server, or why it did not start


def own_postgres_url() -> str:
    """The URL of the session's own server, started on the first call; the test fails when it
    cannot start (the reason is kept, so the next tests fail at once too)."""
    if "server" not in _own:
        try:
            _own["server"] = start_postgres()
        except PostgresStartError as exc:
            _own["server"] = f"cannot start a PostgreSQL server for the tests: {exc}"
    server = _own["server"]
    if isinstance(server, str):
        pytest.fail(f"{server}\n(or set {POSTGRES_ENV} to a server of your own)", pytrace=False)
    return server.url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    server = _own.pop("server", None)
    if isinstance(server, LocalPostgres):
        server.stop()


def postgres_url() -> str:
    """The server of ECOSPEC_TEST_POSTGRES_URL (the test fails when it is required and down, and
    skips when it is not required and down); without the variable, the session's own server."""
    raw = os.environ.get(POSTGRES_ENV) or own_postgres_url()
    if raw not in _reachable:
        engine = create_engine(
            resolve(raw), poolclass=NullPool, connect_args={"connect_timeout": 5}
        )
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            _reachable[raw] = None
        except DBAPIError as exc:
            _reachable[raw] = f"{type(exc.orig).__name__}: {exc.orig}".strip()
        finally:
            engine.dispose()
    problem = _reachable[raw]
    if problem is not None:
        shown = make_url(raw).render_as_string(hide_password=True)
        message = f"{POSTGRES_ENV}={shown} is unreachable: {problem}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return raw


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema `ecospec_t_<hex>`, as a URL whose search_path points at it; dropped after."""
    base = postgres_url()
    name = f"ecospec_t_{uuid.uuid4().hex}"
    admin = create_engine(resolve(base), poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def new_database(backend: str, folder: Path, name: str = "test.db") -> Iterator[str]:
    """An empty database of one kind, as a URL."""
    if backend == "sqlite":
        yield sqlite_url(folder / name)
    else:
        with postgres_schema() as url:
            yield url


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (the backup API, so no WAL is left behind)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


# -- the demo ecosystem ---------------------------------------------------------------------------


@functools.cache
def demo_spec() -> Spec:
    return load_spec(ROOT)


def seed_records(entity: str) -> list[dict[str, Any]]:
    """The demo's seed records of one entity, in file order (their ids follow this order)."""
    return [dict(r) for r in demo_spec().seed[entity]]


def complexes_by_slug() -> dict[str, dict[str, Any]]:
    return {r.get("slug") or slugify(r["name"]): r for r in seed_records("Complex")}


def exact(value: Any, places: int = 2) -> str:
    """A number as the API prints a money or decimal value: exact, with `places` digits."""
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{number:f}"


async def _seed(spec: Spec, url: str) -> SeedReport:
    eco = Ecosystem.build(ROOT, spec, resolve(url))
    try:
        return await load_seed(eco.engine, eco.writer)
    finally:
        await eco.close()


def seed(spec: Spec, url: str) -> SeedReport:
    """Load a spec's seed into a database the spec's tables are already in."""
    return asyncio.run(_seed(spec, url))


def build_demo(url: str) -> SeedReport:
    """Create the demo's tables in an empty database and load its seed."""
    spec = demo_spec()
    migrate(spec, resolve(url))
    return seed(spec, url)


@dataclass(frozen=True)
class SeededDemo:
    backend: str
    url: str
    report: SeedReport


# -- a small project of our own -------------------------------------------------------------------

SHOP_FILES: dict[str, str] = {
    "spec/ecosystem.yaml": """\
        ecosystem: shop
        title: Shop
        auth: {anonymous_role: public}
    """,
    "spec/roles.yaml": """\
        roles:
          public:
            Category: {read: true}
            Product: {read: true}
    """,
    "spec/entities/shop.yaml": """\
        entities:
          Category:
            fields:
              name: {type: string, required: true, max_length: 80}
              slug: {type: slug, from: name, unique: true}
              products: {type: list, of: Product, via: category}
          Product:
            fields:
              name: {type: string, required: true, max_length: 120}
              slug: {type: slug, from: name, unique: true}
              category: {type: ref, to: Category, required: true}
              price: {type: money, min: 0}
              status: {type: enum, values: [draft, on_sale, sold_out], default: draft}
    """,
    "spec/seed/shop.yaml": """\
        seed:
          Category:
            - {name: Tea}
          Product:
            - {name: Green tea, category: tea, price: 12.50, status: on_sale}
            - {name: Black tea, category: tea, price: 9.90, status: on_sale}
    """,
}
SHOP = {path: textwrap.dedent(body) for path, body in SHOP_FILES.items()}


# -- a synchronous handle on the GraphQL service ---------------------------------------------------


class Api:
    """One ecosystem's GraphQL service (full access) on one database, run from synchronous tests
    on a loop of its own, recording every SQL statement the engine sends."""

    def __init__(self, url: str, project: Path = ROOT, spec: Spec | None = None) -> None:
        if spec is None and project == ROOT:
            spec = demo_spec()
        self.runner = asyncio.Runner()
        self.eco = Ecosystem.build(project, spec, resolve(url))
        self.sent: list[str] = []
        event.listen(self.eco.engine.sync_engine, "before_cursor_execute", self._record)
        self.runner.run(self._ping())  # connect once, so later counts hold only the query's own
        self.sent.clear()

    def _record(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        self.sent.append(statement)

    async def _ping(self) -> None:
        async with self.eco.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @property
    def backend(self) -> str:
        return self.eco.engine.dialect.name

    def run(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation: str | None = None,
    ) -> ExecutionResult:
        return self.runner.run(self.eco.graphql.run(query, variables, operation))

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer's data; the test fails on any error."""
        result = self.run(query, variables)
        if result.errors:
            pytest.fail(f"unexpected errors: {[e.formatted for e in result.errors]}")
        if result.data is None:
            pytest.fail("no data and no errors")
        return result.data

    def errors(self, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The answer's errors, formatted as a client sees them; the test fails when there are none."""
        result = self.run(query, variables)
        if not result.errors:
            pytest.fail(f"expected errors, got data {result.data}")
        return [dict(e.formatted) for e in result.errors]

    def statements(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[list[str], ExecutionResult]:
        """The data statements (not BEGIN, SET …) a query sends to the database, and its answer."""
        self.sent.clear()
        result = self.run(query, variables)
        sent = [s for s in self.sent if not s.lstrip().upper().startswith(CONTROL)]
        return sent, result

    def count(self, entity_many: str, where: str = "") -> int:
        """How many records of a root list match (`count("apartments", "{rooms: {eq: 1}}")`)."""
        args = f"(where: {where})" if where else ""
        data = self.data(f"{{ n: {entity_many}Aggregate{args} {{ count }} }}")
        return int(data["n"]["count"])

    def close(self) -> None:
        self.runner.run(self.eco.close())
        self.runner.close()


@contextlib.contextmanager
def api_on(url: str, project: Path = ROOT, spec: Spec | None = None) -> Iterator[Api]:
    api = Api(url, project, spec)
    try:
        yield api
    finally:
        api.close()


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind; PostgreSQL cases skip (or fail, when required) when the server of
    ECOSPEC_TEST_POSTGRES_URL is down."""
    kind: str = request.param
    if kind == "postgresql":
        postgres_url()
    return kind


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend, as a URL."""
    with new_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def seeded_demo(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededDemo]:
    """The demo with its seed, built once per run and database. Read it, never write to it."""
    with new_database(backend, tmp_path_factory.mktemp("demo"), "demo.db") as url:
        yield SeededDemo(backend, url, build_demo(url))


@pytest.fixture(scope="session")
def shared_scratch(backend: str) -> Iterator[str | None]:
    """PostgreSQL only: a second seeded demo that writing tests share (SQLite copies instead)."""
    if backend == "sqlite":
        yield None
        return
    with postgres_schema() as url:
        build_demo(url)
        yield url


@pytest.fixture
def writable_demo(
    backend: str, seeded_demo: SeededDemo, shared_scratch: str | None, tmp_path: Path
) -> str:
    """A seeded demo a test may write to: a private copy on SQLite, a shared schema on
    PostgreSQL (so tests that write count relative to what they find, never absolutely)."""
    if shared_scratch is not None:
        return shared_scratch
    copy = tmp_path / "demo.db"
    copy_sqlite(sqlite_path(seeded_demo.url), copy)
    return sqlite_url(copy)


@pytest.fixture
def shop(write_spec: WriteSpec, tmp_path: Path) -> Path:
    """A small project of two entities and three seed records, without landings."""
    return write_spec(tmp_path / "shop", SHOP)


@pytest.fixture(scope="session")
def demo_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's spec/ copied out of the repository, for processes that write beside their
    project (the bus builds sites/ there)."""
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "spec", project / "spec")
    return project


@pytest.fixture(scope="module")
def demo_api(seeded_demo: SeededDemo) -> Iterator[Api]:
    with api_on(seeded_demo.url) as api:
        yield api


@pytest.fixture
def writable_api(writable_demo: str) -> Iterator[Api]:
    with api_on(writable_demo) as api:
        yield api
