"""The audit log at run time: `auditLog` reads the event log every write leaves (the bus's outbox
is the same table), newest first. Its API is declared in ecospec.generator.capabilities.audit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ecospec.runtime.capability import Capability
from ecospec.runtime.catalog import Catalog
from ecospec.runtime.system import audit
from ecospec.runtime.types import ReadHandler, ReadRequest, to_id

MAX_ROWS = 1000


def page(args: dict[str, Any], default: int = 100) -> tuple[int, int]:
    """The `limit` and `offset` a read asks for, within bounds."""
    limit = max(0, min(int(args.get("limit") or default), MAX_ROWS))
    return limit, max(0, int(args.get("offset") or 0))


async def read_audit(conn: AsyncConnection, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Audit entries by field name (AuditEntry's fields resolve by name, not by alias)."""
    query = select(audit).order_by(audit.c.id.desc())
    if args.get("entity"):
        query = query.where(audit.c.entity == args["entity"])
    if args.get("recordId") is not None:
        query = query.where(audit.c.record_id == to_id(args["recordId"]))
    if args.get("operation"):
        query = query.where(audit.c.operation == args["operation"])
    if args.get("ids"):
        query = query.where(audit.c.id.in_(args["ids"]))
    limit, offset = page(args)
    rows = (await conn.execute(query.limit(limit).offset(offset))).mappings().all()
    return [
        {
            "id": r["id"],
            "at": r["at"],
            "role": r["role"],
            "userId": r["user_id"],
            "keyId": r["key_id"],
            "entity": r["entity"],
            "recordId": r["record_id"],
            "operation": r["operation"],
            "changes": r["changes"],
        }
        for r in rows
    ]


async def _audit_log(request: ReadRequest) -> list[dict[str, Any]]:
    return await read_audit(request.conn, request.args)


def _reads(_: Catalog) -> Mapping[str, ReadHandler]:
    return {"auditLog": _audit_log}


CAPABILITY = Capability("audit", reads=_reads)
