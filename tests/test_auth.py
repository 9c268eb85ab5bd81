"""Who is asking, over HTTP (the app in process, through httpx): anonymous requests, HS256, RS256,
ES256 and JWKS bearer tokens, several roles and the X-Ecospec-Role header, API keys (created,
listed, revoked), and `ecospec token` — on SQLite and PostgreSQL. Credentials that do not hold
are refused with 401 or 403, never downgraded to the anonymous role."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from dbs import ROOT, SeededDemo, copy_sqlite, demo_spec, resolve, sqlite_path, sqlite_url
from sqlalchemy import select
from sqlalchemy.pool import QueuePool

from ecospec.cli import main
from ecospec.generator.errors import EcospecError, UsageError
from ecospec.generator.model import Spec
from ecospec.runtime.app import create_app
from ecospec.runtime.credentials import create_key, list_keys, mint_token, revoke_key
from ecospec.runtime.database import sync_engine
from ecospec.runtime.ecosystem import Ecosystem
from ecospec.runtime.system import api_keys

pytest_plugins = ["dbs"]

SECRET = "a test secret of at least thirty-two bytes, for HS256"
LEADS = "{ leads { id } }"


class Served:
    """The demo's app in process (lifespan included) on a loop of its own, reached through httpx
    over ASGI; `spec` replaces the demo's (another auth setting)."""

    def __init__(self, url: str, spec: Spec | None = None, *, production: bool = False) -> None:
        self.runner = asyncio.Runner()
        self.eco = Ecosystem.build(ROOT, spec or demo_spec(), resolve(url), production=production)
        self.stack = contextlib.AsyncExitStack()
        self.http = self.runner.run(self._start(production))

    async def _start(self, production: bool) -> httpx.AsyncClient:
        app = create_app(ROOT, ecosystem=self.eco, production=production, bus=False)
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return await self.stack.enter_async_context(client)

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = {"query": query, "variables": variables or {}}
        response = self.runner.run(self.http.post("/graphql", json=body, headers=headers or {}))
        self.settle()
        return response

    def settle(self) -> None:
        """Let the app's background work (the subscriptions' event feed) finish what it is
        doing: the loop only runs during requests, and a feed paused in the middle of a read
        would hold its SQLite transaction open while the commands under test write."""
        pool = self.eco.engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        while pool.checkedout():
            self.runner.run(asyncio.sleep(0.005))

    def data(self, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.post(query, headers=headers)
        assert response.status_code == 200, response.text
        found = response.json()
        assert "errors" not in found, found
        data: dict[str, Any] = found["data"]
        return data

    def full(self, query: str) -> dict[str, Any]:
        """The answer with full access (the truth the roles' answers are compared with)."""
        result = self.runner.run(self.eco.graphql.run(query))
        assert not result.errors, result.errors
        assert result.data is not None
        return result.data

    def close(self) -> None:
        try:
            self.runner.run(self.stack.aclose())
            self.runner.run(self.eco.close())
        finally:
            self.runner.close()


@contextlib.contextmanager
def served(url: str, spec: Spec | None = None) -> Iterator[Served]:
    app = Served(url, spec)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def database(
    backend: str,
    seeded_demo: SeededDemo,
    shared_scratch: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A seeded demo this module may write to (API keys)."""
    if shared_scratch is not None:
        return shared_scratch
    copy = tmp_path_factory.mktemp("auth") / "demo.db"
    copy_sqlite(sqlite_path(seeded_demo.url), copy)
    return sqlite_url(copy)


@pytest.fixture(scope="module")
def app(database: str) -> Iterator[Served]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ECOSPEC_JWT_SECRET", SECRET)
        env.delenv("ECOSPEC_ENV", raising=False)
        with served(database) as found:
            yield found


@pytest.fixture(scope="module")
def truth(app: Served) -> dict[str, Any]:
    """The leads and customers as they are, read with full access."""
    return app.full(
        "{ leads { id manager { id } partner { id } customer { id } } "
        "customers { id manager { id } } employees { id position } apartments { status } }"
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def sign(
    claims: dict[str, Any], key: Any = SECRET, algorithm: str = "HS256", **options: Any
) -> str:
    payload = {"exp": int(time.time()) + 300, **claims}
    return jwt.encode(payload, key, algorithm=algorithm, **options)


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return sorted((r["id"] for r in rows), key=int)


def leads_of(truth: dict[str, Any], field: str, value: str) -> list[str]:
    return ids([r for r in truth["leads"] if (r[field] or {}).get("id") == value])


def refused(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["errors"][0]
    assert error["message"].startswith(message), error
    assert error["extensions"]["code"] == ("UNAUTHENTICATED" if status == 401 else "FORBIDDEN")
    assert "data" not in response.json()


def managers(truth: dict[str, Any]) -> list[str]:
    return ids([e for e in truth["employees"] if e["position"] == "manager"])


# -- no credentials ----------------------------------------------------------------------------------


def test_without_credentials_a_request_runs_as_the_anonymous_role(
    app: Served, truth: dict[str, Any]
) -> None:
    statuses = [a["status"] for a in app.data("{ apartments { status } }")["apartments"]]
    assert "sold" not in statuses
    assert 0 < len(statuses) < len(truth["apartments"])
    response = app.post(LEADS)
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Cannot query field 'leads' on type 'Query'."


def test_mutations_need_post(app: Served) -> None:
    """A link or an image cannot write: GET runs queries only."""
    before = app.full("{ leadsAggregate { count } }")
    mutation = 'mutation { createLead(input: {name: "GET", phone: "+7 900 400-00-00"}) { id } }'
    response = app.runner.run(app.http.get("/graphql", params={"query": mutation}))
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert app.full("{ leadsAggregate { count } }") == before


# -- HS256 tokens ----------------------------------------------------------------------------------


def test_a_minted_token_runs_as_its_role_with_its_user_variables(
    app: Served, truth: dict[str, Any]
) -> None:
    spec = demo_spec()
    for manager in managers(truth)[:2]:
        token = mint_token(spec, "manager", {"id": manager}, 300, False)
        assert ids(app.data(LEADS, bearer(token))["leads"]) == leads_of(truth, "manager", manager)
        customers = [c for c in truth["customers"] if (c["manager"] or {}).get("id") == manager]
        got = app.data("{ customers { id } }", bearer(token))["customers"]
        assert ids(got) == ids(customers)
    partner = next(r["partner"]["id"] for r in truth["leads"] if r["partner"])
    token = mint_token(spec, "partner", {"partner_id": partner}, 300, False)
    assert ids(app.data(LEADS, bearer(token))["leads"]) == leads_of(truth, "partner", partner)
    customer = next(r["customer"]["id"] for r in truth["leads"] if r["customer"])
    token = mint_token(spec, "customer", {"customer_id": customer}, 300, False)
    assert ids(app.data("{ customers { id } }", bearer(token))["customers"]) == [customer]
    assert ids(app.data(LEADS, bearer(token))["leads"]) == leads_of(truth, "customer", customer)


def test_a_token_without_the_user_variable_sees_nothing_of_its_own(app: Served) -> None:
    """A filter naming a variable the token does not carry denies every row."""
    assert app.data(LEADS, bearer(sign({"role": "manager"})))["leads"] == []
    assert app.data(LEADS, bearer(sign({"role": "partner"})))["leads"] == []


def test_an_expired_token_is_refused(app: Served) -> None:
    token = sign({"role": "admin", "sub": "1", "exp": int(time.time()) - 60})
    refused(app.post(LEADS, headers=bearer(token)), 401, "the token has expired")


def test_a_token_with_a_bad_signature_is_refused(app: Served) -> None:
    forged = sign({"role": "admin", "sub": "1"}, key="another secret of thirty-two bytes or more")
    refused(app.post(LEADS, headers=bearer(forged)), 401, "the token is not valid: Signature")
    # a real token whose payload is swapped for one naming another role
    head, _, signature = sign({"role": "public"}).split(".")
    body = base64.urlsafe_b64encode(
        json.dumps({"role": "admin", "exp": int(time.time()) + 300}).encode()
    )
    tampered = f"{head}.{body.decode().rstrip('=')}.{signature}"
    refused(app.post(LEADS, headers=bearer(tampered)), 401, "the token is not valid")


def test_unsigned_malformed_and_exp_less_tokens_are_refused(app: Served) -> None:
    claims = {"role": "admin", "exp": int(time.time()) + 300}
    unsigned = jwt.api_jws.PyJWS().encode(json.dumps(claims).encode(), "", algorithm="none")
    refused(app.post(LEADS, headers=bearer(unsigned)), 401, "the token is not valid")
    refused(app.post(LEADS, headers=bearer("not.a.token")), 401, "the token is not valid")
    without_exp = jwt.encode({"role": "admin"}, SECRET, algorithm="HS256")
    refused(app.post(LEADS, headers=bearer(without_exp)), 401, "the token is not valid")
    refused(
        app.post(LEADS, headers={"authorization": "Basic YWRtaW46YWRtaW4="}),
        401,
        "Authorization: only 'Bearer <token>' is understood",
    )


def test_without_a_configured_secret_tokens_are_refused_not_downgraded(
    app: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECOSPEC_JWT_SECRET")
    token = sign({"role": "admin"})
    refused(app.post(LEADS, headers=bearer(token)), 401, "bearer tokens are not accepted")


def test_a_role_the_token_does_not_allow_or_the_spec_does_not_know_is_403(app: Served) -> None:
    refused(
        app.post(LEADS, headers=bearer(sign({"role": "root"}))),
        403,
        "the token's role 'root' is not a role of this ecosystem",
    )
    refused(app.post(LEADS, headers=bearer(sign({"sub": "1"}))), 403, "the token names no role")
    manager = {**bearer(sign({"role": "manager", "sub": "1"})), "x-ecospec-role": "admin"}
    refused(app.post(LEADS, headers=manager), 403, "x-ecospec-role: the token does not allow")
    refused(
        app.post(LEADS, headers={"x-ecospec-role": "admin"}),
        403,
        "x-ecospec-role: a request without credentials runs as 'public'",
    )


def test_the_role_header_picks_one_of_the_roles_claim(app: Served, truth: dict[str, Any]) -> None:
    manager = managers(truth)[0]
    token = sign({"roles": ["manager", "supervisor"], "sub": manager})
    as_supervisor = {**bearer(token), "x-ecospec-role": "supervisor"}
    found = app.data("{ leads { id } leadsAggregate { count } }", as_supervisor)
    assert found["leadsAggregate"]["count"] == len(truth["leads"]) == len(found["leads"])
    as_manager = {**bearer(token), "x-ecospec-role": "manager"}
    found = app.data("{ leads { id } leadsAggregate { count } }", as_manager)
    assert ids(found["leads"]) == leads_of(truth, "manager", manager)
    assert found["leadsAggregate"]["count"] == len(found["leads"]) < len(truth["leads"])
    # without the header, the first role of the claim
    assert ids(app.data(LEADS, bearer(token))["leads"]) == leads_of(truth, "manager", manager)
    refused(
        app.post(LEADS, headers={**bearer(token), "x-ecospec-role": "admin"}),
        403,
        "x-ecospec-role: the token does not allow the role 'admin'",
    )


# -- public keys: RS256, ES256, JWKS -----------------------------------------------------------------


def with_jwt(**settings: Any) -> Spec:
    spec = demo_spec()
    jwt_settings = spec.auth.jwt.model_copy(update=settings)
    return spec.model_copy(update={"auth": spec.auth.model_copy(update={"jwt": jwt_settings})})


def private_key(algorithm: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_public_key_from_the_environment_checks_tokens(
    algorithm: str, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, stranger = private_key(algorithm), private_key(algorithm)
    monkeypatch.setenv("ECOSPEC_TEST_PUBLIC_KEY", public_pem(key))
    monkeypatch.setenv("ECOSPEC_JWT_SECRET", SECRET)
    spec = with_jwt(algorithm=algorithm, public_key_env="ECOSPEC_TEST_PUBLIC_KEY")
    with served(database, spec) as app:
        truth = app.full("{ leads { id manager { id } } }")
        manager = next(r["manager"]["id"] for r in truth["leads"] if r["manager"])
        good = sign({"role": "manager", "sub": manager}, key, algorithm)
        assert ids(app.data(LEADS, bearer(good))["leads"]) == leads_of(truth, "manager", manager)
        forged = sign({"role": "admin"}, stranger, algorithm)
        refused(app.post(LEADS, headers=bearer(forged)), 401, "the token is not valid")
        # the HS256 secret, or the public key used as an HMAC secret, signs nothing here
        refused(
            app.post(LEADS, headers=bearer(sign({"role": "admin"}))), 401, "the token is not valid"
        )
        confused = hs256_with(public_pem(key), {"role": "admin", "exp": int(time.time()) + 300})
        refused(app.post(LEADS, headers=bearer(confused)), 401, "the token is not valid")
    monkeypatch.delenv("ECOSPEC_TEST_PUBLIC_KEY")
    with served(database, spec) as app:
        token = sign({"role": "admin"}, key, algorithm)
        refused(app.post(LEADS, headers=bearer(token)), 401, "bearer tokens are not accepted")


def hs256_with(secret: str, claims: dict[str, Any]) -> str:
    """An HS256 token signed by hand (PyJWT refuses a PEM key as an HMAC secret): the classic
    algorithm-confusion forgery against a server holding a public key."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signed = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{part(signature)}"


class _Keys(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_a_jwks_url_checks_tokens_of_an_external_provider(database: str) -> None:
    key, stranger = private_key("RS256"), private_key("RS256")
    assert isinstance(key, rsa.RSAPrivateKey)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "sso-1", "use": "sig", "alg": "RS256"})
    handler = type("Keys", (_Keys,), {"body": json.dumps({"keys": [jwk]}).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        spec = with_jwt(
            algorithm="RS256", jwks_url=url, audience="ecospec", issuer="https://sso.test"
        )
        with served(database, spec) as app:
            claims = {"role": "admin", "aud": "ecospec", "iss": "https://sso.test"}
            good = sign(claims, key, "RS256", headers={"kid": "sso-1"})
            assert app.data("{ complexesAggregate { count } }", bearer(good))
            forged = sign(claims, stranger, "RS256", headers={"kid": "sso-1"})
            refused(app.post(LEADS, headers=bearer(forged)), 401, "the token is not valid")
            unknown_kid = sign(claims, key, "RS256", headers={"kid": "sso-2"})
            refused(app.post(LEADS, headers=bearer(unknown_kid)), 401, "the token is not valid")
            other_audience = sign(
                {**claims, "aud": "another"}, key, "RS256", headers={"kid": "sso-1"}
            )
            refused(app.post(LEADS, headers=bearer(other_audience)), 401, "the token is not valid")
            other_issuer = sign(
                {**claims, "iss": "https://evil.test"}, key, "RS256", headers={"kid": "sso-1"}
            )
            refused(app.post(LEADS, headers=bearer(other_issuer)), 401, "the token is not valid")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- API keys --------------------------------------------------------------------------------------


def test_an_api_key_works_until_it_is_revoked(
    app: Served, truth: dict[str, Any], database: str
) -> None:
    spec = demo_spec()
    partner = next(r["partner"]["id"] for r in truth["leads"] if r["partner"])
    engine = sync_engine(resolve(database))
    try:
        key = create_key(engine, spec, "partner", {"partner_id": partner}, "Агентство")
        prefix, key_id, secret = key.split("_")
        assert prefix == "ek"
        own = leads_of(truth, "partner", partner)
        assert ids(app.data(LEADS, {"x-api-key": key})["leads"]) == own
        assert ids(app.data(LEADS, bearer(key))["leads"]) == own
        assert ids(app.data(LEADS, {"x-api-key": key, "x-ecospec-role": "partner"})["leads"]) == own
        refused(
            app.post(LEADS, headers={"x-api-key": key, "x-ecospec-role": "admin"}),
            403,
            "x-ecospec-role: this API key is for the role 'partner'",
        )
        for wrong in (
            f"ek_{key_id}_{secret[:-1]}x",
            f"ek_{uuid.uuid4().hex[:12]}_{secret}",
            "ek_x",
        ):
            refused(app.post(LEADS, headers={"x-api-key": wrong}), 401, "the API key is not valid")

        # only the hash is stored, and listing never shows the secret
        with engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().one()
        assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        assert not any(secret in str(value) for value in row.values())
        listed = [k for k in list_keys(engine) if k.id == key_id]
        assert [(k.role, k.claims, k.name) for k in listed] == [
            ("partner", {"partner_id": partner}, "Агентство")
        ]
        assert secret not in repr(listed) and listed[0].last_used_at is not None

        revoke_key(engine, key_id)
        refused(app.post(LEADS, headers={"x-api-key": key}), 401, "the API key is not valid")
        refused(app.post(LEADS, headers=bearer(key)), 401, "the API key is not valid")
        with pytest.raises(EcospecError, match=f"no active API key '{key_id}'"):
            revoke_key(engine, key_id)
    finally:
        engine.dispose()


def test_apikey_commands_print_the_key_once_and_never_list_it(
    app: Served,
    truth: dict[str, Any],
    database: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECOSPEC_DATABASE_URL", database)
    partner = next(r["partner"]["id"] for r in truth["leads"] if r["partner"])
    project = str(ROOT)
    args = ["--project", project, "--role", "partner", "--claim", f"partner_id={partner}"]
    assert main(["apikey", "create", *args, "--name", "CLI"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("ek_") and "only its hash is stored" in err
    _, key_id, secret = key.split("_")
    assert ids(app.data(LEADS, {"x-api-key": key})["leads"]) == leads_of(truth, "partner", partner)
    assert main(["apikey", "list", "--project", project]) == 0
    out, _ = capsys.readouterr()
    line = next(line for line in out.splitlines() if line.startswith(key_id))
    assert "partner" in line and f"partner_id={partner}" in line and "active" in line
    assert secret not in out
    assert main(["apikey", "revoke", key_id, "--project", project]) == 0
    assert capsys.readouterr().out == f"revoked {key_id}\n"
    refused(app.post(LEADS, headers={"x-api-key": key}), 401, "the API key is not valid")
    assert main(["apikey", "create", "--project", project, "--role", "root"]) == 2
    assert "unknown role 'root'" in capsys.readouterr().err


# -- reads and SQLite's write lock -----------------------------------------------------------------


def test_reads_go_on_while_a_write_holds_the_sqlite_lock(app: Served, database: str) -> None:
    """Reads never take SQLite's write lock: while another connection holds it (a long write),
    the health check, queries, the audit log and the look-up of an API key are still answered,
    not kept waiting and then failed as 'database is locked'."""
    if resolve(database).get_backend_name() != "sqlite":
        pytest.skip("the write lock is SQLite's")
    engine = sync_engine(resolve(database))
    try:
        key = create_key(engine, demo_spec(), "partner", {}, "read while locked")
    finally:
        engine.dispose()
    _, key_id, secret = key.split("_")
    writer = sqlite3.connect(sqlite_path(database), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        health = app.runner.run(app.http.get("/healthz"))
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        assert app.data("{ complexes(limit: 1) { name } }")["complexes"]
        admin = bearer(sign({"role": "admin", "sub": "1"}))
        found = app.data("{ auditLog(limit: 1) { id } webhookDeliveries(limit: 1) { id } }", admin)
        assert set(found) == {"auditLog", "webhookDeliveries"}
        wrong = f"ek_{key_id}_{secret[:-1]}x"  # told apart by reading the key alone
        refused(app.post(LEADS, headers={"x-api-key": wrong}), 401, "the API key is not valid")
    finally:
        writer.execute("ROLLBACK")
        writer.close()


# -- ecospec token -----------------------------------------------------------------------------------


def test_ecospec_token_mints_a_short_lived_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOSPEC_JWT_SECRET", SECRET)
    monkeypatch.delenv("ECOSPEC_ENV", raising=False)
    command = ["token", "--project", str(ROOT), "--role", "manager", "--claim", "id=3"]
    assert main([*command, "--ttl", "120"]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"])
    assert (claims["role"], claims["sub"], claims["exp"] - claims["iat"]) == ("manager", "3", 120)


def test_ecospec_token_refuses_to_run_in_production(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOSPEC_JWT_SECRET", SECRET)
    monkeypatch.setenv("ECOSPEC_ENV", "production")
    assert main(["token", "--project", str(ROOT), "--role", "admin"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "ecospec: token mints development tokens and refuses to run with ECOSPEC_ENV=production\n"
    )
    with pytest.raises(UsageError):
        mint_token(demo_spec(), "admin", {}, 60, True)
