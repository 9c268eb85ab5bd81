"""The field types a spec may use, what each accepts, and which filter operators fit it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

EQUALITY = ("eq", "ne", "in", "nin", "isNull")
ORDERING = ("gt", "gte", "lt", "lte")
TEXT_SEARCH = ("contains", "startsWith")
ALL_OPERATORS = (*EQUALITY, *ORDERING, *TEXT_SEARCH)

# An average of whole numbers is exact to this many decimal places, rounded half away from zero,
# on every database and in the sites' own folds.
AVERAGE_PLACES = 9

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,20}[0-9]$")
URL_RE = re.compile(r"^(?:https?://[^\s/$.?#][^\s]*|/[^\s]*)$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class FieldType:
    name: str
    description: str
    operators: tuple[str, ...]
    bounds: bool = False  # min / max apply
    length: bool = False  # max_length applies
    scalar: bool = True  # stored in a column of its own row


FIELD_TYPES: dict[str, FieldType] = {
    t.name: t
    for t in (
        FieldType(
            "string", "a single line of text", EQUALITY + ORDERING + TEXT_SEARCH, length=True
        ),
        FieldType("text", "long text, several paragraphs", EQUALITY + TEXT_SEARCH, length=True),
        FieldType("int", "a whole number", EQUALITY + ORDERING, bounds=True),
        FieldType("decimal", "an exact decimal number", EQUALITY + ORDERING, bounds=True),
        FieldType(
            "money", "an exact amount with two decimal places", EQUALITY + ORDERING, bounds=True
        ),
        FieldType("bool", "true or false", ("eq", "ne", "isNull")),
        FieldType("date", "a calendar date, ISO 8601 (2026-05-01)", EQUALITY + ORDERING),
        FieldType("datetime", "a moment, ISO 8601 with time zone", EQUALITY + ORDERING),
        FieldType("enum", "one of a fixed list of values", EQUALITY),
        FieldType(
            "slug",
            "a URL-safe name, made from another field when `from` is set",
            EQUALITY + ORDERING + TEXT_SEARCH,
            length=True,
        ),
        FieldType("email", "an e-mail address", EQUALITY + TEXT_SEARCH, length=True),
        FieldType("phone", "a telephone number", EQUALITY + TEXT_SEARCH, length=True),
        FieldType(
            "url",
            "an http(s) address, or a path on the site such as /media/plan.png",
            EQUALITY + TEXT_SEARCH,
            length=True,
        ),
        FieldType("json", "any JSON value", ("isNull",)),
        FieldType("ref", "a reference to one record of another entity", EQUALITY),
        FieldType("list", "the records of another entity that refer to this one", (), scalar=False),
    )
}


def value_problem(
    type_name: str, value: Any, values: list[str] | None = None, places: int | None = None
) -> str | None:
    """What is wrong with `value` for a field of this type, or None when it fits."""
    if value is None:
        return None
    match type_name:
        case "string" | "text" | "slug" | "email" | "phone" | "url":
            if not isinstance(value, str):
                return f"expected text, got {_kind(value)}"
            if type_name == "slug" and not SLUG_RE.match(value):
                return f"'{value}' is not a slug (lowercase latin letters, digits and dashes)"
            if type_name == "email" and not EMAIL_RE.match(value):
                return f"'{value}' is not an e-mail address"
            if type_name == "phone" and not PHONE_RE.match(value):
                return f"'{value}' is not a telephone number"
            if type_name == "url" and not URL_RE.match(value):
                return f"'{value}' is not an http(s) address or a site path like /media/plan.png"
        case "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"expected a whole number, got {_kind(value)}"
        case "decimal" | "money":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return f"expected a number, got {_kind(value)}"
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                return f"'{value}' is not a number"
            if not number.is_finite():
                return f"'{value}' is not a finite number"
            if abs(number) >= Decimal(10) ** 18:
                return f"'{value}' is too large"
            keep = 2 if type_name == "money" and places is None else places
            if keep is not None and number != number.quantize(Decimal(1).scaleb(-keep)):
                return f"'{value}' has more than {keep} decimal places"
        case "bool":
            if not isinstance(value, bool):
                return f"expected true or false, got {_kind(value)}"
        case "date":
            if not isinstance(value, str) or not _parses(dt.date.fromisoformat, value):
                return f"'{value}' is not an ISO date (YYYY-MM-DD)"
        case "datetime":
            if not isinstance(value, str) or not _parses(dt.datetime.fromisoformat, value):
                return f"'{value}' is not an ISO date and time"
        case "enum":
            if not isinstance(value, str) or (values is not None and value not in values):
                allowed = ", ".join(values or [])
                return f"'{value}' is not one of: {allowed}"
    return None


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    return describe_value(value, quote="text ")


def describe_value(value: Any, quote: str = "") -> str:
    """A value as a message names it: 'a number', 'a list', "text 'x'" (with quote="text ")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"{quote}'{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else type(value).__name__
