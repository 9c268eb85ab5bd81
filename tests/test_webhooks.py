"""Webhooks over real HTTP on loopback: a receiver in a thread of the test process, `ecospec serve`
in a subprocess delivering to it, on SQLite and PostgreSQL. The receiver refuses (HTTP 500), goes
away (connection refused), comes back; every event then arrives once, in order per record, signed,
with the same Idempotency-Key on every attempt. After a short schedule a delivery is dead, and an
admin reads it and sends it again over GraphQL.

The helpers here (the receiver, the project with its webhooks, processes, waiting) are shared with
test_worker.py."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import ecospec_executable
from dbs import ROOT, Api, api_on, new_database, resolve
from sqlalchemy import select

from ecospec.generator.loader import load_spec
from ecospec.runtime.bus import DatabaseBus, Dispatcher
from ecospec.runtime.capabilities.webhooks import (
    SIGNATURE_HEADER,
    WebhookSubscriber,
    attempts,
    sign,
    verify,
)
from ecospec.runtime.migrate import migrate
from ecospec.runtime.system import deliveries

pytest_plugins = ["dbs"]

HOOK_SECRET = "whsec_test_5b1f0c2e9d8a4b7c"
HOOK_SECRET_ENV = "ECOSPEC_TEST_HOOK_SECRET"
JWT_SECRET = "a test secret that is long enough for HS256 signing"
# Waits between attempts, long enough in total (about 15 s) for a test to take the receiver down
# and bring it back, short enough that every wait is over in a moment.
PATIENT = "[100ms, 200ms, 300ms, 400ms, 500ms, 1s, 1s, 2s, 2s, 2s, 3s]"


# -- waiting ---------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until `condition()` is truthy and return its value; fail naming `what` after `timeout`.
    The deadline is for liveness only: a slow machine passes, a stuck bus fails."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- a webhook receiver on loopback ----------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One request the receiver took, and the status it answered (or would have answered)."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]

    @property
    def event(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass
class Receiver:
    """A tiny HTTP server in a thread: records every POST, answers `status`; `hold()` makes
    requests hang until `release()`; `stop()` closes the socket (connection refused) and `start()`
    opens it again on the same port. HTTP/1.0: one connection per request, so a stopped receiver
    is really gone."""

    port: int = field(default_factory=free_port)
    status: int = 200
    hits: list[Hit] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.released.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.status
                hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
                with receiver.lock:
                    receiver.hits.append(hit)
                receiver.released.wait(120)
                with contextlib.suppress(OSError):  # the sender may be gone (killed, timed out)
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # a backlog as a real receiver's: several workers connect at once (the default 5 is
            # overrun when the machine is busy, and a connection turned away is an attempt lost)
            request_queue_size = 128

        server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self.server = server
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)

    def of(self, event_id: int) -> list[Hit]:
        """Every request that carried this event, in arrival order."""
        return [h for h in self.snapshot() if h.key == str(event_id)]


@contextlib.contextmanager
def receiving(status: int = 200) -> Iterator[Receiver]:
    receiver = Receiver(status=status).start()
    try:
        yield receiver
    finally:
        receiver.release()
        receiver.stop()


# -- a project with webhooks -----------------------------------------------------------------------


def hooks_files(
    crm: str, archive: str, *, schedule: str = PATIENT, timeout_ms: int = 3000
) -> dict[str, str]:
    """Leads go to `crm` (create, update, delete); notes to `archive` (create), which gives up
    after two retries."""
    files = {
        "spec/ecosystem.yaml": """\
            ecosystem: hooks
            title: Hooks
            auth:
              anonymous_role: public
              jwt: {claims: {id: sub}}
        """,
        "spec/roles.yaml": """\
            roles:
              public:
                description: Anyone without credentials; may do nothing.
              manager:
                Lead: {read: true, create: true, update: true}
              admin:
                audit: true
                Lead: {read: true, create: true, update: true, delete: true}
                Note: {read: true, create: true, update: true, delete: true}
        """,
        "spec/entities/crm.yaml": """\
            entities:
              Lead:
                fields:
                  name: {type: string, required: true, max_length: 120}
                  status: {type: enum, values: [new, in_progress, won, lost], default: new}
                  phone: {type: phone}
              Note:
                fields:
                  text: {type: text, required: true}
        """,
        "spec/webhooks.yaml": f"""\
            webhooks:
              crm:
                url: {crm}
                secret_env: {HOOK_SECRET_ENV}
                events: {{Lead: [create, update, delete]}}
                timeout_ms: {timeout_ms}
                schedule: {schedule}
              archive:
                url: {archive}
                secret_env: {HOOK_SECRET_ENV}
                events: {{Note: [create]}}
                timeout_ms: {timeout_ms}
                schedule: [100ms, 200ms]
        """,
    }
    return {path: textwrap.dedent(text) for path, text in files.items()}


def write_hooks_project(folder: Path, crm: str, archive: str, **options: Any) -> Path:
    for rel, text in hooks_files(crm, archive, **options).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def migrated(project: Path, url: str) -> None:
    """The project's tables in an empty database."""
    migrate(load_spec(project), resolve(url))


# -- processes ---------------------------------------------------------------------------------------


def process_env(database: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ECOSPEC_DATABASE_URL": database,
        "ECOSPEC_JWT_SECRET": JWT_SECRET,
        HOOK_SECRET_ENV: HOOK_SECRET,
    }
    env.pop("ECOSPEC_ENV", None)
    return env


@dataclass
class Process:
    """A command of ours running in a subprocess, its output in files."""

    popen: subprocess.Popen[bytes]
    command: list[str]
    out: Path
    err: Path

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            pytest.fail(
                f"{' '.join(self.command)} exited {self.popen.returncode}:\n{self.output()}"
            )

    def kill(self) -> None:
        """kill -9: no clean-up of any kind in the process."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM, as a supervisor stops it; the exit code."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def start(command: list[str], env: dict[str, str], logs: Path) -> Process:
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "out.log").open("wb") as out, (logs / "err.log").open("wb") as err:
        popen = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=ROOT)
    return Process(popen, command, logs / "out.log", logs / "err.log")


def ecospec_command(*args: str) -> list[str]:
    return [str(ecospec_executable()), *args]


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], logs: Path, ready: str) -> Iterator[Process]:
    """A process that has printed `ready`, stopped with SIGTERM at the end."""
    process = start(command, env, logs)
    try:

        def is_ready() -> bool:
            process.check_alive()
            return ready in process.out.read_text()

        wait_for(is_ready, f"{' '.join(command[:2])} to print {ready!r}", timeout=60)
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def serving(project: Path, database: str, logs: Path) -> Iterator[str]:
    """`ecospec serve` (the dispatcher runs in its lifespan) on a free port; its base URL."""
    port = free_port()
    command = ecospec_command("serve", "--project", str(project), "--port", str(port))
    with running(command, process_env(database), logs, "serving ") as process:
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            process.check_alive()
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, "ecospec serve to answer /healthz", timeout=60)
        yield base


# -- GraphQL over HTTP -------------------------------------------------------------------------------


def token(role: str = "admin", sub: str = "1") -> str:
    claims = {"role": role, "sub": sub, "exp": int(time.time()) + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def post_graphql(
    base: str, query: str, variables: dict[str, Any] | None = None, role: str = "admin"
) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"authorization": f"Bearer {token(role)}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def graphql_data(
    base: str, query: str, variables: dict[str, Any] | None = None, role: str = "admin"
) -> dict[str, Any]:
    """The answer's data; the test fails on any error."""
    answer = post_graphql(base, query, variables, role)
    if answer.get("errors"):
        pytest.fail(f"unexpected errors: {answer['errors']}")
    data: dict[str, Any] = answer["data"]
    return data


DELIVERIES = """
query($webhook: String, $status: DeliveryStatus) {
  webhookDeliveries(webhook: $webhook, status: $status, limit: 100) {
    id webhook status attempts nextAttemptAt lastError
    event { id entity recordId operation changes role userId }
    log { at statusCode latencyMs error }
  }
}
"""


@dataclass
class Served:
    base: str
    crm: Receiver
    archive: Receiver

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql_data(self.base, query, variables)

    def event_ids(self, entity: str, record_id: str) -> list[int]:
        """A record's events, oldest first, from the audit log."""
        data = self.data(
            "query($e: String!, $r: ID!) { auditLog(entity: $e, recordId: $r) { id } }",
            {"e": entity, "r": record_id},
        )
        return sorted(int(e["id"]) for e in data["auditLog"])

    def deliveries(self, webhook: str, status: str | None = None) -> dict[int, dict[str, Any]]:
        """The webhook's deliveries by event id."""
        data = self.data(DELIVERIES, {"webhook": webhook, "status": status})
        return {int(d["event"]["id"]): d for d in data["webhookDeliveries"]}


@pytest.fixture(scope="module")
def served(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The hooks project served on each database, with a receiver for each webhook."""
    folder = tmp_path_factory.mktemp("hooks")
    with (
        receiving() as crm,
        receiving() as archive,
        new_database(backend, folder) as database,
    ):
        project = write_hooks_project(folder / "project", f"{crm.url}/crm", f"{archive.url}/in")
        with serving(project, database, folder / "serve") as base:
            yield Served(base, crm, archive)


# -- signatures ------------------------------------------------------------------------------------


def documented_verify() -> Callable[..., bool]:
    """The `verify` a receiver is told to write in docs/bus.md, run as it is printed there."""
    text = (ROOT / "docs" / "bus.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code = next(b for b in blocks if "def verify" in b)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    found: Callable[..., bool] = namespace["verify"]
    return found


def test_a_signature_verifies_with_the_documented_recipe() -> None:
    body = b'{"id":7,"type":"Lead.create"}'
    now = int(time.time())
    header = sign(HOOK_SECRET, now, body)
    assert re.fullmatch(rf"t={now},v1=[0-9a-f]{{64}}", header)
    documented = documented_verify()
    assert documented(HOOK_SECRET, header, body)
    assert verify(HOOK_SECRET, header, body)
    assert not documented(HOOK_SECRET, header, body + b" ")
    assert not verify(HOOK_SECRET, header, body + b" ")
    assert not verify("another secret", header, body)
    assert not verify(HOOK_SECRET, header.replace(f"t={now}", f"t={now + 1}"), body)


def test_old_or_malformed_signatures_do_not_verify() -> None:
    body = b"{}"
    header = sign(HOOK_SECRET, 1_700_000_000, body)
    assert verify(HOOK_SECRET, header, body, at=1_700_000_300)
    assert not verify(HOOK_SECRET, header, body, at=1_700_000_301)  # a replay, five minutes on
    assert not verify(HOOK_SECRET, header, body, at=1_699_999_699)
    for bad in ["", "v1=00", "t=soon,v1=00", "t=1700000000", "garbage"]:
        assert not verify(HOOK_SECRET, bad, body, at=1_700_000_000), bad


# -- through `ecospec serve` -------------------------------------------------------------------------


def test_a_receiver_that_refuses_then_goes_away_gets_every_event_once_back(served: Served) -> None:
    crm = served.crm
    crm.status = 500
    try:
        made = served.data(
            'mutation { a: createLead(input: {name: "Anna"}) { id }'
            ' b: createLead(input: {name: "Boris", phone: "+7 900 000-00-01"}) { id } }'
        )
        a, b = made["a"]["id"], made["b"]["id"]
        for rid, status in [(a, "in_progress"), (b, "lost"), (a, "won")]:
            served.data(
                "mutation($id: ID!, $s: LeadStatus!) { updateLead(id: $id, input: {status: $s}) { id } }",
                {"id": rid, "s": status},
            )
        events = {a: served.event_ids("Lead", a), b: served.event_ids("Lead", b)}
        assert [len(events[a]), len(events[b])] == [3, 2]
        firsts = [events[a][0], events[b][0]]

        # refused twice with HTTP 500 ...
        wait_for(
            lambda: all(len(crm.of(e)) >= 2 for e in firsts),
            "two HTTP 500 answers to each record's first event",
        )
        # ... then the receiver is down: the connection is refused
        crm.stop()

        def refused() -> bool:
            found = served.deliveries("crm")
            return all(
                any((t["error"] or "").startswith("ConnectError") for t in found[e]["log"])
                for e in firsts
            )

        wait_for(refused, "a refused connection in each first event's log")
        pending = served.deliveries("crm", "pending")
        assert set(events[a] + events[b]) <= set(pending)  # nothing lost, nothing given up

        # ... and back: everything arrives
        crm.status = 200
        crm.start()
        every = events[a] + events[b]

        def all_done() -> bool:
            found = served.deliveries("crm")
            return all(found[e]["status"] == "done" for e in every)

        wait_for(all_done, "every delivery to be done once the receiver is back")
    finally:
        crm.status = 200
        if crm.server is None:
            crm.start()

    hits = [h for h in crm.snapshot() if int(h.key) in every]
    for event_id in every:
        mine = crm.of(event_id)
        assert [h.status for h in mine].count(200) == 1, f"event {event_id}: {mine}"
        assert {h.key for h in mine} == {str(event_id)}  # the same key on every attempt
        assert len({h.body for h in mine}) == 1  # the same payload on every attempt
        for hit in mine:
            assert verify(HOOK_SECRET, hit.headers[SIGNATURE_HEADER.lower()], hit.body)
            assert not verify("not the secret", hit.headers[SIGNATURE_HEADER.lower()], hit.body)
            assert hit.path == "/crm"
            assert hit.headers["content-type"] == "application/json"
            assert hit.headers["ecospec-event"] == f"Lead.{hit.event['operation']}"
    for rid in (a, b):
        arrived = [int(h.key) for h in hits if h.event["record_id"] == int(rid)]
        assert arrived == sorted(arrived), f"lead {rid}: events out of order: {arrived}"
        delivered = [
            int(h.key) for h in hits if h.event["record_id"] == int(rid) and h.status == 200
        ]
        assert delivered == events[rid]

    first = crm.of(events[a][0])[-1].event
    assert first == {
        "id": events[a][0],
        "type": "Lead.create",
        "at": first["at"],
        "entity": "Lead",
        "operation": "create",
        "record_id": int(a),
        "changes": {"name": [None, "Anna"], "status": [None, "new"]},
        "actor": {"role": "admin", "user_id": "1", "key_id": None},
    }
    last = crm.of(events[a][2])[-1].event
    assert (last["type"], last["changes"]) == ("Lead.update", {"status": ["in_progress", "won"]})

    found = served.deliveries("crm")
    for event_id in firsts:
        delivery = found[event_id]
        log = delivery["log"]
        codes = [t["statusCode"] for t in log]
        assert codes[:2] == [500, 500] and codes[-1] == 200, codes
        assert any((t["error"] or "").startswith("ConnectError") for t in log), log
        assert delivery["attempts"] == len(log)
        assert (delivery["status"], delivery["lastError"], delivery["nextAttemptAt"]) == (
            "done",
            None,
            None,
        )
        for attempt in log:
            assert isinstance(attempt["latencyMs"], int) and attempt["latencyMs"] >= 0
            if attempt["statusCode"] == 500:
                assert attempt["error"] == "HTTP 500"
            elif attempt["statusCode"] is None:  # refused, or cut off as the receiver went
                assert attempt["error"].startswith(("ConnectError", "ReadError")), attempt
            else:
                assert attempt["error"] is None


def test_after_its_schedule_a_delivery_is_dead_and_an_admin_redelivers_it(served: Served) -> None:
    archive = served.archive
    archive.status = 503
    try:
        note = served.data('mutation { createNote(input: {text: "Call back"}) { id } }')
        (event_id,) = served.event_ids("Note", note["createNote"]["id"])
        dead = wait_for(
            lambda: served.deliveries("archive", "dead").get(event_id),
            "the note's delivery to be dead-lettered",
        )
    finally:
        archive.status = 200
    # schedule [100ms, 200ms]: the first attempt and two retries
    assert dead["attempts"] == 3
    assert [t["statusCode"] for t in dead["log"]] == [503, 503, 503]
    assert [t["error"] for t in dead["log"]] == ["HTTP 503"] * 3
    assert (dead["lastError"], dead["nextAttemptAt"], dead["webhook"]) == (
        "HTTP 503",
        None,
        "archive",
    )
    assert dead["event"] == {
        "id": str(event_id),
        "entity": "Note",
        "recordId": note["createNote"]["id"],
        "operation": "create",
        "changes": {"text": [None, "Call back"]},
        "role": "admin",
        "userId": "1",
    }
    assert [h.status for h in archive.of(event_id)] == [503, 503, 503]
    assert event_id not in served.deliveries("crm")  # notes are not the CRM's

    again = served.data(
        "mutation($id: ID!) { redeliverWebhook(id: $id) { id status } }", {"id": dead["id"]}
    )
    assert again == {"redeliverWebhook": {"id": dead["id"], "status": "pending"}}
    wait_for(
        lambda: served.deliveries("archive", "done").get(event_id),
        "the redelivered note to be done",
    )
    hits = archive.of(event_id)
    assert [h.status for h in hits] == [503, 503, 503, 200]
    assert len({h.body for h in hits}) == 1
    assert all(verify(HOOK_SECRET, h.headers["ecospec-signature"], h.body) for h in hits)


def test_only_roles_with_audit_read_and_redeliver(served: Served) -> None:
    reading = post_graphql(served.base, "{ webhookDeliveries { id } }", role="manager")
    assert [e["message"] for e in reading["errors"]] == [
        "Cannot query field 'webhookDeliveries' on type 'Query'."
    ]
    sending = post_graphql(
        served.base, 'mutation { redeliverWebhook(id: "1") { id } }', role="manager"
    )
    assert [e["message"] for e in sending["errors"]] == [
        "Cannot query field 'redeliverWebhook' on type 'Mutation'."
    ]
    missing = post_graphql(served.base, 'mutation { redeliverWebhook(id: "999999") { id } }')
    assert [(e["message"], e["extensions"]["code"]) for e in missing["errors"]] == [
        ("no webhook delivery with id 999999", "NOT_FOUND")
    ]


# -- one subscriber, in process ------------------------------------------------------------------


@pytest.fixture
def hooks_api(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, Receiver]]:
    """The hooks project on an empty database, its CRM webhook pointed at a receiver, with a
    timeout of 300 ms; the signing secret in the environment."""
    monkeypatch.setenv(HOOK_SECRET_ENV, HOOK_SECRET)
    with receiving() as crm:
        project = write_hooks_project(
            tmp_path / "project", f"{crm.url}/crm", "http://127.0.0.1:9/none", timeout_ms=300
        )
        migrated(project, database)
        with api_on(database, project) as api:
            yield api, crm


def crm_subscriber(api: Api, client: httpx.AsyncClient) -> WebhookSubscriber:
    return WebhookSubscriber("crm", api.eco.spec.webhooks["crm"], api.eco.engine, client)


async def _attempt_once(api: Api) -> None:
    async with httpx.AsyncClient() as client:
        bus = DatabaseBus(api.eco.engine)
        dispatcher = Dispatcher(bus, [crm_subscriber(api, client)])
        assert await dispatcher.run_once() == 1


async def _logged(api: Api) -> list[dict[str, Any]]:
    async with api.eco.engine.connect() as conn:
        rows = (await conn.execute(select(attempts).order_by(attempts.c.id))).mappings().all()
        return [dict(r) for r in rows]


async def _delivery_states(api: Api) -> list[tuple[str, int, str | None]]:
    async with api.eco.engine.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error)
        )
        return [(r.status, r.attempts, r.last_error) for r in rows]


def test_an_attempt_that_times_out_is_logged_and_retried(
    hooks_api: tuple[Api, Receiver],
) -> None:
    api, crm = hooks_api
    crm.hold()
    api.data('mutation { createLead(input: {name: "Slow"}) { id } }')
    api.runner.run(_attempt_once(api))
    crm.release()
    (attempt,) = api.runner.run(_logged(api))
    assert (attempt["status_code"], attempt["error"]) == (None, "ReadTimeout")
    assert attempt["latency_ms"] >= 300  # it waited for the whole timeout
    assert api.runner.run(_delivery_states(api)) == [("pending", 1, "ReadTimeout")]
    assert len(crm.snapshot()) == 1


def test_without_its_secret_nothing_is_sent(
    hooks_api: tuple[Api, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, crm = hooks_api
    monkeypatch.delenv(HOOK_SECRET_ENV, raising=False)
    api.data('mutation { createLead(input: {name: "Unsigned"}) { id } }')
    api.runner.run(_attempt_once(api))
    assert crm.snapshot() == []
    assert api.runner.run(_logged(api)) == []
    assert api.runner.run(_delivery_states(api)) == [
        ("pending", 1, f"${HOOK_SECRET_ENV} is not set: nothing can be signed")
    ]
