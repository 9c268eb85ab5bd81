"""generator/fieldtypes.py: which values fit which field type, and which operators."""

from __future__ import annotations

from typing import Any

import pytest

from ecospec.generator.fieldtypes import ALL_OPERATORS, FIELD_TYPES, value_problem


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("string", "text"),
        ("int", 3),
        ("int", -3),
        ("decimal", 54.5),
        ("decimal", "54.5"),
        ("money", 7500000),
        ("money", "12.50"),
        ("money", 12.5),
        ("bool", False),
        ("date", "2026-05-01"),
        ("datetime", "2026-05-01T10:00:00+03:00"),
        ("slug", "severnyi-kvartal"),
        ("email", "sales@north-quarter.ru"),
        ("phone", "+7 (495) 150-40-40"),
        ("url", "https://north-quarter.ru/"),
        ("enum", "free"),
        ("string", None),
    ],
)
def test_values_that_fit(type_name: str, value: Any) -> None:
    assert value_problem(type_name, value, ["free", "sold"]) is None


@pytest.mark.parametrize(
    ("type_name", "value", "problem"),
    [
        ("string", 5, "expected text, got a number"),
        ("int", True, "expected a whole number, got a boolean"),
        ("int", 2.5, "expected a whole number, got a number"),
        ("int", "2", "expected a whole number, got text '2'"),
        ("decimal", "abc", "'abc' is not a number"),
        ("decimal", [1], "expected a number, got a list"),
        ("money", "inf", "'inf' is not a finite number"),
        ("bool", "yes", "expected true or false, got text 'yes'"),
        ("date", "01.05.2026", "'01.05.2026' is not an ISO date (YYYY-MM-DD)"),
        ("datetime", "tomorrow", "'tomorrow' is not an ISO date and time"),
        (
            "slug",
            "Северный",
            "'Северный' is not a slug (lowercase latin letters, digits and dashes)",
        ),
        ("email", "nobody", "'nobody' is not an e-mail address"),
        ("phone", "call me", "'call me' is not a telephone number"),
        ("enum", "gone", "'gone' is not one of: free, sold"),
        ("enum", 1, "'1' is not one of: free, sold"),
    ],
)
def test_values_that_do_not_fit(type_name: str, value: Any, problem: str) -> None:
    assert value_problem(type_name, value, ["free", "sold"]) == problem


def test_money_has_two_decimal_places() -> None:
    assert value_problem("money", "12.345") == "'12.345' has more than 2 decimal places"


def test_huge_money_value_is_a_problem_not_an_exception() -> None:
    problem = value_problem("money", 1e30)  # a whole amount: fits, or is refused as too large

    assert problem is None or problem.startswith("'1e+30' ")


def test_operators_fit_their_types() -> None:
    assert FIELD_TYPES["bool"].operators == ("eq", "ne", "isNull")
    assert "contains" not in FIELD_TYPES["int"].operators
    assert "gt" in FIELD_TYPES["money"].operators
    assert FIELD_TYPES["list"].operators == ()
    assert all(set(t.operators) <= set(ALL_OPERATORS) for t in FIELD_TYPES.values())
