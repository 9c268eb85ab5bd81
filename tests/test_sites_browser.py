"""The demo's landing sites in real Chromium. A copy of the project is migrated and seeded into a
fresh SQLite file and built with the `ecospec` command, then `ecospec serve` serves it on a free
loopback port; the tests read and fill in its pages as a visitor does and check the database
over GraphQL. Elements are found by role, label, name and link target, never by class, so the
blocks' markup may change under them.

The runtime rate-limits forms per client (a burst of 5, then 10 a minute), and every test here
posts from 127.0.0.1: the module posts five forms in all, each once, and the tests that look at
one post share it through a module fixture."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from browser import (
    SHOTS,
    blocking_violations,
    describe_violations,
    horizontal_overflow,
    load_every_image,
)

from ecospec.generator.blocks import load_blocks
from ecospec.generator.build import MANIFEST, SiteBuilder
from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec
from ecospec.generator.render import money
from ecospec.runtime.credentials import mint_token

# Without Playwright the `browser` fixture skips (or fails, in CI) and says why.
with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, Request, expect

pytest_plugins = ["browser"]

ROOT = Path(__file__).resolve().parent.parent
SECRET = "a browser-test secret that is long enough for HS256 signing"
LOOPBACK = "127.0.0.1"
TIME_TRAP_S = 2.6  # runtime/forms.py ignores posts made within 2.5 s of the page's load
WIDTHS = (375, 1280)  # a phone, a laptop
SHOWCASE = ("home", "complex", "apartment", "promo-family-mortgage", "promo-spring-sale")
LEAD_FIELDS = "id name phone source status landing utmSource utmMedium utmCampaign complex { id slug } manager { id }"


def squash(text: str) -> str:
    """Text without any whitespace (prices use no-break and narrow no-break spaces)."""
    return re.sub(r"\s+", "", text)


# -- the served demo ------------------------------------------------------------------------------


def ecospec_command() -> list[str]:
    script = Path(sys.executable).parent / "ecospec"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ecospec"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Served:
    """The demo as `ecospec serve` serves it, with the spec it was built from."""

    base: str
    project: Path
    spec: Spec

    def url(self, path: str) -> str:
        return self.base + path

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        role: str | None = None,
        **claims: str,
    ) -> dict[str, Any]:
        """A query over HTTP, anonymous or with a token for `role`; the test fails on errors."""
        headers = {}
        if role is not None:
            token = mint_token(self.spec, role, dict(claims), 600, False)
            headers["authorization"] = f"Bearer {token}"
        response = httpx.post(
            self.base + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            pytest.fail(f"GraphQL answered {response.status_code}: {body}")
        data: dict[str, Any] = body["data"]
        return data

    def lead_count(self) -> int:
        """Every lead, counted as the admin role."""
        data = self.graphql("{ leadsAggregate { count } }", role="admin")
        return int(data["leadsAggregate"]["count"])

    def lead_named(self, name: str) -> dict[str, Any] | None:
        data = self.graphql(
            f"query($name: String!) {{ leads(where: {{name: {{eq: $name}}}}) {{ {LEAD_FIELDS} }} }}",
            {"name": name},
            role="admin",
        )
        found: list[dict[str, Any]] = data["leads"]
        assert len(found) <= 1, found
        return found[0] if found else None

    def page_paths(self) -> list[str]:
        """Every page the build made, from its manifest."""
        manifest = json.loads((self.project / "sites" / MANIFEST).read_text(encoding="utf-8"))
        return sorted(manifest["pages"])

    def form_params(self, landing: str) -> dict[str, Any]:
        """The parameters of a landing's lead form: its spec's, over the block's defaults."""
        block = load_blocks(self.project).get("lead_form")
        assert block is not None
        defaults = {k: p.default for k, p in block.spec.params.items() if p.default is not None}
        for entry in self.spec.landings[landing].blocks:
            if "lead_form" in entry:
                return {**defaults, **(entry["lead_form"] or {})}
        pytest.fail(f"the landing '{landing}' has no lead_form")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    project = root / "project"
    shutil.copytree(ROOT / "spec", project / "spec")
    if (ROOT / "static").is_dir():
        shutil.copytree(ROOT / "static", project / "static")
    env = {
        **os.environ,
        "ECOSPEC_DATABASE_URL": f"sqlite:///{root / 'demo.db'}",
        "ECOSPEC_JWT_SECRET": SECRET,
    }
    env.pop("ECOSPEC_ENV", None)
    command = ecospec_command()
    for step in ("migrate", "seed", "build"):
        done = subprocess.run(
            [*command, step, "--project", str(project)],
            env=env,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            pytest.fail(f"ecospec {step} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    with (root / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [*command, "serve", "--project", str(project), "--host", LOOPBACK, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=project,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    pytest.fail(
                        f"ecospec serve exited {process.returncode}: {(root / 'serve.log').read_text()}"
                    )
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("ecospec serve did not answer /healthz within 60 s")
                time.sleep(0.1)
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("ECOSPEC_JWT_SECRET", SECRET)  # for mint_token in this process
                yield Served(base, project, load_spec(project))
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class ComplexOnSale:
    """A complex with apartments on sale, as the anonymous role reads it over GraphQL."""

    record: dict[str, Any]
    path: str
    free: list[dict[str, Any]]  # its free apartments, cheapest first
    offered: list[dict[str, Any]]  # free and booked, which the price table sums up


@pytest.fixture(scope="module")
def complex_on_sale(served: Served) -> ComplexOnSale:
    complexes = served.graphql("{ complexes(orderBy: [{name: ASC}]) { id slug name } }")
    for record in complexes["complexes"]:
        data = served.graphql(
            """query($id: ID!) {
              free: apartments(where: {complex: {id: {eq: $id}}, status: {eq: free}},
                               orderBy: [{price: ASC}]) { id code price rooms }
              offered: apartments(where: {complex: {id: {eq: $id}}, status: {in: [free, booked]}})
                { id code price rooms }
            }""",
            {"id": record["id"]},
        )
        if data["free"]:
            path = SiteBuilder.page_path(served.spec.landings["complex"], record)
            return ComplexOnSale(record, path, data["free"], data["offered"])
    pytest.fail("no complex of the demo has a free apartment")


@pytest.fixture(scope="module")
def showcase(served: Served, complex_on_sale: ComplexOnSale) -> dict[str, str]:
    """The path of one page of each landing the tests look at closely."""
    landings = served.spec.landings
    cheapest = complex_on_sale.free[0]
    paths = {
        "complex": complex_on_sale.path,
        "apartment": SiteBuilder.page_path(landings["apartment"], cheapest),
    }
    for name in SHOWCASE:
        if name not in paths:
            if landings[name].for_each is not None:
                pytest.fail(f"the landing '{name}' makes a page per record; pick one")
            paths[name] = landings[name].path
    return paths


def lead_form(page: Page) -> Locator:
    """The page's lead form: the form with a phone field (labels come from the entity's titles)."""
    return page.locator("form").filter(has=page.get_by_role("textbox", name="Телефон", exact=True))


def fill_and_send(page: Page, loaded_at: float, values: dict[str, str]) -> None:
    """Fill the lead form's fields by label and press its button, no sooner than a person could."""
    form = lead_form(page)
    for label, value in values.items():
        form.get_by_role("textbox", name=label, exact=True).fill(value)
    time.sleep(max(0.0, loaded_at + TIME_TRAP_S - time.monotonic()))
    form.get_by_role("button").click()


def open_page(context: BrowserContext, url: str) -> tuple[Page, float]:
    page = context.new_page()
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    return page, time.monotonic()


# -- what the pages show --------------------------------------------------------------------------


def test_a_complex_page_shows_its_apartments_and_prices_from_the_database(
    browser: Browser, served: Served, complex_on_sale: ComplexOnSale
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page, _ = open_page(context, served.url(complex_on_sale.path))
    expect(page.get_by_role("heading", level=1)).to_have_text(complex_on_sale.record["name"])

    catalog = page.get_by_role("region").filter(has=page.locator('a[href^="/apartments/"]'))
    expect(catalog).to_have_count(1)
    more = catalog.get_by_role("checkbox")  # "show the rest", when the grid folds some away
    if more.count():
        more.dispatch_event("click")
    cards = catalog.get_by_role("listitem").filter(has=page.get_by_role("link"))
    shown: dict[str, str] = {}
    for card in cards.all():
        expect(card).to_be_visible()
        href = card.get_by_role("link").first.get_attribute("href") or ""
        shown[href] = squash(card.inner_text())
    expected = {
        SiteBuilder.page_path(served.spec.landings["apartment"], a): a for a in complex_on_sale.free
    }
    assert sorted(shown) == sorted(expected)
    for href, apartment in expected.items():
        assert squash(money(apartment["price"])) in shown[href], (href, apartment["price"])

    # the price table: the lowest price of each room count, over free and booked apartments
    table = page.get_by_role("table")
    expect(table).to_have_count(1)
    rows = [squash(text) for text in table.get_by_role("row").all_inner_texts()]
    lowest: dict[int, float] = {}
    for a in complex_on_sale.offered:
        lowest[a["rooms"]] = min(lowest.get(a["rooms"], float("inf")), float(a["price"]))
    for rooms, price in sorted(lowest.items()):
        assert any(squash(money(price)) in row for row in rows), (rooms, price, rows)
    context.close()


def test_on_a_phone_every_filter_of_the_catalog_is_in_view(
    browser: Browser, served: Served, complex_on_sale: ComplexOnSale
) -> None:
    """The catalog's filter chips wrap within the page's column on a 375px screen: none sticks
    out past its edge, and one on a wrapped line still filters the cards."""
    width = 375
    context = browser.new_context(viewport={"width": width, "height": 800})
    page, _ = open_page(context, served.url(complex_on_sale.path))
    catalog = page.get_by_role("region").filter(has=page.locator('a[href^="/apartments/"]'))
    groups = catalog.get_by_role("group")
    assert groups.count() >= 2
    column = catalog.get_by_role("heading", level=2).bounding_box()
    assert column is not None
    for group in groups.all():
        edges: list[list[float]] = group.evaluate(
            "g => [...g.querySelectorAll('label')].map(l => l.getBoundingClientRect())"
            ".map(r => [r.left, r.right])"
        )
        assert edges, group.inner_text()
        for left, right in edges:
            assert column["x"] - 1 <= left and right <= width - column["x"] + 1, (
                group.inner_text(),
                left,
                right,
            )
    last = groups.last.get_by_role("radio").last
    last.dispatch_event("click")
    expect(last).to_be_checked()
    shown = catalog.get_by_role("listitem").filter(has=page.get_by_role("link"))
    visible = [card for card in shown.all() if card.is_visible()]
    assert 0 < len(visible) < len(complex_on_sale.free)
    context.close()


def test_a_missing_page_answers_404_with_the_sites_own_page(
    browser: Browser, served: Served
) -> None:
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(served.url("/no-such-page/"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Такой страницы нет")
    expect(page.get_by_role("link", name="На главную")).to_have_attribute("href", "/")
    context.close()


# -- the lead form with JavaScript ----------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    page: Page
    url: str  # the page's address before the post
    leads_before: int


@pytest.fixture(scope="module")
def bad_post(browser: Browser, served: Served, complex_on_sale: ComplexOnSale) -> Iterator[Posted]:
    """The complex page's lead form sent once with no name and a phone that is not one."""
    before = served.lead_count()
    context = browser.new_context()
    page, loaded = open_page(context, served.url(complex_on_sale.path))
    fill_and_send(page, loaded, {"Имя": "", "Телефон": "abc"})
    expect(lead_form(page).get_by_role("status")).not_to_be_empty()
    yield Posted(page, served.url(complex_on_sale.path), before)
    context.close()


def test_bad_input_shows_errors_beside_each_field_without_a_reload(
    bad_post: Posted, served: Served
) -> None:
    page = bad_post.page
    form = lead_form(page)
    expect(form.get_by_role("status")).to_have_text("Проверьте поля формы.")
    assert page.url == bad_post.url  # answered in place, without a reload
    expect(form.get_by_role("textbox", name="Телефон", exact=True)).to_have_value("abc")
    for label in ("Имя", "Телефон"):
        field = form.get_by_role("textbox", name=label, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        # the error is the field's description, in the site's language
        expect(field).to_have_accessible_description(
            re.compile(r"^[^A-Za-z]*[А-Яа-яЁё][^A-Za-z]*$")
        )


def test_bad_input_stores_nothing(bad_post: Posted, served: Served) -> None:
    assert served.lead_count() == bad_post.leads_before


def test_after_bad_input_the_first_invalid_field_has_the_focus(bad_post: Posted) -> None:
    name = lead_form(bad_post.page).get_by_role("textbox", name="Имя", exact=True)
    expect(name).to_be_focused()


def test_good_input_makes_a_lead_a_manager_reads_over_graphql(
    browser: Browser, served: Served, complex_on_sale: ComplexOnSale
) -> None:
    before = served.lead_count()
    name = f"Проверка {uuid.uuid4().hex[:8]}"
    context = browser.new_context()
    page, loaded = open_page(
        context,
        served.url(complex_on_sale.path + "?utm_source=browser&utm_medium=cpc&utm_campaign=test"),
    )
    fill_and_send(page, loaded, {"Имя": name, "Телефон": "+7 999 123-45-67"})
    form = lead_form(page)
    expect(form.get_by_role("status")).to_have_text(served.form_params("complex")["success"])
    expect(form.get_by_role("textbox", name="Имя", exact=True)).to_have_value("")  # reset
    context.close()

    assert served.lead_count() == before + 1
    lead = served.lead_named(name)
    assert lead is not None
    assert lead["phone"] == "+7 999 123-45-67"
    assert lead["complex"] == {
        "id": complex_on_sale.record["id"],
        "slug": complex_on_sale.record["slug"],
    }
    assert lead["landing"] == complex_on_sale.path
    assert (lead["source"], lead["status"], lead["manager"]) == ("landing", "new", None)
    assert (lead["utmSource"], lead["utmMedium"], lead["utmCampaign"]) == ("browser", "cpc", "test")

    # the lead is a manager's once a supervisor assigns it; only that manager reads it
    staff = served.graphql(
        "{ employees(orderBy: [{id: ASC}]) { id position active } }", role="admin"
    )["employees"]
    managers = [e["id"] for e in staff if e["position"] == "manager" and e["active"]]
    supervisor = next(e["id"] for e in staff if e["position"] == "supervisor")
    assert len(managers) >= 2
    served.graphql(
        "mutation($id: ID!, $m: ID!) { updateLead(id: $id, input: {manager: $m}) { id } }",
        {"id": lead["id"], "m": managers[0]},
        role="supervisor",
        id=supervisor,
    )
    read = "query($id: ID!) { lead(id: $id) { name phone landing complex { slug } } }"
    mine = served.graphql(read, {"id": lead["id"]}, role="manager", id=managers[0])
    assert mine["lead"] == {
        "name": name,
        "phone": "+7 999 123-45-67",
        "landing": complex_on_sale.path,
        "complex": {"slug": complex_on_sale.record["slug"]},
    }
    theirs = served.graphql(read, {"id": lead["id"]}, role="manager", id=managers[1])
    assert theirs["lead"] is None


def test_a_visitor_whose_clock_runs_fast_still_reaches_the_crm(
    browser: Browser, served: Served, complex_on_sale: ComplexOnSale
) -> None:
    name = f"Часы спешат {uuid.uuid4().hex[:8]}"
    context = browser.new_context()
    context.add_init_script(
        "(() => { const real = Date.now; Date.now = () => real() + 600000; })()"
    )
    page, loaded = open_page(context, served.url(complex_on_sale.path))
    fill_and_send(page, loaded, {"Имя": name, "Телефон": "+7 999 765-43-21"})
    expect(lead_form(page).get_by_role("status")).to_have_text(
        served.form_params("complex")["success"]
    )
    context.close()
    assert served.lead_named(name) is not None


# -- the lead form without JavaScript -------------------------------------------------------------


@dataclass(frozen=True)
class PostedWithoutScript:
    page: Page
    name: str
    status: int
    leads_before: int


@pytest.fixture(scope="module")
def good_post_without_script(
    browser: Browser, served: Served, complex_on_sale: ComplexOnSale
) -> Iterator[PostedWithoutScript]:
    """The complex page's lead form filled in and sent by a browser with JavaScript off."""
    before = served.lead_count()
    name = f"Без скриптов {uuid.uuid4().hex[:8]}"
    context = browser.new_context(java_script_enabled=False)
    page, loaded = open_page(context, served.url(complex_on_sale.path + "?utm_source=noscript"))
    with page.expect_navigation() as navigation:
        fill_and_send(page, loaded, {"Имя": name, "Телефон": "+7 999 111-22-33"})
    response = navigation.value
    yield PostedWithoutScript(page, name, response.status if response else 0, before)
    context.close()


def test_without_javascript_the_form_posts_and_comes_back_to_the_page(
    good_post_without_script: PostedWithoutScript, served: Served, complex_on_sale: ComplexOnSale
) -> None:
    posted = good_post_without_script
    assert posted.status == 200
    assert urlparse(posted.page.url).path == complex_on_sale.path
    assert "sent=1" in urlparse(posted.page.url).query
    assert served.lead_count() == posted.leads_before + 1
    lead = served.lead_named(posted.name)
    assert lead is not None
    assert lead["phone"] == "+7 999 111-22-33"
    assert lead["utmSource"] == "noscript"  # no script filled the hidden field: from the Referer


def test_without_javascript_the_visitor_sees_the_thank_you(
    good_post_without_script: PostedWithoutScript, served: Served
) -> None:
    success = served.form_params("complex")["success"]
    expect(good_post_without_script.page.get_by_text(success)).to_be_visible()


def test_without_javascript_bad_input_answers_with_a_page_and_stores_nothing(
    browser: Browser, served: Served, complex_on_sale: ComplexOnSale
) -> None:
    before = served.lead_count()
    context = browser.new_context(java_script_enabled=False)
    page, loaded = open_page(context, served.url(complex_on_sale.path))
    with page.expect_navigation() as navigation:
        fill_and_send(page, loaded, {"Имя": "", "Телефон": "abc"})
    response = navigation.value
    assert response is not None and response.status == 422
    expect(page.get_by_role("heading", level=1)).to_have_text("Заявка не отправлена")
    expect(page.get_by_role("listitem")).to_have_count(2)  # one line per field
    expect(page.get_by_role("link", name="Вернуться к форме")).to_have_attribute(
        "href", complex_on_sale.path
    )
    context.close()
    assert served.lead_count() == before


# -- every page: console, network, accessibility, looks -------------------------------------------


def test_no_page_logs_an_error_or_asks_another_host(browser: Browser, served: Served) -> None:
    """Every page the build made, with every image loaded: no console error, no uncaught
    exception, no failed or non-2xx request, no broken image, no request off 127.0.0.1."""
    context = browser.new_context()
    problems: list[str] = []
    foreign: list[str] = []

    def note(request: Request) -> None:
        # listened to, not intercepted (interception doubles the time of every request); a
        # request to another host would simply fail or succeed, and be counted either way
        if urlparse(request.url).hostname not in (LOOPBACK, None):
            foreign.append(f"{request.frame.url} -> {request.url}")

    context.on("request", note)
    context.on(
        "console",
        lambda m: (
            problems.append(f"{m.page.url if m.page else '?'}: console {m.type}: {m.text}")
            if m.type == "error"
            else None
        ),
    )
    context.on("weberror", lambda e: problems.append(f"uncaught: {e.error}"))
    context.on(
        "requestfailed",
        lambda r: (
            problems.append(f"failed: {r.url} ({r.failure})")
            if urlparse(r.url).hostname == LOOPBACK
            else None
        ),
    )
    context.on(
        "response",
        lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
    )
    page = context.new_page()
    paths = served.page_paths()
    assert len(paths) > 10
    for path in paths:
        response = page.goto(served.url(path))
        assert response is not None and response.status == 200, path
        problems.extend(f"{path}: broken image {src}" for src in load_every_image(page))
    context.close()
    assert foreign == []
    assert problems == []


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("landing", SHOWCASE)
def test_no_serious_accessibility_violations(
    browser: Browser,
    served: Served,
    showcase: dict[str, str],
    axe_source: str,
    landing: str,
    width: int,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page, _ = open_page(context, served.url(showcase[landing]))
    load_every_image(page)
    violations = blocking_violations(page, axe_source)
    context.close()
    assert violations == [], describe_violations(violations)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("landing", SHOWCASE)
def test_screenshots_show_the_whole_page_without_overflow(
    browser: Browser, served: Served, showcase: dict[str, str], landing: str, width: int
) -> None:
    """Full-page screenshots, for a person to look at, in SHOTS (outside the repository)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page, _ = open_page(context, served.url(showcase[landing]))
    broken = load_every_image(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{landing}-{width}.png"), full_page=True)
    overflow = horizontal_overflow(page)
    context.close()
    assert broken == []
    assert overflow == 0, f"{showcase[landing]} is {overflow}px wider than a {width}px screen"


def test_pages_use_the_themes_font(
    browser: Browser, served: Served, showcase: dict[str, str]
) -> None:
    font = served.spec.site.theme["font"]
    context = browser.new_context()
    page, _ = open_page(context, served.url(showcase["home"]))
    used = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    context.close()
    assert squash(used) == squash(font.replace("'", '"'))
