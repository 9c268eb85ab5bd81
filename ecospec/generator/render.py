"""Rendering with Jinja2's sandbox: marketer strings and block templates, with formatting filters."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal, InvalidOperation
from types import BuiltinMethodType
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

NBSP = "\u00a0"
NNBSP = "\u202f"
MONTHS_RU = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def number(value: Any, digits: int = 0) -> str:
    """12345678.5 -> '12 345 678' (grouped with narrow no-break spaces)."""
    amount = _decimal(value)
    if amount is None:
        return ""
    text = f"{amount:,.{digits}f}".replace(",", NNBSP)
    return text.replace(".", ",") if digits else text


def money(value: Any, currency: str = "₽") -> str:
    """5200000 -> '5 200 000 ₽'; kopecks only when there are some."""
    amount = _decimal(value)
    if amount is None:
        return ""
    digits = 0 if amount == amount.to_integral_value() else 2
    return f"{number(amount, digits)}{NBSP}{currency}"


def millions(value: Any, currency: str = "₽") -> str:
    """5200000 -> '5,2 млн ₽'."""
    amount = _decimal(value)
    if amount is None:
        return ""
    short = (amount / Decimal(1_000_000)).quantize(Decimal("0.1"))
    text = f"{short:f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text}{NBSP}млн{NBSP}{currency}"


def plural(n: Any, one: str, few: str, many: str) -> str:
    """Russian plural: plural(21, 'квартира', 'квартиры', 'квартир') -> 'квартира'."""
    try:
        count = abs(int(n))
    except (TypeError, ValueError):
        return many
    if count % 10 == 1 and count % 100 != 11:
        return one
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return few
    return many


def date(value: Any, locale: str = "ru") -> str:
    """'2027-05-31' -> '31 мая 2027'."""
    if not value:
        return ""
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    if locale == "ru":
        return f"{day.day}{NBSP}{MONTHS_RU[day.month - 1]} {day.year}"
    return f"{MONTHS_EN[day.month - 1]} {day.day}, {day.year}"


def quarter(value: Any) -> str:
    """'2027-05-31' -> 'II квартал 2027'."""
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value or "")
    return f"{('I', 'II', 'III', 'IV')[(day.month - 1) // 3]}{NBSP}квартал {day.year}"


_DICT_ATTRIBUTES = frozenset(dir(dict))
# what templates call on records and parameters most (`r.get('price')`): read-only methods,
# which the immutable sandbox allows anyway
_DICT_READERS = frozenset({"get", "items", "keys", "values"})


class SpecEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every template runs in: autoescaped, strict about unknown names.

    Its checks run for everything but the commonest reads, which are answered at once with what
    the checks would have let through: a record's fields, its read-only methods, and a call of a
    template's own macro."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `item.price` on a record: a plain dict has no such attribute, so the sandbox would
        # look it up as a key after the attribute lookup failed; looked up as a key at once
        # (the same answer, without the exception)
        if type(obj) is dict:
            if attribute not in _DICT_ATTRIBUTES:
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            elif attribute in _DICT_READERS:
                return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            type(__obj) is BuiltinMethodType
            and type(__obj.__self__) is dict
            and __obj.__name__ in _DICT_READERS
        ) or type(__obj) is Macro:
            # neither takes the context: what Context.call would do, without looking
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )
        return super().call(__context, __obj, *args, **kwargs)


@functools.cache
def sandbox() -> SpecEnvironment:
    env = SpecEnvironment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(
        number=number, money=money, millions=millions, plural=plural, date=date, quarter=quarter
    )
    return env


@functools.lru_cache(maxsize=4096)
def compiled(text: str) -> Any:
    """A template (a marketer string, a block's or the page's) compiled once per process."""
    template = sandbox().from_string(text)
    # Jinja keeps a template's globals as a ChainMap over its environment's, and copies them
    # into every render's context key by key; they never change here, so a plain dict, which
    # copies at once (a page renders about twenty templates)
    template.globals = dict(template.globals)
    return template


def is_template(text: str) -> bool:
    """Whether a string has template syntax in it: a marketer string without any is plain text."""
    return "{{" in text or "{%" in text


def render_text(text: str, context: dict[str, Any]) -> str:
    """A marketer string rendered as plain text (its HTML is escaped where it is used)."""
    if not is_template(text):
        return text
    result = compiled(text).render(context)
    # The string is inserted into templates later, which escape it; unescape what the sandbox did.
    return str(Markup(result).unescape())


__all__ = ["TemplateError", "is_template", "render_text", "sandbox"]
