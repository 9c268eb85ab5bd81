"""Request limits (OWASP's GraphQL cheat sheet): depth, aliases, tokens and estimated cost are
checked before any SQL runs — counted with the engine's before_cursor_execute listener — the
request body's size over HTTP, and the statement timeout; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from dbs import CONTROL, Api, SeededDemo, api_on, demo_spec
from graphql import OperationDefinitionNode, parse
from test_auth import Served

from ecospec.generator.model import Limits
from ecospec.runtime.limits import Measure
from ecospec.runtime.types import Session

pytest_plugins = ["dbs"]

LIMITS = Limits()


def ask(api: Api, role: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answer to a request as one role, as the HTTP endpoint would give it."""
    service = api.eco.service(role)
    body = api.runner.run(service.respond(query, variables, None, Session(role)))
    found: dict[str, Any] = json.loads(body)
    return found


def sql(api: Api) -> list[str]:
    return [s for s in api.sent if not s.lstrip().upper().startswith(CONTROL)]


def refused_before_sql(
    api: Api, role: str, query: str, message: str, variables: dict[str, Any] | None = None
) -> None:
    api.sent.clear()
    found = ask(api, role, query, variables)
    assert found.get("data") is None, found
    assert [e["message"] for e in found["errors"]] == [message]
    assert found["errors"][0]["extensions"]["code"] in (
        "GRAPHQL_VALIDATION_FAILED",
        "GRAPHQL_PARSE_FAILED",
    )
    assert sql(api) == []


def nested(levels: int) -> str:
    """A query `levels` fields deep that the public role may run: apartment, complex, apartments…"""
    body = "id"
    for i in range(levels - 1, 0, -1):
        field = "complex" if i % 2 == 0 else "apartments(limit: 1)"
        body = f"{field} {{ {body} }}"
    return f"{{ {body} }}"


def test_the_defaults_are_the_documented_ones() -> None:
    assert demo_spec().limits == LIMITS
    assert (LIMITS.depth, LIMITS.aliases, LIMITS.tokens, LIMITS.cost) == (12, 30, 5000, 50000)
    assert (LIMITS.body_bytes, LIMITS.statement_timeout_ms, LIMITS.page_size) == (
        100_000,
        5000,
        100,
    )


@pytest.mark.parametrize("role", ["public", "admin"])
def test_an_over_deep_query_is_refused_before_any_sql(demo_api: Api, role: str) -> None:
    refused_before_sql(demo_api, role, nested(13), "the query is 13 levels deep; the limit is 12")
    # fragments do not hide depth
    fragments = "fragment C on Complex { apartments(limit: 1) { complex { id } } } "
    deep = nested(11).replace("{ id }", "{ ...C }", 1)
    refused_before_sql(
        demo_api, role, fragments + deep, "the query is 13 levels deep; the limit is 12"
    )


def test_a_query_within_the_depth_limit_runs_in_one_statement(demo_api: Api) -> None:
    demo_api.sent.clear()
    found = ask(demo_api, "public", nested(6))
    assert "errors" not in found, found
    assert len(sql(demo_api)) == 1


def chain(start: list[str], steps: list[str], leaf: str) -> str:
    """A query as deep as the limit: the fields of `start`, then those of `steps` in turn, down
    to the `leaf` selection."""
    fields = [*start, *(steps * LIMITS.depth)]
    body = leaf
    for field in reversed(fields[: LIMITS.depth - 1 - leaf.count("{")]):
        body = f"{field} {{ {body} }}"
    return f"{{ {body} }}"


AS_DEEP_AS_ALLOWED = {
    "refs-and-lists": ("public", nested(LIMITS.depth)),
    "lists": (
        "admin",
        chain(
            ["complexes(limit: 1)"], ["apartments(limit: 1)", "leads(limit: 1)", "complex"], "id"
        ),
    ),
    "filters": (
        "public",
        chain(
            ["complexes(limit: 2)"],
            [
                "apartments(limit: 2, where: {building: {complex: {status: {ne: planned}}}})",
                "building",
                "complex",
            ],
            "code price",
        ),
    ),
    "exact-values": (
        "public",
        chain(["apartments(limit: 2)"], ["complex", "apartments(limit: 2)"], "price area balcony"),
    ),
    "aggregate": (
        "admin",
        chain(
            ["complexes(limit: 1)"],
            ["apartments(limit: 1)", "complex", "buildings(limit: 1)"],
            "apartmentsAggregate { count avg { price area } }",
        ),
    ),
    "connection": (
        "admin",
        chain(
            ["apartmentsConnection(first: 1)", "edges", "node"],
            ["leads(limit: 1)", "apartment", "complex", "apartments(limit: 1)"],
            "code price",
        ),
    ),
}


@pytest.mark.parametrize("name", list(AS_DEEP_AS_ALLOWED))
def test_every_query_within_the_depth_limit_runs_in_one_statement(demo_api: Api, name: str) -> None:
    """SQLite's parser (before 3.46) holds only so many nested subqueries: there the deeper
    records are written as common table expressions, in the same one statement."""
    role, query = AS_DEEP_AS_ALLOWED[name]
    service = demo_api.eco.service(role)
    document = parse(query)
    assert isinstance(document.definitions[0], OperationDefinitionNode)
    depth, _ = Measure(service.schema, {}, LIMITS).operation(document.definitions[0])
    assert depth == LIMITS.depth
    demo_api.sent.clear()
    found = ask(demo_api, role, query)
    assert "errors" not in found, found["errors"][0]["message"][:200]
    assert len(sql(demo_api)) == 1
    if demo_api.backend == "sqlite" and sqlite3.sqlite_version_info < (3, 46):
        assert "NOT MATERIALIZED" in sql(demo_api)[0]


@pytest.mark.parametrize("role", ["public", "admin"])
def test_an_over_aliased_query_is_refused_before_any_sql(demo_api: Api, role: str) -> None:
    many = " ".join(f"a{i}: complexesAggregate {{ count }}" for i in range(31))
    refused_before_sql(demo_api, role, f"{{ {many} }}", "the query uses more than 30 aliases")
    fragment = "fragment F on Query { " + many + " } "
    refused_before_sql(demo_api, role, fragment + "{ ...F }", "the query uses more than 30 aliases")
    demo_api.sent.clear()
    thirty = " ".join(f"a{i}: complexesAggregate {{ count }}" for i in range(30))
    assert "errors" not in ask(demo_api, role, f"{{ {thirty} }}")
    assert len(sql(demo_api)) == 30


@pytest.mark.parametrize("role", ["public", "admin"])
def test_a_query_of_too_many_tokens_is_refused_before_any_sql(demo_api: Api, role: str) -> None:
    long = "{ complexes { " + "id " * 5000 + "} }"
    refused_before_sql(
        demo_api,
        role,
        long,
        "Syntax Error: Document contains more than 5000 tokens. Parsing aborted.",
    )


@pytest.mark.parametrize("role", ["public", "admin"])
def test_an_over_costly_query_is_refused_before_any_sql(demo_api: Api, role: str) -> None:
    refused_before_sql(
        demo_api,
        role,
        "{ apartments(limit: 1000) { complex { apartments(limit: 1000) { id } } } }",
        "the query's estimated cost is 1002001; the limit is 50000 "
        "(give lists a smaller limit or first)",
    )
    refused_before_sql(
        demo_api,
        role,
        "{ complexesConnection(first: 500) { edges { node { apartments(limit: 200) { id } } } } }",
        "the query's estimated cost is 101002; the limit is 50000 "
        "(give lists a smaller limit or first)",
    )


@pytest.mark.parametrize(
    "query",
    [
        "query($n: Int) { apartments(limit: $n) { complex { apartments(limit: $n) { id } } } }",
        "query($n: Int) { apartmentsConnection(first: $n) "
        "{ edges { node { complex { apartments(limit: $n) { id } } } } } }",
    ],
    ids=["limit", "first"],
)
def test_a_limit_given_in_a_variable_counts_like_a_literal_one(demo_api: Api, query: str) -> None:
    literal = ask(demo_api, "public", query.replace("query($n: Int) ", "").replace("$n", "1000"))
    assert "estimated cost" in literal["errors"][0]["message"]
    demo_api.sent.clear()
    found = ask(demo_api, "public", query, {"n": 1000})
    # refused exactly like its literal twin, before any SQL
    assert found.get("data") is None
    assert [(e["message"], e["extensions"]["code"]) for e in found["errors"]] == [
        (e["message"], e["extensions"]["code"]) for e in literal["errors"]
    ]
    assert sql(demo_api) == []
    # and run when the values fit
    assert "errors" not in ask(demo_api, "public", query, {"n": 2})


def test_a_connection_page_costs_what_the_same_list_costs(demo_api: Api) -> None:
    listed = ask(demo_api, "public", "{ apartments(limit: 100) { id code price area } }")
    assert "errors" not in listed
    paged = ask(
        demo_api,
        "public",
        "{ apartmentsConnection(first: 100) { edges { node { id code price area } } } }",
    )
    assert "errors" not in paged, paged["errors"][0]["message"]


@pytest.fixture(scope="module")
def served(seeded_demo: SeededDemo) -> Iterator[Served]:
    app = Served(seeded_demo.url)
    try:
        yield app
    finally:
        app.close()


def test_batched_requests_are_refused(served: Served) -> None:
    batch = [{"query": "{ complexes { id } }"}] * 2
    response = served.runner.run(served.http.post("/graphql", json=batch))
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "query: a GraphQL document (string) is required"
    )


def test_a_body_larger_than_the_limit_is_413(served: Served) -> None:
    padding = "#" * LIMITS.body_bytes
    body = json.dumps({"query": "{ complexes { id } }\n" + padding}).encode()
    declared = served.runner.run(
        served.http.post("/graphql", content=body, headers={"content-type": "application/json"})
    )
    assert declared.status_code == 413
    assert declared.json()["errors"][0]["message"] == (
        f"the request body is larger than {LIMITS.body_bytes} bytes"
    )

    async def chunks() -> Any:  # no content-length: the limit holds while reading
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = served.runner.run(
        served.http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    )
    assert streamed.status_code == 413
    small = json.dumps({"query": "{ complexes { id } }"}).encode()
    answered = served.runner.run(
        served.http.post("/graphql", content=small, headers={"content-type": "application/json"})
    )
    assert answered.status_code == 200


# -- the statement timeout -------------------------------------------------------------------------

ALIASED = " ".join(
    f"a{i}: apartments {{ id code price area leadsAggregate {{ count }} }}" for i in range(10)
)
HEAVY = f"{{ apartments {{ complex {{ {ALIASED} }} }} }}"


@pytest.fixture(scope="module")
def slow_api(seeded_demo: SeededDemo) -> Iterator[Api]:
    """The demo with a statement timeout of 50 ms and limits high enough to let a heavy query
    (about a second of work on either database) reach the database."""
    limits = Limits(statement_timeout_ms=50, cost=10**9, aliases=100)
    with api_on(seeded_demo.url, spec=demo_spec().model_copy(update={"limits": limits})) as api:
        yield api


def test_a_query_over_the_statement_timeout_is_stopped(slow_api: Api) -> None:
    found = ask(slow_api, "admin", HEAVY)
    assert found.get("data") is None
    assert [(e["message"], e["extensions"]["code"]) for e in found["errors"]] == [
        ("the query ran longer than 50 ms and was stopped", "TIMEOUT")
    ]
    # and the next request runs as usual
    assert ask(slow_api, "admin", "{ complexesAggregate { count } }")["data"]


def test_a_timed_out_statement_runs_once(slow_api: Api) -> None:
    slow_api.sent.clear()
    ask(slow_api, "admin", HEAVY)
    assert len([s for s in sql(slow_api) if "lead" in s]) == 1
