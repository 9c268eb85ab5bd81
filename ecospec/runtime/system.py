"""Ecospec's own tables beside the ecosystem's: the event log (outbox and audit log), the
deliveries of events to subscribers, and API keys. A capability keeps its own tables on the same
metadata (SYSTEM), declared in its module (`Capability.tables`)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from ecospec.generator.columns import IsoDateTime

SYSTEM = MetaData(
    naming_convention={"ix": "ix_%(table_name)s_%(column_0_name)s", "pk": "pk_%(table_name)s"}
)

# Every write, in the transaction of the write: the audit log, and the outbox the bus delivers.
audit = Table(
    "ecospec_events",
    SYSTEM,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("at", IsoDateTime(), nullable=False),
    Column("role", String(64)),
    Column("user_id", String(128)),
    Column("key_id", String(64)),
    Column("entity", String(128), nullable=False),
    Column("record_id", Integer(), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("changes", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_ecospec_events_entity_record", audit.c.entity, audit.c.record_id)

# One row per event and subscriber, written with the event: the subscriber's delivery state.
deliveries = Table(
    "ecospec_deliveries",
    SYSTEM,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column(
        "event_id", Integer(), ForeignKey("ecospec_events.id", ondelete="CASCADE"), nullable=False
    ),
    Column("subscriber", String(128), nullable=False),
    Column("entity", String(128), nullable=False),
    Column("record_id", Integer(), nullable=False),
    Column("status", String(16), nullable=False),  # pending, done, dead
    Column("attempts", Integer(), nullable=False, default=0),
    Column("next_attempt_at", IsoDateTime(), nullable=False),
    Column("locked_until", IsoDateTime()),
    Column("last_error", Text()),
    Column("updated_at", IsoDateTime(), nullable=False),
    sqlite_autoincrement=True,
)
Index(
    "ix_ecospec_deliveries_claim",
    deliveries.c.subscriber,
    deliveries.c.status,
    deliveries.c.next_attempt_at,
)
Index(
    "ix_ecospec_deliveries_record",
    deliveries.c.subscriber,
    deliveries.c.entity,
    deliveries.c.record_id,
    deliveries.c.status,
)

api_keys = Table(
    "ecospec_api_keys",
    SYSTEM,
    Column("id", String(32), primary_key=True),
    Column("name", String(128)),
    Column("role", String(64), nullable=False),
    Column("claims", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created_at", IsoDateTime(), nullable=False),
    Column("revoked_at", IsoDateTime()),
    Column("last_used_at", IsoDateTime()),
)

# The tables every ecosystem has; a capability adds its own (ecospec.runtime.capability).
CORE_TABLES: tuple[Table, ...] = (audit, deliveries, api_keys)
