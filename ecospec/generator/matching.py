"""The filter language evaluated on records in Python, with the semantics the SQL compiler gives
it (docs/spec.md, Filters): values compare as their field's type, and a condition on a missing
value is SQL's unknown, which no record passes and `not` leaves unknown.

A verdict is True, False, or None: "cannot tell without the database" (a field the record does
not hold, a ref given only by its id, text ordered by the database's collation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any

from ecospec.generator.columns import to_utc
from ecospec.generator.fieldtypes import ALL_OPERATORS
from ecospec.generator.model import SYSTEM_FIELDS, VARIABLE_RE, Spec

Verdict = bool | None
OPERATORS = frozenset(ALL_OPERATORS)
TEXT = ("string", "text", "slug", "email", "phone", "url", "enum")
NUMBERS = ("int", "decimal", "money")
LARGEST_ID = 2**63 - 1  # past this, no database holds the id


class Truth(IntEnum):
    """SQL's three truth values, ordered so that `and` is min and `or` is max."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2


Told = Truth | None  # None: cannot tell without the database


class _Missing(Exception):
    """A role's filter names a session variable the session does not carry."""


def matches(
    spec: Spec,
    entity: str,
    where: dict[str, Any] | None,
    record: dict[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> Verdict:
    """Whether a record (spec field names; refs as ids or nested records) passes a filter.

    `variables` are a session's (a role's filter): `$user.<name>` operands take their values,
    and a filter naming one the session does not carry passes no record."""
    if not where:
        return True
    if variables is not None:
        try:
            where = bind(where, variables)
        except _Missing:
            return False
    told = _filter(spec, entity, where, record)
    return None if told is None else told is Truth.TRUE


def bind(value: Any, variables: Mapping[str, Any]) -> Any:
    """A role's filter with its session variables put in (raises _Missing for one not given)."""
    if isinstance(value, dict):
        return {key: bind(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [bind(item, variables) for item in value]
    if isinstance(value, str):
        match = VARIABLE_RE.match(value)
        if match:
            found = variables.get(match.group(1))
            if found is None:
                raise _Missing(match.group(1))
            return found
    return value


# -- and, or, not ---------------------------------------------------------------------------------


def _and(verdicts: list[Told]) -> Told:
    if Truth.FALSE in verdicts:
        return Truth.FALSE
    if None in verdicts:
        return None
    return min(verdicts, default=Truth.TRUE)  # type: ignore[type-var]


def _or(verdicts: list[Told]) -> Told:
    if Truth.TRUE in verdicts:
        return Truth.TRUE
    if None in verdicts:
        return None
    return max(verdicts, default=Truth.FALSE)  # type: ignore[type-var]


def _not(verdict: Told) -> Told:
    return None if verdict is None else Truth(2 - verdict)


def _known(verdict: bool) -> Truth:
    return Truth.TRUE if verdict else Truth.FALSE


# -- filters --------------------------------------------------------------------------------------


def _filter(spec: Spec, entity: str, where: dict[str, Any], record: dict[str, Any]) -> Told:
    fields = spec.entities[entity].fields if entity in spec.entities else {}
    verdicts: list[Told] = []
    for key, cond in where.items():
        if cond is None:
            continue  # a key given as null is no condition
        if key == "and":
            verdicts.append(_and([_filter(spec, entity, w, record) for w in cond]))
        elif key == "or":
            verdicts.append(_or([_filter(spec, entity, w, record) for w in cond]))
        elif key == "not":
            verdicts.append(_not(_filter(spec, entity, cond, record)))
        elif key not in record:
            verdicts.append(None)
        else:
            field = fields.get(key)
            kind = field.type if field is not None else SYSTEM_FIELDS.get(key)
            if kind == "ref" and not set(cond) <= OPERATORS:
                target = field.to if field is not None else None
                verdicts.append(_through(spec, target, cond, record[key]))
            elif kind is None:
                verdicts.append(None)
            else:
                value = record[key]
                if isinstance(value, dict):
                    value = value.get("id")
                verdicts.append(_and([_compare(kind, value, op, v) for op, v in cond.items()]))
        if verdicts[-1] is Truth.FALSE:
            return Truth.FALSE  # one condition that fails decides
    return _and(verdicts)


def _through(spec: Spec, target: str | None, cond: dict[str, Any], value: Any) -> Told:
    """A filter on the record a ref points to. Whether the ref is empty is the referring
    record's own (see emptiness); the rest holds when the record pointed to passes it (a ref
    that is empty is unknown)."""
    rest = dict(cond)
    asked: list[bool] = []
    if isinstance(rest.get("id"), dict):
        asked, rest["id"] = emptiness(rest["id"])
        if not rest["id"]:
            del rest["id"]
    verdicts: list[Told] = [_known((value is None) == empty) for empty in asked]
    if rest:
        if value is None:
            verdicts.append(Truth.UNKNOWN)
        elif isinstance(value, dict) and target is not None:
            inner = _filter(spec, target, rest, value)
            verdicts.append(None if inner is None else _known(inner is Truth.TRUE))
        elif set(rest) == {"id"}:  # only its id is known: that it exists is taken on trust
            told = _and([_compare("id", value, op, v) for op, v in rest["id"].items()])
            verdicts.append(None if told is None else _known(told is Truth.TRUE))
        else:
            verdicts.append(None)
    return _and(verdicts)


def emptiness(on_id: dict[str, Any]) -> tuple[list[bool], dict[str, Any]]:
    """Of the conditions on the id a ref points to, those that ask whether the ref is empty
    (isNull, eq null, ne null), each as whether it is to be empty, and the others. Those are
    the referring record's own, not the record's pointed to (an isNull of null asks nothing)."""
    asked: list[bool] = []
    rest: dict[str, Any] = {}
    for op, value in on_id.items():
        if op == "isNull":
            if value is not None:
                asked.append(bool(value))
        elif op in ("eq", "ne") and value is None:
            asked.append(op == "eq")
        else:
            rest[op] = value
    return asked, rest


# -- one condition --------------------------------------------------------------------------------


def _compare(kind: str, value: Any, op: str, operand: Any) -> Told:
    if op == "isNull":
        return Truth.TRUE if operand is None else _known((value is None) == bool(operand))
    if operand is None:
        # an explicit null: eq null is "no value", ne null is "has a value"; others no condition
        if op == "eq":
            return _known(value is None)
        if op == "ne":
            return _known(value is not None)
        return Truth.TRUE
    if value is None:
        return Truth.UNKNOWN  # a comparison with no value
    if op in ("contains", "startsWith"):
        text, part = str(value), str(operand)
        return _known(part in text if op == "contains" else text.startswith(part))
    mine = typed(kind, value)
    if mine is None:
        return None  # a record's value that is none of its field's type: the database's
    if op in ("in", "nin"):
        # operands that are no value of the field's type are equal to none
        found = any(typed(kind, o) == mine for o in operand if o is not None)
        return _known(found if op == "in" else not found)
    other = typed(kind, operand)
    if other is None:  # no value of the field's type: equal to none, ordered unknown
        return _known(op == "ne") if op in ("eq", "ne") else Truth.UNKNOWN
    if op == "eq":
        return _known(mine == other)
    if op == "ne":
        return _known(mine != other)
    if kind in TEXT:
        # text order is the database's collation: only equal texts are told apart
        return _known(op in ("gte", "lte")) if mine == other else None
    if op == "gt":
        return _known(mine > other)
    if op == "gte":
        return _known(mine >= other)
    if op == "lt":
        return _known(mine < other)
    if op == "lte":
        return _known(mine <= other)
    return None


def typed(kind: str, value: Any) -> Any:
    """A value (from a record, a filter or a session) as its field's type compares it: numbers
    as exact decimals, dates as dates, moments in UTC, ids as numbers; None when it is none."""
    try:
        if kind in ("id", "ref"):
            return record_id(value)
        if kind in NUMBERS:
            if isinstance(value, bool):
                return None
            number = Decimal(str(value))
            return number if number.is_finite() else None
        if kind == "bool":
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"  # as a template renders it
            return value if isinstance(value, bool) else None
        if kind == "date":
            if isinstance(value, dt.datetime):
                return None
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if kind == "datetime":
            return to_utc(value)
    except (InvalidOperation, ValueError, OverflowError):
        return None
    return str(value)


def record_id(value: Any) -> int | None:
    """An id as a filter gives it (a number or its text) as the record's number; None for what
    no record's id can be (not a whole number, not positive, too large)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number <= LARGEST_ID else None


# -- order ----------------------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def precedes(
    spec: Spec, entity: str, record: dict[str, Any], order_by: list[str], last: list[Any]
) -> Verdict:
    """Whether a record sorts before `last` (the order values of a list's last record) in
    `order_by`, or level with it. Numbers only: text sorts by the database's collation, so for
    text (or a missing value) the answer is None."""
    fields = spec.entities[entity].fields if entity in spec.entities else {}
    for key, bound in zip(order_by, last, strict=False):
        name = key.removeprefix("-")
        field = fields.get(name)
        if field is None or field.type not in NUMBERS:
            return None
        value = record.get(name)
        a, b = _number(value), _number(bound)
        if a is None or b is None or isinstance(value, bool):
            return None
        if a != b:
            return (a < b) != key.startswith("-")
    return True
