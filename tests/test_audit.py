"""The audit log: every mutation records who (role, user id or API key id), what (entity, record
id, operation, changed fields with old and new values) and when, in the transaction of the write —
a refused or rolled-back mutation leaves no entry — and only roles with `audit: true` read it;
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from dbs import (
    DEMO_RECORDS,
    Api,
    SeededDemo,
    api_on,
    copy_sqlite,
    demo_spec,
    resolve,
    sqlite_path,
    sqlite_url,
)
from sqlalchemy import func, select
from test_auth import SECRET, Served

from ecospec.generator.access import Access
from ecospec.runtime.credentials import create_key
from ecospec.runtime.database import sync_engine
from ecospec.runtime.system import audit
from ecospec.runtime.types import Session

pytest_plugins = ["dbs"]

SPEC = demo_spec()
ENTRY = "at role userId keyId entity recordId operation changes"


@pytest.fixture(scope="module")
def database(
    backend: str,
    seeded_demo: SeededDemo,
    shared_scratch: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    if shared_scratch is not None:
        return shared_scratch
    copy = tmp_path_factory.mktemp("audit") / "demo.db"
    copy_sqlite(sqlite_path(seeded_demo.url), copy)
    return sqlite_url(copy)


@pytest.fixture(scope="module")
def api(database: str) -> Iterator[Api]:
    with api_on(database) as found:
        yield found


def ask(
    api: Api, session: Session, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    service = api.eco.service(session.role)
    body = api.runner.run(service.respond(query, variables, None, session))
    found: dict[str, Any] = json.loads(body)
    return found


def entries(api: Api) -> int:
    async def count() -> int:
        async with api.eco.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(audit)) or 0)

    return api.runner.run(count())


def log_of(api: Api, entity: str, record: str) -> list[dict[str, Any]]:
    """The audit entries of one record, newest first, as the admin role reads them."""
    found = ask(
        api,
        Session("admin", {"id": "root"}),
        f'{{ auditLog(entity: "{entity}", recordId: "{record}") {{ {ENTRY} }} }}',
    )
    assert "errors" not in found, found
    log: list[dict[str, Any]] = found["data"]["auditLog"]
    return log


def manager_of(api: Api) -> str:
    leads = api.data("{ leads { manager { id position } } }")["leads"]
    return str(
        next(
            r["manager"]["id"]
            for r in leads
            if r["manager"] and r["manager"]["position"] == "manager"
        )
    )


def test_a_create_an_update_and_a_delete_are_recorded_with_who_and_what(api: Api) -> None:
    manager = manager_of(api)
    as_manager = Session("manager", {"id": manager})
    before = dt.datetime.now(dt.UTC)
    made = ask(
        api,
        as_manager,
        'mutation { createLead(input: {name: "Звонок", phone: "+7 900 300-00-00", source: phone}) '
        "{ id } }",
    )
    record = made["data"]["createLead"]["id"]
    changed = ask(
        api,
        as_manager,
        f'mutation {{ updateLead(id: "{record}", input: {{status: qualified, note: "Перезвонить"}}) {{ id }} }}',
    )
    assert "errors" not in changed, changed
    removed = ask(
        api, Session("admin", {"id": "root"}), f'mutation {{ deleteLead(id: "{record}") {{ id }} }}'
    )
    assert "errors" not in removed, removed
    after = dt.datetime.now(dt.UTC)

    deleted, updated, created = log_of(api, "Lead", record)
    assert {k: v for k, v in created.items() if k not in ("at", "changes")} == {
        "role": "manager",
        "userId": manager,
        "keyId": None,
        "entity": "Lead",
        "recordId": record,
        "operation": "create",
    }
    # the presets are among the changes: the manager the lead was given to, its status
    assert created["changes"] == {
        "name": [None, "Звонок"],
        "phone": [None, "+7 900 300-00-00"],
        "source": [None, "phone"],
        "status": [None, "in_progress"],
        "manager": [None, int(manager)],
    }
    assert (updated["operation"], updated["role"], updated["userId"]) == (
        "update",
        "manager",
        manager,
    )
    assert updated["changes"] == {
        "status": ["in_progress", "qualified"],
        "note": [None, "Перезвонить"],
    }
    assert (deleted["operation"], deleted["role"], deleted["userId"]) == ("delete", "admin", "root")
    assert deleted["changes"] == {
        "name": ["Звонок", None],
        "phone": ["+7 900 300-00-00", None],
        "source": ["phone", None],
        "status": ["qualified", None],
        "manager": [int(manager), None],
        "note": ["Перезвонить", None],
    }
    moments = [dt.datetime.fromisoformat(e["at"]) for e in (created, updated, deleted)]
    assert before <= moments[0] <= moments[1] <= moments[2] <= after


def test_a_write_with_an_api_key_records_the_key(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOSPEC_JWT_SECRET", SECRET)
    engine = sync_engine(resolve(database))
    try:
        key = create_key(engine, SPEC, "partner", {"partner_id": "5"}, "audit test")
    finally:
        engine.dispose()
    key_id = key.split("_")[1]
    app = Served(database)
    try:
        response = app.post(
            'mutation { createLead(input: {name: "От агентства", email: "client@example.com"}) { id } }',
            headers={"x-api-key": key},
        )
        record = response.json()["data"]["createLead"]["id"]
        log = app.full(f'{{ auditLog(entity: "Lead", recordId: "{record}") {{ {ENTRY} }} }}')[
            "auditLog"
        ]
    finally:
        app.close()
    [created] = log
    assert (created["role"], created["userId"], created["keyId"]) == ("partner", None, key_id)
    assert created["changes"]["partner"] == [None, 5]
    assert created["changes"]["source"] == [None, "partner"]


def test_a_refused_write_leaves_no_entry(api: Api) -> None:
    """The check runs after the INSERT, in the write's transaction: the refused record and its
    audit entry are rolled back together."""
    manager = manager_of(api)
    before, leads = entries(api), api.count("leads")
    refused = ask(
        api,
        Session("manager", {"id": manager}),
        'mutation { createLead(input: {name: "С сайта", phone: "+7 900 300-00-01", source: landing}) { id } }',
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (entries(api), api.count("leads")) == (before, leads)


def test_a_request_whose_second_mutation_fails_leaves_no_entry_of_the_first(api: Api) -> None:
    manager = manager_of(api)
    theirs = next(
        r["id"]
        for r in api.data("{ leads { id manager { id } } }")["leads"]
        if r["manager"] and r["manager"]["id"] != manager
    )
    before, leads = entries(api), api.count("leads")
    found = ask(
        api,
        Session("manager", {"id": manager}),
        'mutation { a: createLead(input: {name: "Первая", phone: "+7 900 300-00-02", source: phone}) { id } '
        f'b: updateLead(id: "{theirs}", input: {{status: lost}}) {{ id }} }}',
    )
    assert found["data"] is None
    assert [e["extensions"]["code"] for e in found["errors"]] == ["NOT_FOUND"]
    assert (entries(api), api.count("leads")) == (before, leads)


@pytest.mark.parametrize("role", list(SPEC.roles))
def test_only_audit_roles_read_the_audit_log(api: Api, role: str) -> None:
    query = "{ auditLog(limit: 3) { id role entity operation } }"
    found = ask(api, Session(role, {"id": "1", "customer_id": "1", "partner_id": "1"}), query)
    if Access.of(SPEC, role).audit:
        assert "errors" not in found, found
        assert len(found["data"]["auditLog"]) == 3
    else:
        assert [e["message"] for e in found["errors"]] == [
            "Cannot query field 'auditLog' on type 'Query'."
        ]
        deliveries = ask(api, Session(role), "{ webhookDeliveries { id } }")
        assert deliveries["errors"][0]["message"] == (
            "Cannot query field 'webhookDeliveries' on type 'Query'."
        )
        redelivery = ask(api, Session(role), 'mutation { redeliverWebhook(id: "1") { id } }')
        assert redelivery["errors"][0]["message"] == (
            "Cannot query field 'redeliverWebhook' on type 'Mutation'."
        )


def test_only_the_admin_may_read_the_audit_log_in_the_demo() -> None:
    assert [r for r in SPEC.roles if Access.of(SPEC, r).audit] == ["admin"]


def test_the_seed_is_recorded_as_written_by_no_role(seeded_demo: SeededDemo) -> None:
    with api_on(seeded_demo.url) as api:
        found = api.data(f"{{ auditLog(limit: 1000) {{ {ENTRY} }} }}")["auditLog"]
    creates = [e for e in found if e["operation"] == "create"]
    assert len(creates) == DEMO_RECORDS
    assert {(e["role"], e["userId"], e["keyId"]) for e in creates} == {(None, None, None)}
