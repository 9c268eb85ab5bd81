"""An entity with many fields: its records are read whole, in the order asked, on both databases.
SQLite's JSON functions take at most 127 arguments and PostgreSQL's 100, and a record is built as
one JSON object of two arguments a field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import WriteSpec
from dbs import api_on, resolve

from ecospec.generator.loader import load_spec
from ecospec.runtime.migrate import migrate_additive
from ecospec.runtime.types import Session

pytest_plugins = ["dbs"]

FIELDS = [f"note{i:03d}" for i in range(1, 131)]  # 130: past both limits more than once


def project_files() -> dict[str, str]:
    fields = "\n".join(f"      {name}: {{type: string, max_length: 20}}" for name in FIELDS)
    return {
        "spec/ecosystem.yaml": "ecosystem: wide\ntitle: Wide\nauth: {anonymous_role: public}\n",
        "spec/roles.yaml": "roles:\n  public:\n    Survey: {read: true}\n    Answer: {read: true}\n",
        "spec/entities/survey.yaml": (
            "entities:\n"
            "  Survey:\n"
            "    fields:\n"
            "      title: {type: string, required: true, max_length: 40}\n"
            "      answers: {type: list, of: Answer, via: survey}\n"
            "  Answer:\n"
            "    fields:\n"
            "      survey: {type: ref, to: Survey, required: true}\n" + fields + "\n"
        ),
    }


def test_a_record_of_many_fields_is_read_whole_in_the_order_asked(
    database: str, write_spec: WriteSpec, tmp_path: Path
) -> None:
    project = write_spec(tmp_path / "wide", project_files())
    spec = load_spec(project)
    migrate_additive(spec, resolve(database))
    values: dict[str, Any] = {name: f"v{i}" for i, name in enumerate(FIELDS)}
    values["note007"] = None  # a null among them stays a null
    asked = list(reversed(FIELDS))  # an order of the client's own
    selection = " ".join(asked)
    with api_on(database, project, spec) as api:
        survey = api.data('mutation { createSurvey(input: {title: "Q"}) { id } }')["createSurvey"]
        created = api.data(
            f"mutation($input: AnswerCreateInput!) {{ createAnswer(input: $input) {{ id {selection} }} }}",
            {"input": {"survey": survey["id"], **values}},
        )["createAnswer"]
        assert list(created) == ["id", *asked]
        assert {k: created[k] for k in FIELDS} == values

        # a list, a nested list and one record, through graphql-core and through the JSON the
        # database builds (what /graphql answers)
        query = (
            f"{{ answers(limit: 5) {{ {selection} }} "
            f"surveys(limit: 5) {{ title answers(limit: 5) {{ {selection} survey {{ title }} }} }} "
            f"answer(id: {created['id']}) {{ {selection} }} }}"
        )
        general = api.data(query)
        body = api.runner.run(api.eco.graphql.respond(query, None, None, Session("admin", {})))
        direct = json.loads(body)["data"]
        for data in (general, direct):
            assert list(data["answers"][0]) == asked
            assert data["answers"][0] == {k: values[k] for k in asked}
            nested = data["surveys"][0]["answers"][0]
            assert list(nested) == [*asked, "survey"]
            assert nested["survey"] == {"title": "Q"}
            assert data["answer"] == data["answers"][0]
