"""generator/model.py: the spec's value types (durations)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, ValidationError

from ecospec.generator.model import Duration


class Waits(BaseModel):
    waits: list[Duration]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0.1), ("5s", 5.0), ("1.5m", 90.0), ("2h", 7200.0), ("1d", 86400.0), (" 3 s ", 3.0)],
)
def test_a_duration_keeps_its_text_and_knows_its_seconds(text: str, seconds: float) -> None:
    wait = Duration.parse(text)
    assert (str(wait), wait.seconds, wait.timedelta) == (
        text,
        seconds,
        dt.timedelta(seconds=seconds),
    )


@pytest.mark.parametrize("text", ["5", "5x", "soon", "1.5 min", "-5s", "5s5s", ""])
def test_text_that_is_no_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        Duration.parse(text)
    assert str(caught.value) == f"'{text}' is not a duration such as 30s, 5m or 2h"


def test_a_model_parses_durations_once_and_dumps_their_text() -> None:
    model = Waits.model_validate({"waits": ["5s", "2h"]})
    assert [wait.seconds for wait in model.waits] == [5.0, 7200.0]
    assert model.model_dump() == {"waits": ["5s", "2h"]}
    assert model.model_dump_json() == '{"waits":["5s","2h"]}'
    assert Waits.model_validate(model.model_dump()) == model
    assert Waits(waits=model.waits) == model


def test_a_model_reports_a_bad_duration_and_text_that_is_not_text() -> None:
    with pytest.raises(ValidationError) as caught:
        Waits.model_validate({"waits": ["5x", 5, "5s"]})
    assert [(e["type"], e["loc"], e["msg"]) for e in caught.value.errors()] == [
        ("duration", ("waits", 0), "'5x' is not a duration such as 30s, 5m or 2h"),
        ("string_type", ("waits", 1), "Input should be a valid string"),
    ]


def test_the_json_schema_of_a_duration_is_text() -> None:
    assert Waits.model_json_schema()["properties"]["waits"]["items"] == {"type": "string"}
