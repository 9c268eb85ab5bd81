"""`ecospec explain`: the statements a query runs, one per root field, in the project's dialect —
and they are the statements that really run: executed by hand, they give the API's answer."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from dbs import ROOT, Api, SeededDemo, demo_spec, resolve
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ecospec.cli import main
from ecospec.runtime.explain import QueryError, explain

pytest_plugins = ["dbs"]

THREE_LEVELS = (
    "{ complexes(limit: 10) { name buildings(limit: 10) { code"
    " apartments(where: {rooms: {gte: 2}}, orderBy: [{price: DESC}], limit: 2) { code price } } } }"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["explain", "--project", str(ROOT), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def sqlite_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The demo's database is SQLite unless a test says otherwise (explain never connects)."""
    monkeypatch.setenv("ECOSPEC_DATABASE_URL", f"sqlite:///{tmp_path / 'never-made.db'}")


def test_a_three_level_nested_query_is_one_statement(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, THREE_LEVELS)
    assert (code, err) == (0, "")
    assert out.startswith("-- statement 1\nSELECT ")
    assert out.count("-- statement") == 1
    assert out.endswith(";\n\n")
    assert out.count("json_group_array(") == 3
    assert not (tmp_path / "never-made.db").exists()


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", THREE_LEVELS)
    assert code == 0
    report = json.loads(out)
    assert list(report) == ["statements"]
    assert len(report["statements"]) == 1
    assert report["statements"][0].startswith("SELECT ")


def test_one_statement_per_root_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--format",
        "json",
        '{ complexes { name } apartment(id: "1") { code } apartmentsAggregate { count }'
        " buildingsConnection(first: 2) { totalCount } }",
    )
    assert code == 0
    assert len(json.loads(out)["statements"]) == 4


def test_postgresql_statements_without_a_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOSPEC_DATABASE_URL", "postgresql://nobody@db.invalid:1/none")
    code, out, err = run(capsys, THREE_LEVELS)
    assert (code, err) == (0, "")
    assert out.count("-- statement") == 1
    assert out.count("json_agg(") == 3 and "json_build_object(" in out


def test_variables_and_files_and_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    query = "query($id: ID!) { complex(id: $id) { name } }"
    code, inline, _ = run(capsys, "--variables", '{"id": 2}', query)
    assert code == 0
    assert "WHERE t0.id = 2" in inline
    document = tmp_path / "q.graphql"
    document.write_text(query, encoding="utf-8")
    assert run(capsys, "--variables", '{"id": 2}', str(document))[1] == inline
    monkeypatch.setattr("sys.stdin", io.StringIO(query))
    assert run(capsys, "--variables", '{"id": 2}', "-")[1] == inline


@pytest.mark.parametrize(
    "args, exit_code, message",
    [
        (["{ zzzz }"], 1, "ecospec: query: 1:3: Cannot query field 'zzzz' on type 'Query'.\n"),
        (["{ complexes {"], 1, "ecospec: query: 1:14: Syntax Error: Expected Name, found <EOF>.\n"),
        (
            ["--variables", "{", "{ complexes { name } }"],
            2,
            "ecospec: --variables: not JSON (Expecting property name enclosed in double quotes)\n",
        ),
    ],
    ids=["unknown-field", "syntax", "bad-variables"],
)
def test_a_query_that_cannot_run_is_an_error(
    capsys: pytest.CaptureFixture[str], args: list[str], exit_code: int, message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out, err) == (exit_code, "", message)


def test_a_query_error_from_the_function() -> None:
    with pytest.raises(
        QueryError, match=r"^query: 1:18: Cannot query field 'zzzz' on type 'Complex'\."
    ):
        explain(demo_spec(), ROOT, "{ complexes { id zzzz } }", {})


def test_a_mutation_is_not_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, 'mutation { deleteAmenity(id: "1") { id } }') == (
        1,
        "",
        "ecospec: explain shows queries; a mutation runs several statements through the write path\n",
    )


# -- what explain shows is what runs -----------------------------------------------------------------


def execute(url: str, sql: str) -> Any:
    engine = create_engine(resolve(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            value = conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()
    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.parametrize(
    "root, query",
    [
        ("complexes", THREE_LEVELS),
        (
            "apartments",
            '{ apartments(where: {price: {gt: "30000000"}, complex: {city: {eq: "Москва"}}},'
            " orderBy: [{area: DESC}], limit: 5) { code price area complex { name } } }",
        ),
        (
            "apartmentsAggregate",
            "{ apartmentsAggregate(where: {status: {in: [free, booked]}})"
            " { count sum { price } avg { area } min { price } max { kitchenArea } } }",
        ),
    ],
    ids=["nested", "filtered", "aggregate"],
)
def test_the_explained_statement_gives_the_api_answer(
    seeded_demo: SeededDemo,
    demo_api: Api,
    monkeypatch: pytest.MonkeyPatch,
    root: str,
    query: str,
) -> None:
    monkeypatch.setenv("ECOSPEC_DATABASE_URL", seeded_demo.url)
    (statement,) = explain(demo_spec(), ROOT, query, {})
    sent, result = demo_api.statements(query)
    assert result.errors is None and result.data is not None
    assert len(sent) == 1
    assert execute(seeded_demo.url, statement) == result.data[root]


def test_explain_as_a_role_adds_its_filters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--role", "public", "{ apartments { code } }")
    assert code == 0
    assert out.count("-- statement") == 1
    assert "status IN ('free', 'booked')" in out
    code, _, err = run(capsys, "--role", "nobody", "{ complexes { name } }")
    assert code == 2
    assert err.startswith("ecospec: unknown role 'nobody' (roles: public, ")
