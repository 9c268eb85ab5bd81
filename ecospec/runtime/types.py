"""The contracts the run-time parts share, named once: who is asking (`Session`), what they may
see and change (`Policy`, and `FullAccess` for the system itself), who writes (`Actor`), the
events a write leaves on the bus and how they reach a subscriber (`Event`, `Delivery`,
`Subscriber`), and the handlers of the root fields a capability answers (`Handlers`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from ecospec.generator.matching import record_id


class CompileError(GraphQLError):
    """A query that is valid GraphQL but cannot run as asked (a bad cursor, an orderBy with two keys)."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message, extensions={"code": code})


def to_id(value: Any) -> int | None:
    """An id as a client gives it, a number or its text, as the record's number; None for what
    no record's id can be. Filters read ids the same way (generator.matching.record_id)."""
    return record_id(value)


@dataclass(frozen=True)
class Session:
    """Who is asking: a role and the session variables ($user.<name>) taken from the credentials."""

    role: str
    variables: dict[str, Any] = field(default_factory=dict)
    key_id: str | None = None

    @property
    def user_id(self) -> str | None:
        value = self.variables.get("id")
        return None if value is None else str(value)


class Policy(Protocol):
    """What a request may see and change. Filters are SQL; None means no restriction."""

    def row_filter(self, entity: str, table: FromClause) -> ColumnElement[bool] | None: ...

    def row_limit(self, entity: str) -> int | None: ...

    def write_filter(self, entity: str, op: str, table: FromClause) -> ColumnElement[bool] | None:
        """Rows an update or delete may touch."""
        ...

    def check_filter(self, entity: str, op: str, table: FromClause) -> ColumnElement[bool] | None:
        """What a created or updated row must still pass."""
        ...

    def presets(self, entity: str, op: str) -> dict[str, Any]:
        """Values set on every create or update, by spec field name."""
        ...

    def writable(self, entity: str, op: str) -> set[str] | None:
        """Fields (spec names) an input may give; None: every field."""
        ...


class FullAccess:
    """No restriction: seeds, processes, and the whole-API schema."""

    def row_filter(self, entity: str, table: FromClause) -> ColumnElement[bool] | None:
        return None

    def row_limit(self, entity: str) -> int | None:
        return None

    def write_filter(self, entity: str, op: str, table: FromClause) -> ColumnElement[bool] | None:
        return None

    def check_filter(self, entity: str, op: str, table: FromClause) -> ColumnElement[bool] | None:
        return None

    def presets(self, entity: str, op: str) -> dict[str, Any]:
        return {}

    def writable(self, entity: str, op: str) -> set[str] | None:
        return None


@dataclass(frozen=True)
class Actor:
    """Who writes, for permissions and the audit log. The default is the system itself."""

    policy: Policy = field(default_factory=FullAccess)
    role: str | None = None
    user_id: str | None = None
    key_id: str | None = None


SYSTEM_ACTOR = Actor()


@dataclass(frozen=True)
class Event:
    """One committed write, as the event log keeps it and the bus hands it on."""

    id: int
    at: str
    entity: str
    operation: str
    record_id: int
    changes: dict[str, Any]
    role: str | None
    user_id: str | None
    key_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": f"{self.entity}.{self.operation}",
            "at": self.at,
            "entity": self.entity,
            "operation": self.operation,
            "record_id": self.record_id,
            "changes": self.changes,
            "actor": {"role": self.role, "user_id": self.user_id, "key_id": self.key_id},
        }


@dataclass(frozen=True)
class Delivery:
    """An event on its way to one subscriber: its `attempts` so far, this one included."""

    id: int
    subscriber: str
    attempts: int
    event: Event


class RetryLater(Exception):
    """A subscriber could not take the event now; the bus tries again on its schedule."""


class Subscriber(Protocol):
    """Hears of committed writes through the bus. A write leaves a delivery for every subscriber
    that `wants` it, in the write's transaction; the dispatcher hands them over.

    A subscriber may also have `deliver_many(batch)`, to take its due deliveries at once, and
    `prepare()`, awaited once before its first claim."""

    @property
    def name(self) -> str:
        """Unique among the ecosystem's subscribers; deliveries are kept under it."""
        ...

    def wants(self, entity: str, operation: str) -> bool: ...

    async def deliver(self, delivery: Delivery) -> None: ...

    def retry_after(self, attempts: int) -> dt.timedelta | None:
        """How long to wait before the next attempt; None: give up (dead letter)."""
        ...


@dataclass(frozen=True)
class ReadRequest:
    """A root query field a capability answers: its arguments, read on a read-only connection."""

    conn: AsyncConnection
    args: dict[str, Any]
    session: Session | None


@dataclass(frozen=True)
class WriteRequest:
    """A root mutation field a capability answers, in the request's one transaction. `answer`
    gives a record as the asking role reads it, in the field's own selection."""

    conn: AsyncConnection
    args: dict[str, Any]
    actor: Actor
    answer: Callable[[str, int], Awaitable[Any]]


# A handler returns the field's value; it refuses with WriteRejected (nothing is written).
ReadHandler = Callable[[ReadRequest], Awaitable[Any]]
WriteHandler = Callable[[WriteRequest], Awaitable[Any]]


@dataclass(frozen=True)
class Handlers:
    """The root fields the capabilities answer, by field name."""

    reads: dict[str, ReadHandler] = field(default_factory=dict)
    writes: dict[str, WriteHandler] = field(default_factory=dict)
