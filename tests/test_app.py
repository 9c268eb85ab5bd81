"""HTTP: the Starlette app in process (httpx over ASGI, lifespan included), then the real thing —
`ecospec serve` in a subprocess, queried with httpx — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import jwt
import pytest
from dbs import ROOT, SeededDemo, api_on, copy_sqlite, sqlite_path, sqlite_url
from graphql import IntrospectionQuery, build_client_schema, get_introspection_query, print_schema

from ecospec.runtime.app import create_app
from ecospec.runtime.graphiql import assets_installed

pytest_plugins = ["dbs"]

SECRET = "a test secret that is long enough for HS256 signing"
COMPLEXES = "{ complexesAggregate { count } }"
T = TypeVar("T")


def admin_headers() -> dict[str, str]:
    """A bearer token for the demo's `admin` role, which may read and write everything."""
    claims = {"role": "admin", "sub": "1", "exp": int(time.time()) + 3600}
    return {"authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def schema_from(introspection: dict[str, Any]) -> str:
    return print_schema(build_client_schema(cast(IntrospectionQuery, introspection))) + "\n"


class AppClient:
    """The demo's app, started (lifespan included) on an event loop of its own thread, as a
    server runs it, and reached through httpx without a socket. The environment it reads stays
    set until it is closed. The bus stays off: these tests are about GraphQL over HTTP, and
    `ecospec serve` below runs everything."""

    def __init__(self, project: Path, database: str, *, production: bool = False) -> None:
        self.env = pytest.MonkeyPatch()
        self.env.setenv("ECOSPEC_DATABASE_URL", database)
        self.env.setenv("ECOSPEC_JWT_SECRET", SECRET)
        self.env.delenv("ECOSPEC_ENV", raising=False)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = contextlib.AsyncExitStack()
        self.http = self.call(self._start(project, production))

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    async def _start(self, project: Path, production: bool) -> httpx.AsyncClient:
        app = create_app(project, production=production, bus=False)
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return await self.stack.enter_async_context(client)

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        return self.call(self.http.request(method, url, **options))

    def graphql(self, body: dict[str, Any]) -> httpx.Response:
        """A POST as the admin role."""
        return self.request("POST", "/graphql", json=body, headers=admin_headers())

    def at_once(self, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
        async def send() -> list[httpx.Response]:
            return list(
                await asyncio.gather(
                    *(self.http.post("/graphql", json=b, headers=admin_headers()) for b in bodies)
                )
            )

        return self.call(send())

    def close(self) -> None:
        try:
            self.call(self.stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            self.env.undo()


@contextlib.contextmanager
def app_on(project: Path, database: str, *, production: bool = False) -> Iterator[AppClient]:
    client = AppClient(project, database, production=production)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def app_database(
    backend: str,
    seeded_demo: SeededDemo,
    shared_scratch: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A seeded demo this module may write to (the served app uses it too)."""
    if shared_scratch is not None:
        return shared_scratch
    copy = tmp_path_factory.mktemp("app") / "demo.db"
    copy_sqlite(sqlite_path(seeded_demo.url), copy)
    return sqlite_url(copy)


@pytest.fixture(scope="module")
def app(demo_elsewhere: Path, app_database: str) -> Iterator[AppClient]:
    with app_on(demo_elsewhere, app_database) as client:
        yield client


# -- in process ----------------------------------------------------------------------------------------


def test_introspection_is_schema_graphql(app: AppClient) -> None:
    response = app.graphql({"query": get_introspection_query()})
    assert response.status_code == 200
    assert schema_from(response.json()["data"]) == (ROOT / "schema.graphql").read_text(
        encoding="utf-8"
    )


def test_post_and_get_give_the_same_answer(app: AppClient) -> None:
    query = "query Q($n: Int) { apartments(limit: $n, orderBy: [{price: DESC}]) { code price } }"
    post = app.graphql({"query": query, "variables": {"n": 2}})
    get = app.request(
        "GET",
        "/graphql",
        params={"query": query, "variables": '{"n": 2}', "operationName": "Q"},
        headers=admin_headers(),
    )
    assert post.status_code == get.status_code == 200
    assert post.headers["content-type"] == "application/json"
    assert post.json() == get.json()
    assert len(post.json()["data"]["apartments"]) == 2


def test_graphiql_for_a_browser(app: AppClient) -> None:
    page = app.request("GET", "/graphql", headers={"accept": "text/html,*/*"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    if assets_installed():
        assert "<title>Северный квартал — GraphiQL</title>" in page.text
        assert '<script src="/graphql/assets/graphiql.min.js"></script>' in page.text
    else:  # without `make graphiql`: the small query page of our own
        assert "<title>Северный квартал — GraphQL</title>" in page.text
        assert "make graphiql" in page.text


def test_no_graphiql_in_production(demo_elsewhere: Path, app_database: str) -> None:
    with app_on(demo_elsewhere, app_database, production=True) as production:
        page = production.request("GET", "/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.json() == {
        "errors": [
            {"message": "GraphiQL is off in production", "extensions": {"code": "BAD_REQUEST"}}
        ]
    }


@pytest.mark.parametrize(
    "method, request_args, status, message",
    [
        (
            "POST",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            'the body is not JSON; send {"query": "…", "variables": {…}}',
        ),
        (
            "POST",
            {"json": {"variables": {}}},
            400,
            "query: a GraphQL document (string) is required",
        ),
        ("POST", {"json": {"query": 5}}, 400, "query: a GraphQL document (string) is required"),
        ("POST", {"json": ["{ x }"]}, 400, "query: a GraphQL document (string) is required"),
        (
            "POST",
            {"json": {"query": COMPLEXES, "variables": [1]}},
            400,
            "variables: expected an object",
        ),
        ("GET", {"params": {"query": COMPLEXES, "variables": "{"}}, 400, "variables: not JSON"),
        ("GET", {"params": {}}, 400, "query: a GraphQL document (string) is required"),
    ],
    ids=[
        "bad-json",
        "no-query",
        "query-not-text",
        "not-an-object",
        "variables-list",
        "get-variables",
        "get-no-query",
    ],
)
def test_requests_that_are_not_graphql_are_refused(
    app: AppClient, method: str, request_args: dict[str, Any], status: int, message: str
) -> None:
    response = app.request(method, "/graphql", **request_args)
    assert response.status_code == status
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
    }


def test_graphql_errors_answer_200(app: AppClient) -> None:
    response = app.graphql({"query": "{ zzzz }"})
    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Cannot query field 'zzzz' on type 'Query'.",
                "locations": [{"line": 1, "column": 3}],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    }


@pytest.mark.parametrize(
    "params",
    [
        {"query": 'mutation { createEmployee(input: {email: "EMAIL", name: "G"}) { id } }'},
        {
            "query": '# a comment\nmutation { createEmployee(input: {email: "EMAIL", name: "G"}) { id } }'
        },
        {
            "query": "query A { employeesAggregate { count } }"
            ' mutation B { createEmployee(input: {email: "EMAIL", name: "G"}) { id } }',
            "operationName": "B",
        },
    ],
    ids=["plain", "comment-first", "named-operation"],
)
def test_get_never_runs_a_mutation(app: AppClient, params: dict[str, str]) -> None:
    email = f"get-{uuid.uuid4().hex[:8]}@example.com"
    params = {k: v.replace("EMAIL", email) for k, v in params.items()}
    sent = app.request("GET", "/graphql", params=params, headers=admin_headers())
    assert sent.status_code == 405
    assert sent.json() == {
        "data": None,
        "errors": [
            {"message": "mutations need POST", "extensions": {"code": "METHOD_NOT_ALLOWED"}}
        ],
    }
    found = app.graphql({"query": f'{{ employees(where: {{email: {{eq: "{email}"}}}}) {{ id }} }}'})
    assert found.json() == {"data": {"employees": []}}


def test_a_mutation_over_post(app: AppClient) -> None:
    code = f"HTTP-{uuid.uuid4().hex[:6]}"
    made = app.graphql(
        {
            "query": "mutation($i: ApartmentCreateInput!) { createApartment(input: $i) { id code price } }",
            "variables": {"i": {"code": code, "complex": "1", "price": "1000000.10"}},
        }
    )
    assert made.status_code == 200
    assert made.json()["data"]["createApartment"]["price"] == "1000000.10"
    refused = app.graphql(
        {"query": 'mutation { createApartment(input: {code: "X", complex: "1", rooms: 9}) { id } }'}
    )
    assert refused.status_code == 200
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "OUT_OF_RANGE",
        "field": "input.rooms",
    }


def test_healthz(app: AppClient) -> None:
    response = app.request("GET", "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "ecosystem": "north-quarter"}


def test_healthz_reports_a_database_it_cannot_reach(demo_elsewhere: Path) -> None:
    with app_on(demo_elsewhere, "postgresql://nobody@127.0.0.1:1/nothing") as unreachable:
        response = unreachable.request("GET", "/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "OperationalError"}


def test_twenty_requests_at_once(app: AppClient) -> None:
    bodies = [
        {
            "query": "query($r: Int) { apartments(where: {rooms: {eq: $r}}) { code }"
            " apartmentsAggregate(where: {rooms: {eq: $r}}) { count } }",
            "variables": {"r": i % 5},
        }
        for i in range(20)
    ]
    responses = app.at_once(bodies)
    assert [r.status_code for r in responses] == [200] * 20
    answers = [r.json() for r in responses]
    assert all("errors" not in a for a in answers)
    assert answers[0] == answers[5] == answers[10] == answers[15]
    for answer in answers:
        data = answer["data"]
        assert len(data["apartments"]) == data["apartmentsAggregate"]["count"] > 0


def test_twenty_mutations_at_once(app: AppClient) -> None:
    """Concurrent writes all land (on SQLite too: each waits its turn for the write lock)."""
    tag = uuid.uuid4().hex[:6]
    query = "mutation($i: ApartmentCreateInput!) { createApartment(input: $i) { code } }"
    bodies = [
        {"query": query, "variables": {"i": {"code": f"AT-{tag}-{n}", "complex": "1"}}}
        for n in range(20)
    ]
    answers = [r.json() for r in app.at_once(bodies)]
    assert [a.get("errors") for a in answers] == [None] * 20
    created = app.graphql(
        {
            "query": f'{{ apartmentsAggregate(where: {{code: {{startsWith: "AT-{tag}-"}}}}) {{ count }} }}'
        }
    )
    assert created.json() == {"data": {"apartmentsAggregate": {"count": 20}}}


# -- through `ecospec serve` ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def serving(project: Path, database: str, logs: Path) -> Iterator[str]:
    """`ecospec serve` on a free port, until the block ends; yields its base URL. Without the
    installed script, the same entry point runs as `python -m cli` from the repository."""
    port = free_port()
    script = Path(sys.executable).parent / "ecospec"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "ecospec"]
    env = {**os.environ, "ECOSPEC_DATABASE_URL": database, "ECOSPEC_JWT_SECRET": SECRET}
    env.pop("ECOSPEC_ENV", None)
    with (logs / "out.log").open("w") as out, (logs / "err.log").open("w") as err:
        process = subprocess.Popen(
            [*command, "serve", "--project", str(project), "--port", str(port)],
            stdout=out,
            stderr=err,
            env=env,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    pytest.fail(
                        f"ecospec serve exited {process.returncode}: {(logs / 'err.log').read_text()}"
                    )
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("ecospec serve did not answer /healthz within 60 s")
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def server(
    demo_elsewhere: Path, app_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with serving(demo_elsewhere, app_database, tmp_path_factory.mktemp("serve")) as base:
        yield base


def test_served_healthz_and_graphiql(server: str) -> None:
    health = httpx.get(f"{server}/healthz")
    assert (health.status_code, health.json()) == (
        200,
        {"status": "ok", "ecosystem": "north-quarter"},
    )
    page = httpx.get(f"{server}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in page.text


def test_served_introspection_is_schema_graphql(server: str) -> None:
    response = httpx.post(
        f"{server}/graphql", json={"query": get_introspection_query()}, headers=admin_headers()
    )
    assert response.status_code == 200
    assert schema_from(response.json()["data"]) == (ROOT / "schema.graphql").read_text(
        encoding="utf-8"
    )


def test_served_queries_over_post_and_get(server: str) -> None:
    query = '{ complex(id: "1") { name apartmentsAggregate { count } } }'
    post = httpx.post(f"{server}/graphql", json={"query": query}, headers=admin_headers())
    get = httpx.get(f"{server}/graphql", params={"query": query}, headers=admin_headers())
    assert post.status_code == get.status_code == 200
    assert post.json() == get.json()
    assert post.json()["data"]["complex"]["name"] == "Северная гавань"


def test_served_bad_json_is_400(server: str) -> None:
    response = httpx.post(
        f"{server}/graphql", content=b"not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": 'the body is not JSON; send {"query": "…", "variables": {…}}',
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


def test_served_mutation_then_read_back(server: str) -> None:
    code = f"SRV-{uuid.uuid4().hex[:6]}"
    made = httpx.post(
        f"{server}/graphql",
        json={
            "query": "mutation($i: ApartmentCreateInput!) { createApartment(input: $i) { id } }",
            "variables": {"i": {"code": code, "complex": "2", "price": "9999999.99"}},
        },
        headers=admin_headers(),
    )
    assert made.status_code == 200, made.text
    assert "errors" not in made.json(), made.text
    record = made.json()["data"]["createApartment"]["id"]
    read = httpx.get(
        f"{server}/graphql",
        params={"query": f'{{ apartment(id: "{record}") {{ code price complex {{ id }} }} }}'},
        headers=admin_headers(),
    )
    assert read.json() == {
        "data": {"apartment": {"code": code, "price": "9999999.99", "complex": {"id": "2"}}}
    }


def test_served_twenty_concurrent_requests(server: str) -> None:
    query = (
        "{ apartments(orderBy: [{price: DESC}], limit: 3) { code } apartmentsAggregate { count } }"
    )

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as http:
            return list(
                await asyncio.gather(
                    *(
                        http.post("/graphql", json={"query": query}, headers=admin_headers())
                        for _ in range(20)
                    )
                )
            )

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * 20
    answers = [r.json() for r in responses]
    assert all(a == answers[0] for a in answers)
    assert "errors" not in answers[0]


def test_served_twenty_concurrent_mutations(server: str) -> None:
    tag = uuid.uuid4().hex[:6]
    query = "mutation($i: ApartmentCreateInput!) { createApartment(input: $i) { code } }"

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=60) as http:
            return list(
                await asyncio.gather(
                    *(
                        http.post(
                            "/graphql",
                            json={
                                "query": query,
                                "variables": {"i": {"code": f"SV-{tag}-{n}", "complex": "3"}},
                            },
                            headers=admin_headers(),
                        )
                        for n in range(20)
                    )
                )
            )

    answers = [r.json() for r in asyncio.run(scenario())]
    assert [a.get("errors") for a in answers] == [None] * 20
    count = httpx.post(
        f"{server}/graphql",
        json={
            "query": f'{{ apartmentsAggregate(where: {{code: {{startsWith: "SV-{tag}-"}}}}) {{ count }} }}'
        },
        headers=admin_headers(),
    )
    assert count.json() == {"data": {"apartmentsAggregate": {"count": 20}}}


SERVED_QUERIES = {
    "three-levels": """{ complexes(limit: 10, where: {status: {ne: planned}}) { name
        buildings(limit: 10) { code apartments(where: {rooms: {gte: 3}}, orderBy: [{price: DESC}],
        limit: 2) { code price area complex { slug } } } } }""",
    "filters": """{ apartments(where: {or: [{rooms: {in: [0, 4]}}, {kitchenArea: {isNull: true}}],
        building: {complex: {city: {startsWith: "Моск"}}}, not: {status: {eq: sold}}},
        orderBy: [{area: DESC}], limit: 10, offset: 2) { code status area kitchenArea } }""",
    "aggregates": """{ apartmentsAggregate(where: {status: {ne: sold}}) { count sum { price area }
        avg { price } min { price cheapest: price } max { kitchenArea } }
        complexes(limit: 10) { slug apartmentsAggregate { count sum { price } } } }""",
    "connection": """{ leadsConnection(first: 5, orderBy: [{status: ASC}]) { totalCount
        pageInfo { hasNextPage endCursor } edges { cursor node { code status createdAt
        manager { email } touchpointsAggregate { count } } } } }""",
}


@pytest.mark.parametrize("query", list(SERVED_QUERIES.values()), ids=list(SERVED_QUERIES))
def test_served_answers_are_the_service_answers(server: str, app_database: str, query: str) -> None:
    """Whatever the in-process tests prove of the API holds through `ecospec serve`."""
    response = httpx.post(f"{server}/graphql", json={"query": query}, headers=admin_headers())
    with api_on(app_database) as api:
        expected = api.data(query)
    assert response.status_code == 200
    assert response.json() == {"data": expected}


def test_served_connection_pages_follow_the_cursor(server: str) -> None:
    query = """query($after: String) { touchpointsConnection(first: 30, after: $after,
        orderBy: [{occurredAt: DESC}]) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { id } } } }"""
    seen: list[str] = []
    after = None
    while True:
        response = httpx.post(
            f"{server}/graphql",
            json={"query": query, "variables": {"after": after}},
            headers=admin_headers(),
        )
        page = response.json()["data"]["touchpointsConnection"]
        seen.extend(e["node"]["id"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == page["totalCount"]
