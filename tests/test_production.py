"""Production mode (ECOSPEC_ENV=production): introspection and GraphiQL off, no field suggestions,
unexpected errors masked with an incident id, and `ecospec serve` refusing to start without a
strong secret — each next to the development behaviour it replaces, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from dbs import ROOT, SeededDemo, demo_spec, resolve
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from test_auth import Served

from ecospec.generator.model import Spec
from ecospec.runtime.auth import weak_secret_problem
from ecospec.runtime.migrate import migrate

pytest_plugins = ["dbs"]

SECRET = "a production secret that is long enough for HS256"
INCIDENT = re.compile(r"^internal error \(incident ([0-9a-f]{12})\)$")


def admin() -> dict[str, str]:
    claims = {"role": "admin", "sub": "1", "exp": int(time.time()) + 300}
    return {"authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@pytest.fixture(scope="module")
def apps(seeded_demo: SeededDemo) -> Iterator[dict[str, Served]]:
    """The demo served in production and in development, side by side (reads only)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ECOSPEC_JWT_SECRET", SECRET)
        env.delenv("ECOSPEC_ENV", raising=False)
        production = Served(seeded_demo.url, production=True)
        development = Served(seeded_demo.url)
        try:
            yield {"production": production, "development": development}
        finally:
            production.close()
            development.close()


def messages(app: Served, query: str, **options: Any) -> list[str]:
    response = app.post(query, **options)
    assert response.status_code == 200
    return [e["message"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    "query",
    ["{ __schema { queryType { name } } }", '{ __type(name: "Complex") { name } }'],
    ids=["schema", "type"],
)
def test_introspection_is_off_in_production(apps: dict[str, Served], query: str) -> None:
    field = query.split()[1].split("(")[0]
    for headers in ({}, admin()):
        assert messages(apps["production"], query, headers=headers)[0] == (
            "GraphQL introspection has been disabled, but the requested query contained "
            f"the field '{field}'."
        )
        assert "errors" not in apps["development"].post(query, headers=headers).json()
    assert apps["production"].data("{ __typename }") == {"__typename": "Query"}


def test_graphiql_is_not_served_in_production(apps: dict[str, Served]) -> None:
    page = {"accept": "text/html"}
    production, development = apps["production"], apps["development"]
    refused = production.runner.run(production.http.get("/graphql", headers=page))
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["message"] == "GraphiQL is off in production"
    served = development.runner.run(development.http.get("/graphql", headers=page))
    assert served.status_code == 200 and "text/html" in served.headers["content-type"]
    assets = production.runner.run(production.http.get("/graphql/assets/graphiql.min.js"))
    assert assets.status_code == 404
    # queries over GET still work
    answered = production.runner.run(
        production.http.get("/graphql", params={"query": "{ complexesAggregate { count } }"})
    )
    assert answered.status_code == 200 and answered.json()["data"]["complexesAggregate"]["count"]


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ("{ complexes { nme } }", "Did you mean 'name'?"),
        ("{ complexes(limt: 1) { name } }", "Did you mean 'limit'?"),
        (
            "{ apartments(where: {status: {eq: fre}}) { id } }",
            "Did you mean the enum value 'free'?",
        ),
        ("query($w: ComplexWher) { complexes(where: $w) { id } }", "Did you mean 'ComplexWhere',"),
    ],
    ids=["field", "argument", "enum", "type"],
)
def test_field_suggestions_are_removed_in_production(
    apps: dict[str, Served], query: str, hint: str
) -> None:
    assert any(hint in m for m in messages(apps["development"], query))
    shown = messages(apps["production"], query)
    assert shown and not any("Did you mean" in m for m in shown), shown


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            "query($s: ApartmentStatus) { apartments(where: {status: {eq: $s}}) { id } }",
            {"s": "fre"},
        ),
        ("query($w: ApartmentWhere) { apartments(where: $w) { id } }", {"w": {"stauts": {}}}),
    ],
    ids=["enum", "input-field"],
)
def test_variable_errors_carry_no_suggestions_in_production(
    apps: dict[str, Served], query: str, variables: dict[str, Any]
) -> None:
    assert any(
        "Did you mean" in m for m in messages(apps["development"], query, variables=variables)
    )
    shown = messages(apps["production"], query, variables=variables)
    assert shown and not any("Did you mean" in m for m in shown), shown


# -- unexpected errors -------------------------------------------------------------------------------


@pytest.fixture
def broken(database: str) -> Iterator[tuple[Served, Served, str]]:
    """The demo's tables (no data) served in production and development; the test drops one."""
    migrate(demo_spec(), resolve(database))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ECOSPEC_JWT_SECRET", SECRET)
        production = Served(database, production=True)
        development = Served(database)
        try:
            yield production, development, database
        finally:
            production.close()
            development.close()


def drop(database: str, table: str) -> None:
    engine = create_engine(resolve(database), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            cascade = " CASCADE" if conn.dialect.name == "postgresql" else ""
            conn.execute(text(f"DROP TABLE {table}{cascade}"))
    finally:
        engine.dispose()


def test_unexpected_errors_are_masked_with_an_incident_id_in_production(
    broken: tuple[Served, Served, str], caplog: pytest.LogCaptureFixture
) -> None:
    production, development, database = broken
    for app in (production, development):
        assert app.data("{ amenitiesAggregate { count } }", admin()) == {
            "amenitiesAggregate": {"count": 0}
        }
        app.settle()
    drop(database, "amenity")
    requests = [
        "{ amenities { id name } }",  # answered with the database's own JSON
        "{ amenitiesConnection { totalCount } }",  # through graphql-core
        "mutation { deleteAmenity(id: 1) { id } }",
    ]
    with caplog.at_level(logging.ERROR, logger="ecospec.graphql"):
        for query in requests:
            response = production.post(query, headers=admin())
            assert response.status_code == 200
            body = response.json()
            assert body["data"] is None
            [error] = body["errors"]
            found = INCIDENT.match(error["message"])
            assert found, error
            assert error["extensions"] == {"code": "INTERNAL", "incident": found.group(1)}
            assert "amenity" not in response.text.lower()
            logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
            assert logged and logged[0].exc_info is not None
            # in development the same failure says what went wrong
            shown = development.post(query, headers=admin()).json()["errors"][0]
            assert shown["message"].startswith("internal error (incident ")
            assert "amenity" in shown["message"].lower()


# -- ecospec serve ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOSPEC_")}
    env.update(
        ECOSPEC_ENV="production",
        ECOSPEC_DATABASE_URL=f"sqlite:///{tmp_path / 'served.db'}",
        **extra,
    )
    return env


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "$ECOSPEC_JWT_SECRET is not set"),
        ("short secret", "$ECOSPEC_JWT_SECRET is shorter than 32 bytes"),
    ],
    ids=["unset", "short"],
)
def test_serve_refuses_to_start_in_production_without_a_strong_secret(
    ecospec: Path, tmp_path: Path, secret: str | None, problem: str
) -> None:
    env = serve_env(tmp_path, **({"ECOSPEC_JWT_SECRET": secret} if secret else {}))
    command = [str(ecospec), "serve", "--project", str(ROOT), "--port", str(free_port())]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"ecospec: refusing to serve in production: {problem}\n"
    assert not (tmp_path / "served.db").exists()


def test_serve_starts_in_production_with_a_strong_secret(ecospec: Path, tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path, ECOSPEC_JWT_SECRET=SECRET)
    command = [str(ecospec), "serve", "--project", str(ROOT), "--port", str(port)]
    log = tmp_path / "serve.log"
    with (
        log.open("w") as output,
        subprocess.Popen(command, env=env, stdout=output, stderr=output) as process,
    ):
        try:
            deadline = time.monotonic() + 90
            while True:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                except httpx.TransportError:
                    time.sleep(0.2)
                    continue
                assert health.json()["status"] == "ok"
                break
            page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"accept": "text/html"})
            assert page.status_code == 404
        finally:
            process.terminate()
            process.wait(timeout=30)


def with_jwt(**settings: Any) -> Spec:
    spec = demo_spec()
    jwt_settings = spec.auth.jwt.model_copy(update=settings)
    return spec.model_copy(update={"auth": spec.auth.model_copy(update={"jwt": jwt_settings})})


def test_what_counts_as_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECOSPEC_JWT_SECRET", raising=False)
    monkeypatch.delenv("ECOSPEC_TEST_KEY", raising=False)
    spec = demo_spec()
    assert weak_secret_problem(spec) == "$ECOSPEC_JWT_SECRET is not set"
    monkeypatch.setenv("ECOSPEC_JWT_SECRET", "x" * 31)
    assert weak_secret_problem(spec) == "$ECOSPEC_JWT_SECRET is shorter than 32 bytes"
    monkeypatch.setenv("ECOSPEC_JWT_SECRET", "é" * 16)  # 32 bytes, 16 characters
    assert weak_secret_problem(spec) is None
    assert weak_secret_problem(with_jwt(algorithm="RS256")) == (
        "RS256 needs auth.jwt.jwks_url or auth.jwt.public_key_env "
        "(the environment variable holding the public key)"
    )
    rs256 = with_jwt(algorithm="RS256", public_key_env="ECOSPEC_TEST_KEY")
    assert weak_secret_problem(rs256) == (
        "RS256 needs auth.jwt.jwks_url or a public key in $ECOSPEC_TEST_KEY"
    )
    monkeypatch.setenv("ECOSPEC_TEST_KEY", "-----BEGIN PUBLIC KEY-----")
    assert weak_secret_problem(rs256) is None
    assert (
        weak_secret_problem(with_jwt(algorithm="ES256", jwks_url="https://sso.test/jwks")) is None
    )
