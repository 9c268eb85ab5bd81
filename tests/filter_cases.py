"""What test_semantics generates: records of every field type a filter takes (nulls, unicode,
edge numbers, equal values), filters of every operator nested in and/or/not and through refs,
roles' row filters with `$user` variables, and sessions that carry them or not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ecospec.generator.fieldtypes import FIELD_TYPES

Draw = Callable[[st.SearchStrategy[Any]], Any]
Where = dict[str, Any]

# -- the model ------------------------------------------------------------------------------------

SCALARS = {
    "label": "string",
    "body": "text",
    "qty": "int",
    "weight": "decimal",
    "price": "money",
    "flag": "bool",
    "color": "enum",
    "day": "date",
    "moment": "datetime",
}
REFS = {"Box": {"parent": "Box"}, "Thing": {"box": "Box", "other": "Thing"}}
ENTITIES = ("Box", "Thing")
COLORS = ["red", "green", "blue"]
PLACES = {"decimal": 3, "money": 2}
# the session variable a role's filter may use for an operand of each type
VARIABLES = {
    "string": "word",
    "text": "word",
    "int": "num",
    "decimal": "amount",
    "money": "cost",
    "bool": "yes",
    "enum": "tone",
    "date": "day",
    "datetime": "moment",
    "ref": "who",
}
TEXT_ORDER = ("gt", "gte", "lt", "lte")


def _fields_yaml(entity: str) -> str:
    lines = [
        "      label: {type: string, max_length: 40}",
        "      body: {type: text}",
        "      qty: {type: int}",
        "      weight: {type: decimal, scale: 3}",
        "      price: {type: money}",
        "      flag: {type: bool}",
        f"      color: {{type: enum, values: [{', '.join(COLORS)}]}}",
        "      day: {type: date}",
        "      moment: {type: datetime}",
    ]
    lines += [f"      {name}: {{type: ref, to: {to}}}" for name, to in REFS[entity].items()]
    return "\n".join(lines)


FILES = {
    "spec/ecosystem.yaml": """\
ecosystem: semantics
title: Semantics
auth:
  anonymous_role: visitor
  jwt:
    claims: {word: word, num: num, amount: amount, cost: cost, yes: yes, tone: tone, day: day, moment: moment, who: who}
""",
    "spec/roles.yaml": """\
roles:
  visitor:
    Box: {read: true}
    Thing: {read: true}
""",
    "spec/entities/model.yaml": "entities:\n"
    + "".join(f"  {e}:\n    fields:\n{_fields_yaml(e)}\n" for e in ENTITIES),
}

# -- values ---------------------------------------------------------------------------------------

UTC = dt.UTC
ZONES = [UTC, dt.timezone(dt.timedelta(hours=3)), dt.timezone(-dt.timedelta(hours=5, minutes=30))]
# characters that tell apart case, composition, wildcards and byte order
ALPHABET = "aAbB1. _%Ёёжé\u0301ßẞ😀"
WORDS = ["", " a", "a ", "a", "A", "ab", "Ab", "b", "1", "1.0", "10", "9", "%", "_", "a%"]
WORDS += ["Ёж", "ёж", "\u00e9", "e\u0301", "ß", "SS", "😀"]  # é composed, and decomposed
MOMENTS = [
    dt.datetime(2026, 5, 1, 7, 0, tzinfo=UTC),
    dt.datetime(2026, 5, 1, 10, 0, tzinfo=ZONES[1]),  # the same moment
    dt.datetime(2026, 5, 1, 7, 0, 0, 1, tzinfo=UTC),
    dt.datetime(2026, 4, 30, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(2026, 5, 1, 0, 0, tzinfo=UTC),
    dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=ZONES[2]),
]
DAYS = [dt.date(2026, 5, 1), dt.date(2026, 4, 30), dt.date(2000, 2, 29), dt.date(1, 1, 1)]
DAYS += [dt.date(9999, 12, 31)]
# a few records of each entity; magnitudes whose sums over them fit SQLite's 64-bit integers
MAX_RECORDS = 5
INTS = [0, 1, -1, 2, 7, 2**31 - 1, -(2**31)]
EXACT = {
    "decimal": ["0", "0.001", "-0.001", "1", "1.5", "1.500", "2.25", "-2.5", "0.0005"],
    "money": ["0", "0.01", "-0.01", "1", "1.5", "2.25", "-2.5", "90071992547409.93"],
}
EXACT["decimal"].append("999999999999999.999")
EXACT["money"].append("9999999999999999.99")
LIMIT = {"decimal": Decimal("999999999999999.999"), "money": Decimal("9999999999999999.99")}


def texts() -> st.SearchStrategy[str]:
    return st.sampled_from(WORDS) | st.text(ALPHABET, max_size=6)


def exact(kind: str, places: int | None = None) -> st.SearchStrategy[Decimal]:
    keep = PLACES[kind] if places is None else places
    limit = LIMIT[kind]
    pool = [Decimal(v) for v in EXACT[kind] if -Decimal(v).as_tuple().exponent <= keep]  # type: ignore[operator]
    return st.sampled_from(pool) | st.decimals(-limit, limit, places=keep)


def moments() -> st.SearchStrategy[dt.datetime]:
    drawn = st.datetimes(
        dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1), timezones=st.sampled_from(ZONES)
    )
    return st.sampled_from(MOMENTS) | drawn


def days() -> st.SearchStrategy[dt.date]:
    return st.sampled_from(DAYS) | st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1))


def stored(kind: str) -> st.SearchStrategy[Any]:
    """A value of a field as written to the database."""
    match kind:
        case "string" | "text":
            return texts()
        case "int":
            return st.sampled_from(INTS) | st.integers(-(2**31), 2**31 - 1)
        case "decimal" | "money":
            return exact(kind)
        case "bool":
            return st.booleans()
        case "enum":
            return st.sampled_from(COLORS)
        case "date":
            return days()
        case "datetime":
            return moments()
    raise AssertionError(kind)


def _moment_text(moment: dt.datetime, form: str) -> str:
    if form == "utc":
        return moment.astimezone(UTC).isoformat()
    if form == "z":
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if form == "naive":  # taken as UTC
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    if form == "day":  # midnight UTC
        return moment.date().isoformat()
    return moment.isoformat()


def operand(kind: str) -> st.SearchStrategy[Any]:
    """An operand of a filter on a field of this kind, as a spec (YAML) or a template gives it."""
    match kind:
        case "string" | "text" | "enum" | "bool":
            return stored(kind)
        case "int":
            return stored(kind) | stored(kind).map(str)
        case "decimal" | "money":
            numbers = exact(kind, places=PLACES[kind] + (2 if kind == "decimal" else 0))
            return numbers.map(str) | numbers.map(float) | st.integers(-3, 3)
        case "date":
            return days().map(dt.date.isoformat) | days().map(
                lambda d: f"{d.year:04}{d.month:02}{d.day:02}"
            )
        case "datetime":
            forms = st.sampled_from(["utc", "z", "naive", "day", "own"])
            return st.builds(_moment_text, moments(), forms)
    raise AssertionError(kind)


def ids(count: int) -> st.SearchStrategy[Any]:
    """A record id as a filter may give it: a number, its text, or one that is no id."""
    known = st.integers(1, max(count, 1))
    return st.one_of(
        known,
        known.map(str),
        known.map(lambda n: f"0{n}"),
        st.sampled_from([0, -1, "abc", "", "99999999999999999999"]),
    )


# -- records --------------------------------------------------------------------------------------


@st.composite
def records(draw: Draw) -> dict[str, list[dict[str, Any]]]:
    """Boxes and things (spec field names, refs as 1-based ids; a self ref may point back)."""
    out: dict[str, list[dict[str, Any]]] = {}
    counts = {e: draw(st.integers(0, MAX_RECORDS)) for e in ENTITIES}
    for entity in ENTITIES:
        rows = []
        for i in range(counts[entity]):
            row: dict[str, Any] = {"id": i + 1}
            for name, kind in SCALARS.items():
                row[name] = draw(st.none() | stored(kind))
            for name, to in REFS[entity].items():
                upto = i + 1 if to == entity else counts[to]  # earlier records, or itself
                row[name] = draw(st.none() | st.integers(1, upto)) if upto else None
            row["created_at"] = draw(moments())
            rows.append(row)
        out[entity] = rows
    return out


# -- filters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    counts: dict[str, int]
    variables: bool  # whether operands may be $user variables (roles only)


def _value(draw: Draw, kind: str, shape: Shape, entity: str) -> Any:
    if shape.variables and draw(st.integers(0, 4)) == 0:
        return f"$user.{VARIABLES[kind]}"
    if kind == "ref":
        return draw(ids(shape.counts[entity]))
    return draw(operand(kind))


def _condition(draw: Draw, kind: str, shape: Shape, target: str) -> dict[str, Any]:
    ops = draw(
        st.lists(st.sampled_from(FIELD_TYPES[kind].operators), min_size=1, max_size=2, unique=True)
    )
    cond: dict[str, Any] = {}
    for op in ops:
        if op == "isNull":
            cond[op] = draw(st.booleans())
        elif op in ("contains", "startsWith"):
            cond[op] = draw(texts())
        elif op in ("in", "nin"):
            # a null in the list (only YAML can write one: GraphQL's lists hold no nulls)
            size = draw(st.integers(0, 3))
            cond[op] = [
                None
                if shape.variables and draw(st.integers(0, 5)) == 0
                else _value(draw, kind, shape, target)
                for _ in range(size)
            ]
        elif draw(st.integers(0, 15)) == 0:
            cond[op] = None  # an explicit null
        else:
            cond[op] = _value(draw, kind, shape, target)
    return cond


def _where(draw: Draw, entity: str, shape: Shape, depth: int) -> Where:
    where: Where = {}
    choices = [*SCALARS, *REFS[entity], "id"]
    if depth > 0:
        choices += ["and", "or", "not"]
    for key in draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True)):
        if key in ("and", "or"):
            where[key] = [
                _where(draw, entity, shape, depth - 1) for _ in range(draw(st.integers(0, 2)))
            ]
        elif key == "not":
            where[key] = _where(draw, entity, shape, depth - 1)
        elif key == "id":
            where[key] = _condition(draw, "ref", shape, entity)
        elif key in REFS[entity]:
            to = REFS[entity][key]
            how = draw(st.sampled_from(["ops", "through", "id"] if depth > 0 else ["ops", "id"]))
            if how == "ops":
                where[key] = _condition(draw, "ref", shape, to)
            elif how == "id":
                where[key] = {"id": _condition(draw, "ref", shape, to)}
            else:
                where[key] = _where(draw, to, shape, depth - 1)
        else:
            where[key] = _condition(draw, SCALARS[key], shape, entity)
    return where


def wheres(
    counts: dict[str, int], entity: str, variables: bool = False
) -> st.SearchStrategy[Where]:
    @st.composite
    def build(draw: Draw) -> Where:
        return _where(draw, entity, Shape(counts, variables), 2)

    return build()


@st.composite
def sessions(draw: Draw, counts: dict[str, int]) -> dict[str, Any]:
    """The session variables of a request: each present or missing."""
    out: dict[str, Any] = {}
    for kind, name in VARIABLES.items():
        if name in out or draw(st.integers(0, 3)) == 0:
            continue
        value = ids(counts["Box"]) if kind == "ref" else operand(kind)
        # a claim holding no value of its field's type
        out[name] = draw(value | st.sampled_from(["abc", "", True]))
    return out


@dataclass(frozen=True)
class Case:
    data: dict[str, list[dict[str, Any]]]
    roles: dict[str, Where | None]  # each entity's row filter (None: every record)
    variables: dict[str, Any]
    where: Where  # a landing's query on Thing

    def __repr__(self) -> str:  # short enough to read in a failure
        def short(value: Any) -> str:
            return str(value) if isinstance(value, dt.date | Decimal) else repr(value)

        data = {
            e: [{k: short(v) for k, v in r.items() if v is not None} for r in rows]
            for e, rows in self.data.items()
        }
        return f"Case({data}, roles={self.roles}, variables={self.variables}, where={self.where})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how Hypothesis prints it
        printer.text(repr(self))


@st.composite
def cases(draw: Draw) -> Case:
    data = draw(records())
    counts = {e: len(rows) for e, rows in data.items()}
    roles = {e: draw(st.none() | wheres(counts, e, variables=True)) for e in ENTITIES}
    return Case(data, roles, draw(sessions(counts)), draw(wheres(counts, "Thing")))


# -- pinned cases -------------------------------------------------------------------------------


def box(n: int, **values: Any) -> dict[str, Any]:
    return {"id": n, **dict.fromkeys([*SCALARS, *REFS["Box"]]), "created_at": MOMENTS[0], **values}


def thing(n: int, **values: Any) -> dict[str, Any]:
    empty = dict.fromkeys([*SCALARS, *REFS["Thing"]])
    return {"id": n, **empty, "created_at": MOMENTS[0], **values}


def case(
    where: Where,
    things: list[dict[str, Any]],
    boxes: list[dict[str, Any]] | None = None,
    roles: dict[str, Where] | None = None,
    variables: dict[str, Any] | None = None,
) -> Case:
    roles = roles or {}
    data = {"Box": boxes or [], "Thing": things}
    return Case(data, {e: roles.get(e) for e in ENTITIES}, variables or {}, where)
