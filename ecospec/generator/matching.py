"""The filter language evaluated on records in Python, with SQL's semantics (a missing value
matches no comparison). Three-valued: None means "cannot tell without the database"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ecospec.generator.fieldtypes import ALL_OPERATORS
from ecospec.generator.model import Spec

Verdict = bool | None
OPERATORS = frozenset(ALL_OPERATORS)


def matches(
    spec: Spec, entity: str, where: dict[str, Any] | None, record: dict[str, Any]
) -> Verdict:
    """Whether a record (spec field names; refs as ids or nested records) passes a filter."""
    if not where:
        return True
    known = True  # no condition so far that cannot be told
    fields = spec.entities[entity].fields if entity in spec.entities else {}
    for key, cond in where.items():
        verdict: Verdict
        if key == "and":
            verdict = _all([matches(spec, entity, w, record) for w in cond])
        elif key == "or":
            verdict = _any([matches(spec, entity, w, record) for w in cond])
        elif key == "not":
            inner = matches(spec, entity, cond, record)
            verdict = None if inner is None else not inner
        elif key not in record and key != "id":
            verdict = None
        else:
            value = record.get(key)
            field = fields.get(key)
            is_ref = key == "id" or (field is not None and field.type == "ref")
            if is_ref and isinstance(cond, dict) and not set(cond) <= OPERATORS:
                if value is None:
                    verdict = False
                elif isinstance(value, dict) and field is not None and field.to:
                    verdict = matches(spec, field.to, cond, value)
                else:
                    verdict = None
            else:
                if isinstance(value, dict):
                    value = value.get("id")
                verdict = _all(
                    [_compare(value, op, operand, is_ref) for op, operand in cond.items()]
                )
        if verdict is False:
            return False  # one condition that fails is enough
        known = known and verdict is True
    return True if known else None


def _all(verdicts: list[Verdict]) -> Verdict:
    if any(v is False for v in verdicts):
        return False
    if all(v is True for v in verdicts):
        return True
    return None


def _any(verdicts: list[Verdict]) -> Verdict:
    if any(v is True for v in verdicts):
        return True
    if all(v is False for v in verdicts):
        return False
    return None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def same(a: Any, b: Any, is_ref: bool = False) -> bool:
    if is_ref:
        return str(a) == str(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return _truth(a) == _truth(b)
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None and not (isinstance(a, str) and isinstance(b, str)):
        return na == nb
    if na is not None and nb is not None and isinstance(a, str) and isinstance(b, str):
        return a == b or na == nb
    return str(a) == str(b)


def _truth(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def order_key(value: Any) -> tuple[int, Any]:
    """A sort key with SQL's order for one value: numbers as numbers, text as text."""
    number = _number(value)
    return (0, number) if number is not None else (1, str(value))


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
        if field is None or field.type not in ("int", "decimal", "money"):
            return None
        value = record.get(name)
        a, b = _number(value), _number(bound)
        if a is None or b is None or isinstance(value, bool):
            return None
        if a != b:
            return (a < b) != key.startswith("-")
    return True


def _compare(value: Any, op: str, operand: Any, is_ref: bool) -> Verdict:
    if op == "isNull":
        if operand is None:
            return True
        return (value is None) == bool(operand)
    if operand is None:
        if op == "eq":
            return value is None
        if op == "ne":
            return value is not None
        return True  # an empty condition does not filter
    if value is None:
        return False  # SQL: a comparison with no value is not true
    if op == "eq":
        return same(value, operand, is_ref)
    if op == "ne":
        return not same(value, operand, is_ref)
    if op == "in":
        return any(same(value, o, is_ref) for o in operand if o is not None)
    if op == "nin":
        return not any(same(value, o, is_ref) for o in operand if o is not None)
    if op == "contains":
        return str(operand) in str(value)
    if op == "startsWith":
        return str(value).startswith(str(operand))
    a, b = order_key(value), order_key(operand)
    if a[0] != b[0]:
        return None
    if op == "gt":
        return bool(a[1] > b[1])
    if op == "gte":
        return bool(a[1] >= b[1])
    if op == "lt":
        return bool(a[1] < b[1])
    if op == "lte":
        return bool(a[1] <= b[1])
    return None
