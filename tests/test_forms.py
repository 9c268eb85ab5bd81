"""Landing forms over HTTP: POST /forms/<landing>/<block> on the app in process (httpx over ASGI,
lifespan included), on SQLite and PostgreSQL. Each test posts from an address of its own, so the
per-client rate limit of one test never reaches another."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
import pytest
import yaml
from dbs import ROOT, SeededDemo, copy_sqlite, sqlite_path, sqlite_url

from ecospec.generator.blocks import load_blocks
from ecospec.generator.build import SiteBuilder
from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec
from ecospec.runtime.app import create_app
from ecospec.runtime.credentials import mint_token

pytest_plugins = ["dbs"]

SECRET = "a forms-test secret that is long enough for HS256 signing"
OTHER_SITE = "https://promo.north-quarter.example"  # added to site.origins in the test project
STRANGER = "https://leads-for-sale.example"
T = TypeVar("T")

# A landing of the test project's own: a form with a thank-you page and a follow-up touchpoint,
# which none of the demo's landings has.
FORMS_TEST_LANDING = """\
landing: forms-test
title: A form with a thank-you page and a follow-up
path: /forms-test/
seo: {noindex: true}
blocks:
  - lead_form:
      creates: Lead
      fields: [name, phone, email, apartment]
      set: {landing: /forms-test/, utm_campaign: site-form}
      thanks: /spasibo/
      follow_up:
        - creates: Touchpoint
          set:
            lead: "{{ record.id }}"
            channel: site
            direction: inbound
            occurred_at: "2026-11-22T12:00:00+03:00"
            summary: "Заявка с сайта от {{ record.name }}"
"""
# A form that asks only for a name: the role's check (a phone or an e-mail) fails with no field
# of the form to point at.
NAME_ONLY_LANDING = """\
landing: forms-name-only
title: A form with a name only
path: /forms-name-only/
seo: {noindex: true}
blocks:
  - lead_form: {creates: Lead, fields: [name]}
"""
LEAD = "id name phone email source status landing utmSource utmMedium utmCampaign complex { id } apartment { id } manager { id }"


class Runtime:
    """The test project's app, started (lifespan included) on an event loop of its own thread and
    reached through httpx without a socket. Its environment stays set until it is closed."""

    def __init__(self, project: Path, database: str) -> None:
        self.project = project
        self.spec = load_spec(project)
        self.base = self.spec.site.base_url.rstrip("/")
        self.env = pytest.MonkeyPatch()
        self.env.setenv("ECOSPEC_DATABASE_URL", database)
        self.env.setenv("ECOSPEC_JWT_SECRET", SECRET)
        self.env.delenv("ECOSPEC_ENV", raising=False)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = contextlib.AsyncExitStack()
        self.app = create_app(project, production=False, bus=False)
        self.call(self.stack.enter_async_context(self.app.router.lifespan_context(self.app)))

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    def request(self, method: str, path: str, client: str, **options: Any) -> httpx.Response:
        """A request from the address `client` (the rate limit counts per address)."""

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(client, 50123))
            async with httpx.AsyncClient(transport=transport, base_url=self.base) as http:
                return await http.request(method, path, **options)

        return self.call(send())

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        role: str = "admin",
        **claims: str,
    ) -> dict[str, Any]:
        token = mint_token(self.spec, role, dict(claims), 600, False)
        response = self.request(
            "POST",
            "/graphql",
            "192.0.2.1",
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {token}"},
        )
        body = response.json()
        if body.get("errors"):
            pytest.fail(f"GraphQL errors: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    def lead_count(self) -> int:
        return int(self.graphql("{ leadsAggregate { count } }")["leadsAggregate"]["count"])

    def lead_named(self, name: str) -> dict[str, Any] | None:
        data = self.graphql(
            f"query($n: String!) {{ leads(where: {{name: {{eq: $n}}}}) {{ {LEAD} }} }}", {"n": name}
        )
        found: list[dict[str, Any]] = data["leads"]
        assert len(found) <= 1, found
        return found[0] if found else None

    def close(self) -> None:
        try:
            self.call(self.stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()
            self.env.undo()


@pytest.fixture(scope="module")
def forms_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's spec with one more site origin and the landings of the forms above."""
    project = tmp_path_factory.mktemp("forms")
    shutil.copytree(ROOT / "spec", project / "spec")
    settings_file = project / "spec" / "ecosystem.yaml"
    settings = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    settings["site"]["origins"] = [OTHER_SITE]
    settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    (project / "spec" / "landings" / "forms-test.yaml").write_text(
        FORMS_TEST_LANDING, encoding="utf-8"
    )
    (project / "spec" / "landings" / "forms-name-only.yaml").write_text(
        NAME_ONLY_LANDING, encoding="utf-8"
    )
    return project


@pytest.fixture(scope="module")
def forms_database(
    backend: str,
    seeded_demo: SeededDemo,
    shared_scratch: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A seeded demo this module writes to: a copy on SQLite, the shared scratch schema on
    PostgreSQL (so the tests count leads relative to what they find)."""
    if shared_scratch is not None:
        return shared_scratch
    copy = tmp_path_factory.mktemp("forms-db") / "demo.db"
    copy_sqlite(sqlite_path(seeded_demo.url), copy)
    return sqlite_url(copy)


@pytest.fixture(scope="module")
def runtime(forms_project: Path, forms_database: str) -> Iterator[Runtime]:
    served = Runtime(forms_project, forms_database)
    try:
        yield served
    finally:
        served.close()


_addresses = itertools.count(1)


@pytest.fixture
def visitor() -> str:
    """An address no other test posts from."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


@dataclass(frozen=True)
class Form:
    """One landing's lead form on one page, as a browser would post it."""

    action: str
    index: int
    params: dict[str, Any]
    path: str  # the page the form is on
    referer: str  # the page's full address
    item: str  # the hidden _item field: the page's record, or ""

    def fields(self, **values: str) -> dict[str, str]:
        """The form's posted fields: the visible ones given, the hidden ones as the page has them."""
        return {"_item": self.item, "website": "", **values}


def form_of(runtime: Runtime, landing: str, item: dict[str, Any] | None = None) -> Form:
    spec: Spec = runtime.spec
    blocks = spec.landings[landing].blocks
    index = next(i for i, entry in enumerate(blocks) if "lead_form" in entry)
    path = (
        SiteBuilder.page_path(spec.landings[landing], item) if item else spec.landings[landing].path
    )
    block = load_blocks(runtime.project).get("lead_form")
    assert block is not None
    defaults = {k: p.default for k, p in block.spec.params.items() if p.default is not None}
    return Form(
        f"/forms/{landing}/{index}",
        index,
        {**defaults, **(blocks[index]["lead_form"] or {})},
        path,
        runtime.base + path,
        str(item["id"]) if item else "",
    )


@pytest.fixture(scope="module")
def complex_form(runtime: Runtime) -> Form:
    """The lead form of the first complex page."""
    found = runtime.graphql(
        "{ complexes(orderBy: [{name: ASC}], limit: 1) { id slug } }", role="public"
    )
    return form_of(runtime, "complex", found["complexes"][0])


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


# -- a lead that is sent -----------------------------------------------------------------------------


def test_a_post_without_script_stores_the_lead_and_goes_back_to_the_form(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    before = runtime.lead_count()
    name = unique("Анна")
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=name, phone="+7 999 000-00-01"),
        headers={"referer": complex_form.referer},
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"{complex_form.path}?sent=1#b{complex_form.index}-lead_form-sent"
    )
    assert runtime.lead_count() == before + 1
    lead = runtime.lead_named(name)
    assert lead is not None
    assert lead["phone"] == "+7 999 000-00-01"
    assert lead["complex"] == {"id": complex_form.item}
    assert lead["landing"] == complex_form.path
    assert (lead["source"], lead["status"], lead["manager"]) == ("landing", "new", None)


def test_a_script_post_is_answered_with_json(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    name = unique("Борис")
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=name, phone="+7 999 000-00-02"),
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": complex_form.params["success"],
        "redirect": None,
    }
    assert runtime.lead_named(name) is not None


def test_a_form_with_a_thank_you_page_goes_there(runtime: Runtime, visitor: str) -> None:
    form = form_of(runtime, "forms-test")
    plain = runtime.request(
        "POST",
        form.action,
        visitor,
        data=form.fields(name=unique("Вера"), phone="+7 999 000-00-03"),
        headers={"referer": form.referer},
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == "/spasibo/"
    scripted = runtime.request(
        "POST",
        form.action,
        visitor,
        data=form.fields(name=unique("Вера"), phone="+7 999 000-00-04"),
        headers={"referer": form.referer, "accept": "application/json"},
    )
    assert scripted.json()["redirect"] == "/spasibo/"


def test_a_follow_up_touchpoint_lands_with_the_lead(runtime: Runtime, visitor: str) -> None:
    form = form_of(runtime, "forms-test")
    name = unique("Глеб")
    runtime.request(
        "POST",
        form.action,
        visitor,
        data=form.fields(name=name, email="gleb@example.com"),
        headers={"referer": form.referer},
    )
    lead = runtime.lead_named(name)
    assert lead is not None
    assert lead["landing"] == "/forms-test/"
    touchpoints = runtime.graphql(
        "query($id: ID!) { touchpoints(where: {lead: {id: {eq: $id}}}) "
        "{ channel direction summary employee { id } } }",
        {"id": lead["id"]},
    )["touchpoints"]
    assert touchpoints == [
        {
            "channel": "site",
            "direction": "inbound",
            "summary": f"Заявка с сайта от {name}",
            "employee": None,
        }
    ]


def test_a_visitor_sets_only_the_fields_the_form_asks_for(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    name = unique("Дина")
    runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(
            name=name,
            phone="+7 999 000-00-05",
            complex="999",
            manager="1",
            status="won",
            source="walk_in",
            landing="/elsewhere/",
        ),
        headers={"referer": complex_form.referer},
    )
    lead = runtime.lead_named(name)
    assert lead is not None
    assert lead["complex"] == {"id": complex_form.item}
    assert lead["landing"] == complex_form.path
    assert (lead["manager"], lead["status"], lead["source"]) == (None, "new", "landing")


def test_a_manager_reads_the_lead_once_it_is_theirs(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    name = unique("Егор")
    runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=name, phone="+7 999 000-00-06"),
        headers={"referer": complex_form.referer},
    )
    lead = runtime.lead_named(name)
    assert lead is not None
    staff = runtime.graphql("{ employees(orderBy: [{id: ASC}]) { id position active } }")
    managers = [e["id"] for e in staff["employees"] if e["position"] == "manager" and e["active"]]
    supervisor = next(e["id"] for e in staff["employees"] if e["position"] == "supervisor")
    read = "query($id: ID!) { lead(id: $id) { name phone landing complex { id } } }"
    assert runtime.graphql(read, {"id": lead["id"]}, role="manager", id=managers[0]) == {
        "lead": None
    }  # not assigned yet: no manager's own
    runtime.graphql(
        "mutation($id: ID!, $m: ID!) { updateLead(id: $id, input: {manager: $m}) { id } }",
        {"id": lead["id"], "m": managers[0]},
        role="supervisor",
        id=supervisor,
    )
    assert runtime.graphql(read, {"id": lead["id"]}, role="manager", id=managers[0]) == {
        "lead": {
            "name": name,
            "phone": "+7 999 000-00-06",
            "landing": complex_form.path,
            "complex": {"id": complex_form.item},
        }
    }
    assert runtime.graphql(read, {"id": lead["id"]}, role="manager", id=managers[1]) == {
        "lead": None
    }


# -- UTM tags ---------------------------------------------------------------------------------------


def test_utm_tags_come_from_the_hidden_fields(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    name = unique("Жанна")
    runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(
            name=name,
            phone="+7 999 000-00-07",
            utm_source="yandex",
            utm_medium="cpc",
            utm_campaign="autumn",
        ),
        headers={"referer": complex_form.referer + "?utm_source=ignored"},
    )
    lead = runtime.lead_named(name)
    assert lead is not None
    assert (lead["utmSource"], lead["utmMedium"], lead["utmCampaign"]) == (
        "yandex",
        "cpc",
        "autumn",
    )


def test_utm_tags_come_from_the_referer_when_no_script_filled_them(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    name = unique("Зоя")
    runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=name, phone="+7 999 000-00-08"),
        headers={
            "referer": complex_form.referer + "?utm_source=vk&utm_medium=social&utm_campaign=ny"
        },
    )
    lead = runtime.lead_named(name)
    assert lead is not None
    assert (lead["utmSource"], lead["utmMedium"], lead["utmCampaign"]) == ("vk", "social", "ny")
    assert lead["landing"] == complex_form.path  # the path, without the query


def test_a_landings_own_campaign_is_kept(runtime: Runtime, visitor: str) -> None:
    """A form's `set: {utm_campaign: …}` names the campaign whatever the address says."""
    form = form_of(runtime, "forms-test")
    name = unique("Ирина")
    runtime.request(
        "POST",
        form.action,
        visitor,
        data=form.fields(name=name, phone="+7 999 000-00-09"),
        headers={"referer": form.referer + "?utm_source=mail&utm_campaign=other"},
    )
    lead = runtime.lead_named(name)
    assert lead is not None
    assert (lead["utmSource"], lead["utmCampaign"]) == ("mail", "site-form")


# -- bad input: errors per field, nothing stored ------------------------------------------------------


def test_bad_input_gets_errors_per_field_as_json_and_stores_nothing(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    before = runtime.lead_count()
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name="", phone="abc"),
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    # the status agrees with `ok`, as it does for a post without script
    assert response.status_code == 422
    assert response.json() == {
        "ok": False,
        "message": "Проверьте поля формы.",
        "errors": {"name": "Заполните это поле", "phone": "Проверьте номер телефона"},
    }
    assert runtime.lead_count() == before


def test_too_long_a_value_says_how_long_it_may_be(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    before = runtime.lead_count()
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name="Я" * 121, phone="+7 999 000-00-10"),
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    assert response.json()["errors"] == {"name": "Слишком длинно: не больше 120 символов"}
    assert runtime.lead_count() == before


def test_bad_input_without_script_gets_a_page_and_stores_nothing(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    before = runtime.lead_count()
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name="", phone="abc"),
        headers={"referer": complex_form.referer},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="ru">' in page
    assert "<h1>Заявка не отправлена</h1>" in page
    assert "Проверьте поля формы." in page
    assert "Заполните это поле" in page and "Проверьте номер телефона" in page
    assert f'<a href="{complex_form.path}">Вернуться к форме</a>' in page
    assert runtime.lead_count() == before


def test_the_error_page_names_fields_as_the_form_labels_them(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name="", phone="abc"),
        headers={"referer": complex_form.referer},
    )
    page = response.text
    assert "<li><b>Имя</b>: Заполните это поле</li>" in page
    assert "<li><b>Телефон</b>: Проверьте номер телефона</li>" in page
    assert page.index("<b>Имя</b>") < page.index("<b>Телефон</b>")  # in the form's order
    assert "<b>name</b>" not in page and "<b>phone</b>" not in page


def test_a_lead_without_a_way_to_call_back_says_which_field_is_missing(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    """The public role's check asks for a phone or an e-mail; the complex page's form shows only
    the phone, so the phone is the field to fill in."""
    before = runtime.lead_count()
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=unique("Кирилл"), phone=""),
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "ok": False,
        "message": "Проверьте поля формы.",
        "errors": {"phone": "Заполните это поле"},
    }
    page = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=unique("Кирилл"), phone=""),
        headers={"referer": complex_form.referer},
    )
    assert page.status_code == 422
    assert "<li><b>Телефон</b>: Заполните это поле</li>" in page.text
    assert "Заявку не удалось принять" not in page.text
    assert runtime.lead_count() == before


def test_a_form_with_phone_and_email_asks_for_either(runtime: Runtime, visitor: str) -> None:
    form = form_of(runtime, "forms-test")  # name, phone, email, apartment
    response = runtime.request(
        "POST",
        form.action,
        visitor,
        data=form.fields(name="", phone="", email=""),
        headers={"referer": form.referer, "accept": "application/json"},
    )
    assert response.status_code == 422
    # every missing field at once: the name the entity requires, a way to call back the role's
    # check requires, beside the first field that gives one
    assert response.json()["errors"] == {
        "name": "Заполните это поле",
        "phone": "Заполните хотя бы одно из полей: «Телефон» или «Эл. почта»",
    }


def test_a_refusal_no_field_of_the_form_explains_is_said_in_general(
    runtime: Runtime, visitor: str
) -> None:
    form = form_of(runtime, "forms-name-only")
    before = runtime.lead_count()
    response = runtime.request(
        "POST",
        form.action,
        visitor,
        data=form.fields(name=unique("Лиза")),
        headers={"referer": form.referer, "accept": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {"ok": False, "message": "Заявку не удалось принять", "errors": {}}
    page = runtime.request(
        "POST", form.action, visitor, data=form.fields(name=unique("Лиза")), headers={}
    )
    assert page.status_code == 422
    assert "<p>Заявку не удалось принять</p>" in page.text
    assert "<ul>" not in page.text  # no list of fields when no field is at fault
    assert runtime.lead_count() == before


def test_an_apartment_that_is_sold_is_refused(runtime: Runtime, visitor: str) -> None:
    form = form_of(runtime, "forms-test")
    sold = runtime.graphql("{ apartments(where: {status: {eq: sold}}, limit: 1) { id } }")
    before = runtime.lead_count()
    response = runtime.request(
        "POST",
        form.action,
        visitor,
        data=form.fields(
            name=unique("Лев"), phone="+7 999 000-00-11", apartment=sold["apartments"][0]["id"]
        ),
        headers={"referer": form.referer, "accept": "application/json"},
    )
    assert response.status_code == 422
    # the public role reads no sold apartment: to it, there is no such choice
    assert response.json() == {
        "ok": False,
        "message": "Проверьте поля формы.",
        "errors": {"apartment": "Такого варианта нет"},
    }
    assert runtime.lead_count() == before


# -- bots, floods and strangers -------------------------------------------------------------------


def test_the_honeypot_thanks_a_bot_and_keeps_nothing(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    before = runtime.lead_count()
    name = unique("Бот")
    for headers in ({}, {"accept": "application/json"}):
        response = runtime.request(
            "POST",
            complex_form.action,
            visitor,
            data={**complex_form.fields(name=name, phone="+7 999 000-00-12"), "website": "x.ru"},
            headers={"referer": complex_form.referer, **headers},
        )
        assert response.status_code in (200, 303)
        if response.status_code == 303:
            assert response.headers["location"].startswith(f"{complex_form.path}?sent=1")
        else:
            assert response.json()["ok"] is True
    assert runtime.lead_count() == before
    assert runtime.lead_named(name) is None


def test_the_time_trap_drops_a_form_sent_as_soon_as_the_page_loaded(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    """form.js posts `_elapsed`, the milliseconds since the page loaded by the page's own clock;
    the server compares it with nothing of its own, so no clock's setting matters."""
    before = runtime.lead_count()
    hasty = unique("Спешащий")
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=hasty, phone="+7 999 000-00-13", _elapsed="500"),
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["ok"] is True  # a bot learns nothing
    assert runtime.lead_count() == before
    patient = unique("Вдумчивый")
    runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=patient, phone="+7 999 000-00-14", _elapsed="10000"),
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    assert runtime.lead_named(patient) is not None


@pytest.mark.parametrize(
    "elapsed",
    ["-5000", "12.5e3", "abc", "²³⁴⁵⁶", "9" * 5000],
    ids=["negative", "not whole", "not a number", "not ascii digits", "5000 digits"],
)
def test_a_time_no_script_sends_is_taken_for_a_bot(
    runtime: Runtime, complex_form: Form, visitor: str, elapsed: str
) -> None:
    name = unique("Подделка")
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=name, phone="+7 999 000-00-20", _elapsed=elapsed),
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert runtime.lead_named(name) is None


def test_a_flood_from_one_address_is_stopped_with_429(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    # honeypot posts: counted by the limit like any other, and they store nothing
    posts = {
        **complex_form.fields(name="Поток", phone="+7 999 000-00-15"),
        "website": "spam",
    }
    answers = [
        runtime.request(
            "POST",
            complex_form.action,
            visitor,
            data=posts,
            headers={"referer": complex_form.referer, "accept": "application/json"},
        )
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json() == {
        "ok": False,
        "message": "Слишком много заявок подряд — попробуйте через минуту.",
        "errors": {},
    }
    page = runtime.request(
        "POST", complex_form.action, visitor, data=posts, headers={"referer": complex_form.referer}
    )
    assert page.status_code == 429
    assert "Слишком много заявок подряд" in page.text
    other = runtime.request(
        "POST",
        complex_form.action,
        "192.0.2.77",  # another address
        data=posts,
        headers={"referer": complex_form.referer, "accept": "application/json"},
    )
    assert other.status_code == 200


@pytest.mark.parametrize("origin", ["site", "other site"])
def test_cors_lets_the_sites_origins_read_the_answer(
    runtime: Runtime, complex_form: Form, visitor: str, origin: str
) -> None:
    allowed = (
        f"{urlparse(runtime.base).scheme}://{urlparse(runtime.base).netloc}"
        if origin == "site"
        else OTHER_SITE
    )
    preflight = runtime.request(
        "OPTIONS",
        complex_form.action,
        visitor,
        headers={"origin": allowed, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answer = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name=unique("Мира"), phone="+7 999 000-00-16"),
        headers={"origin": allowed, "accept": "application/json", "referer": complex_form.referer},
    )
    assert answer.headers["access-control-allow-origin"] == allowed
    assert answer.json()["ok"] is True


def test_cors_keeps_other_origins_out(runtime: Runtime, complex_form: Form, visitor: str) -> None:
    preflight = runtime.request(
        "OPTIONS",
        complex_form.action,
        visitor,
        headers={"origin": STRANGER, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    answer = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name="", phone=""),
        headers={"origin": STRANGER, "accept": "application/json"},
    )
    assert "access-control-allow-origin" not in answer.headers  # its script cannot read this


# -- forms that are not there ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", ["/forms/no-such-landing/0", "/forms/complex/0", "/forms/complex/999"]
)
def test_a_form_that_is_not_there_is_404(runtime: Runtime, visitor: str, action: str) -> None:
    response = runtime.request(
        "POST", action, visitor, data={"name": "Нет"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 404
    assert response.json() == {"ok": False, "message": "Такой формы нет.", "errors": {}}


def test_a_page_whose_record_is_gone_is_out_of_date(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    before = runtime.lead_count()
    planned = runtime.graphql("{ complexes(where: {status: {eq: planned}}, limit: 1) { id } }")
    for item in ("999999", planned["complexes"][0]["id"]):  # never there; not public
        response = runtime.request(
            "POST",
            complex_form.action,
            visitor,
            data={
                **complex_form.fields(name=unique("Олег"), phone="+7 999 000-00-17"),
                "_item": item,
            },
            headers={"referer": complex_form.referer, "accept": "application/json"},
        )
        assert response.status_code == 404
        assert response.json() == {"ok": False, "message": "Страница устарела.", "errors": {}}
    assert runtime.lead_count() == before


def test_a_form_larger_than_the_limit_is_413(
    runtime: Runtime, complex_form: Form, visitor: str
) -> None:
    limit = runtime.spec.limits.body_bytes
    response = runtime.request(
        "POST",
        complex_form.action,
        visitor,
        data=complex_form.fields(name="Я", phone="+7 999 000-00-18", note="x" * (limit + 1)),
        headers={"accept": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["message"] == "Слишком большая форма."
