"""Keyset pagination's cursors: the sort values of a page's last record, as an opaque string.
A cursor comes back from the client, so every value read from one is checked before it reaches
SQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from ecospec.runtime.catalog import FieldInfo
from ecospec.runtime.types import CompileError


def cursor_value_fits(info: FieldInfo, value: Any) -> bool:
    """Whether a value read from a cursor can stand for this sort key (cursors can be forged)."""
    if info.kind == "id" or info.type == "ref":
        return isinstance(value, int) and not isinstance(value, bool)
    if info.type in ("int",):
        return isinstance(value, int) and not isinstance(value, bool)
    if info.type in ("decimal", "money"):
        try:
            return isinstance(value, str | int) and Decimal(str(value)).is_finite()
        except InvalidOperation:
            return False
    if info.type == "bool":
        return isinstance(value, bool | int)
    if info.type in ("date", "datetime"):
        try:
            (dt.date if info.type == "date" else dt.datetime).fromisoformat(str(value))
        except ValueError:
            return False
        return isinstance(value, str)
    return isinstance(value, str)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise CompileError("after: not a cursor of this connection", "BAD_CURSOR") from None
    if not isinstance(values, list) or len(values) != size:
        raise CompileError("after: the cursor belongs to another ordering", "BAD_CURSOR")
    return values
