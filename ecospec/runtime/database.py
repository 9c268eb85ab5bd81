"""Which database a project uses, and engines for it (sync for migrations, async for serving)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ecospec.generator.errors import UsageError
from ecospec.generator.model import Spec

ENV_URL = "ECOSPEC_DATABASE_URL"


def database_url(spec: Spec, project: Path) -> URL:
    """ECOSPEC_DATABASE_URL, else the spec's `database`, else var/<ecosystem>.db; SQLite paths
    are taken relative to the project folder."""
    raw = os.environ.get(ENV_URL) or spec.database or f"sqlite:///var/{spec.ecosystem}.db"
    try:
        url = make_url(raw)
    except Exception:
        raise UsageError(
            f"'{raw}' is not a database URL (sqlite:///path.db or postgresql://…)"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not Path(database).is_absolute():
            url = url.set(database=str((project / database).resolve()))
        return url.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    raise UsageError(f"unsupported database '{backend}': use sqlite or postgresql")


def sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database)
    return None


def _on_connect_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions begin, so DDL is transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # SQLite hands its write lock to no one in particular: a writer among several waiting
    # behind a long transaction (a migration in `ecospec dev`) may wait longer than that one
    # takes. Waiting its turn beats failing with "database is locked".
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _postgres_setup(statement_timeout_ms: int | None) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # psycopg is loaded once a PostgreSQL connection is made, not by SQLite-only processes
        from psycopg.types.string import TextLoader

        # The API's answers are JSON built by the database: keep them as text, unparsed, so they
        # go to the client as they are. (jsonb columns are still parsed.)
        dbapi_connection.adapters.register_loader("json", TextLoader)
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            if statement_timeout_ms:
                cursor.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
        dbapi_connection.commit()

    return on_connect


def sync_engine(url: URL) -> Engine:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    _listen(engine, url, None)
    return engine


def async_engine(url: URL, statement_timeout_ms: int | None = None) -> AsyncEngine:
    """The serving engine: a pool sized for concurrent requests, a statement timeout on
    PostgreSQL (SQLite requests are timed by the caller)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    driver = "sqlite+aiosqlite" if url.get_backend_name() == "sqlite" else "postgresql+psycopg"
    engine = create_async_engine(url.set(drivername=driver), pool_size=10, max_overflow=20)
    _listen(engine.sync_engine, url, statement_timeout_ms)
    return engine


READ_ONLY = "ecospec_read_only"


async def read_only(conn: AsyncConnection) -> None:
    """Mark a connection that only reads, before its first statement: it needs no transaction of
    its own on PostgreSQL (autocommit: one statement each), and never takes SQLite's write lock,
    so it goes on while a write holds it."""
    if conn.dialect.name == "postgresql":
        await conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        await conn.execution_options(**{READ_ONLY: True})


def _begin_sqlite(connection: Any) -> None:
    # Writers take the write lock up front (IMMEDIATE), so two transactions never both read and
    # then deadlock on upgrading; busy_timeout then makes the second one wait its turn.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _listen(engine: Engine, url: URL, statement_timeout_ms: int | None) -> None:
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _on_connect_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
    else:
        event.listen(engine, "connect", _postgres_setup(statement_timeout_ms))
