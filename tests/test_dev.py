"""`ecospec dev` as a person uses it: the real command in a subprocess on a free loopback port, on a
copy of the demo (spec/, blocks/, static/, migrated and seeded), with pages open in real Chromium.
Files are edited in place, as an editor saves them, and the test waits for what the browser or the
API shows; deadlines are for liveness only. DevServer.touched (which landings a change touches) is
tested on its own at the end.

Without Chromium (/usr/bin/chromium or $ECOSPEC_CHROMIUM) or Playwright the browser tests are
skipped, unless ECOSPEC_TEST_REQUIRE_BROWSER=1, which makes them fail instead."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from conftest import DEMO_FOLDERS, ROOT, ecospec_executable

from ecospec.generator.build import MANIFEST
from ecospec.generator.loader import load_project
from ecospec.generator.model import Spec
from ecospec.runtime.capabilities.forms import TOO_FAST_MS
from ecospec.runtime.dev import SCRIPT_TAG, DevServer, follow, patchable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROMO = "spec/landings/promo-spring-sale.yaml"
PROMO_URL = "/promo/spring-sale/"
CATALOG = "spec/entities/catalog.yaml"
HERO = "blocks/hero"
OVERLAY = "#ecospec-dev-overlay"
# Counts the page's server-sent-event connections that are open: a test edits a file only once
# the page listens, or the message would go to no one. Instrumentation, not a stand-in: the
# page's own EventSource does the work.
LISTENING = """
(() => {
  const Native = window.EventSource;
  window.__ecospecOpen = 0;
  window.EventSource = function (url, options) {
    const source = new Native(url, options);
    source.addEventListener("open", () => { window.__ecospecOpen += 1; });
    return source;
  };
  window.EventSource.prototype = Native.prototype;
})();
"""


# -- waiting ---------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until `condition()` is truthy and return it; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def env() -> dict[str, str]:
    """The project's own SQLite file, whatever the calling shell points at."""
    found = {**os.environ}
    for name in ("ECOSPEC_DATABASE_URL", "ECOSPEC_ENV"):
        found.pop(name, None)
    return found


# -- the project -----------------------------------------------------------------------------------


def copy_project(target: Path) -> Path:
    for name in ("spec", "blocks", "static"):
        shutil.copytree(
            ROOT / DEMO_FOLDERS[name],
            target / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return target


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo migrated and seeded once; every test works on its own copy of it."""
    project = copy_project(tmp_path_factory.mktemp("dev-seeded") / "demo")
    for command in ("migrate", "seed"):
        done = subprocess.run(
            [str(ecospec_executable()), command, "--project", str(project)],
            capture_output=True,
            text=True,
            env=env(),
            cwd=project,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    # Seeding leaves webhook deliveries pending (the demo's CRM is not running), and the server's
    # bus would retry them in the background, writing to the database. A quiet database keeps the
    # tests below about one thing at a time; test_field_added_while_the_database_is_written pins
    # what those writes do to a reload.
    with contextlib.closing(sqlite3.connect(project / "var" / "north-quarter.db")) as db:
        db.execute("UPDATE ecospec_deliveries SET status = 'done'")
        db.commit()
    return project


@pytest.fixture
def project(seeded: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(seeded, target, ignore=shutil.ignore_patterns(".ecospec"))
    return target


@dataclass
class Dev:
    """A running `ecospec dev`: its project, base URL and terminal output."""

    project: Path
    base: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            pytest.fail(f"ecospec dev exited {self.popen.returncode}:\n{self.output()}")

    def reloads(self) -> int:
        """How many reloads the terminal has reported so far."""
        return len(re.findall(r"^reloaded in \d+ ms", self.output(), re.M))

    def wait_reloads(self, count: int) -> None:
        def done() -> bool:
            self.check_alive()
            return self.reloads() >= count

        wait_for(done, f"reload #{count}:\n{self.output()}")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, timeout=30)

    def graphql(self, query: str) -> dict[str, Any]:
        answer = httpx.post(self.base + "/graphql", json={"query": query}, timeout=30)
        found: dict[str, Any] = answer.json()
        return found

    def read(self, rel: str) -> str:
        return (self.project / rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        """Save in place, as most editors do."""
        (self.project / rel).write_text(text, encoding="utf-8")

    def replace(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} is not in {rel}"
        self.write(rel, text.replace(old, new, 1))


@contextlib.contextmanager
def developing(project: Path, extra_env: dict[str, str] | None = None) -> Iterator[Dev]:
    port = free_port()
    log = project.parent / "dev.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [str(ecospec_executable()), "dev", "--project", str(project), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env(), "PYTHONUNBUFFERED": "1", **(extra_env or {})},
            cwd=project,
        )
    dev = Dev(project, f"http://127.0.0.1:{port}", popen, log)
    try:

        def healthy() -> bool:
            dev.check_alive()
            try:
                return httpx.get(dev.base + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, "ecospec dev to answer /healthz", timeout=120)
        yield dev
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


@pytest.fixture
def dev(project: Path) -> Iterator[Dev]:
    with developing(project) as running:
        yield running


# -- the browser -----------------------------------------------------------------------------------


def unavailable(reason: str) -> None:
    if os.environ.get("ECOSPEC_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"ECOSPEC_TEST_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install playwright)")
        raise
    executable = os.environ.get("ECOSPEC_CHROMIUM") or shutil.which("chromium") or ""
    if not executable or not Path(executable).is_file():
        unavailable("no Chromium (install chromium or set ECOSPEC_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[Dev, str], Page]]:
    """`open_page(dev, path)`: a page, loaded and listening for the server's messages."""
    context = browser.new_context()
    context.add_init_script(LISTENING)

    def opening(dev: Dev, path: str) -> Page:
        page = context.new_page()
        page.goto(dev.base + path)
        page.wait_for_function("window.__ecospecOpen > 0")
        return page

    try:
        yield opening
    finally:
        context.close()


def hero_title(page: Page) -> str:
    text: str = page.locator("h1.hero__title").inner_text()
    return text


def overlay_text(page: Page) -> str:
    text: str = page.locator(OVERLAY).inner_text()
    return text


# -- the spec, read for what the tests edit -------------------------------------------------------


def promo_hero(project: Path) -> tuple[int, str]:
    """The index of the hero among the promo's blocks, and its title."""
    data = yaml.safe_load((project / PROMO).read_text(encoding="utf-8"))
    for index, block in enumerate(data["blocks"]):
        if "hero" in block:
            return index, str(block["hero"]["title"])
    raise AssertionError(f"{PROMO} has no hero")


def line_of(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first `needle`."""
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def title_line(project: Path) -> str:
    """The promo hero's title line as written, e.g. `      title: Весна …`."""
    _, title = promo_hero(project)
    for line in (project / PROMO).read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("title:") and title in line:
            return line
    raise AssertionError("the hero title is not on a line of its own")


def with_amenity_field(text: str, field: str) -> str:
    """catalog.yaml's text with `field` (e.g. `note: {type: text}`) first among Amenity's."""
    fields = "    fields:\n"
    at = text.index(fields, text.index("\n  Amenity:\n")) + len(fields)
    return text[:at] + f"      {field}\n" + text[at:]


def add_amenity_field(dev: Dev, field: str) -> None:
    dev.write(CATALOG, with_amenity_field(dev.read(CATALOG), field))


# -- pages follow the spec -------------------------------------------------------------------------


def test_landing_edit_shows_in_the_open_page(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    _, title = promo_hero(dev.project)
    assert hero_title(page) == title
    page.evaluate("window.__beforeEdit = true")
    line = title_line(dev.project)
    dev.replace(PROMO, line, line.replace(title, "Весна в дев-режиме"))
    page.wait_for_function(
        "document.querySelector('h1.hero__title')?.textContent === 'Весна в дев-режиме'"
    )
    # patched in place: the same document, no navigation
    assert page.evaluate("window.__beforeEdit") is True
    assert re.search(r"^reloaded in \d+ ms \(1 landings rebuilt\)$", dev.output(), re.M)


def test_block_template_edit_reloads_the_pages_using_it(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    template = f"{HERO}/template.html.j2"
    dev.replace(template, 'class="hero__title"', 'class="hero__title" data-edited="yes"')
    page.wait_for_function("document.querySelector('h1.hero__title[data-edited=yes]') !== null")
    dev.wait_reloads(1)
    assert 'data-edited="yes"' in dev.get("/").text  # home uses the hero too
    assert "data-edited" not in dev.get("/privacy/").text


def test_stylesheet_is_swapped_without_a_reload(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    page.evaluate("window.__beforeEdit = 42")
    color = "getComputedStyle(document.querySelector('h1.hero__title')).color"
    assert page.evaluate(color) != "rgb(1, 2, 3)"
    css = f"{HERO}/style.css"
    dev.write(css, dev.read(css) + "\n.hero__title { color: rgb(1, 2, 3); }\n")
    page.wait_for_function(f"{color} === 'rgb(1, 2, 3)'")
    assert page.evaluate("window.__beforeEdit") == 42  # the same document: no reload
    dev.wait_reloads(1)
    # the stylesheet alone was rebuilt: no page was rendered again
    assert re.search(r"^reloaded in \d+ ms \(stylesheet swapped\)$", dev.output(), re.M)
    assert page.locator("link[rel=stylesheet]").count() == 1  # the old one went once replaced


# -- pages patched in place -----------------------------------------------------------------------
#
# A page patches itself with its new HTML (runtime/static/dev.js): a mark left on `window` before an
# edit is still there after it when no navigation happened.

FAMILY = "spec/landings/promo-family-mortgage.yaml"
FAMILY_URL = "/promo/family-mortgage/"


def mark(page: Page) -> None:
    page.evaluate("window.__sameDocument = true")


def same_document(page: Page) -> bool:
    found: bool = page.evaluate("window.__sameDocument === true")
    return found


def posts(page: Page) -> list[str]:
    """The URLs of the POST requests the page makes from now on."""
    found: list[str] = []
    page.on(
        "request", lambda request: found.append(request.url) if request.method == "POST" else None
    )
    return found


def countdown_running(page: Page) -> bool:
    """Whether the countdown script set up the countdown: the timer shown, the days counted."""
    found: bool = page.evaluate(
        """(() => {
          const timer = document.querySelector('[data-countdown-timer]');
          const days = document.querySelector('[data-countdown] [data-unit="d"]');
          return timer !== null && !timer.hidden && days !== null && days.textContent !== '00';
        })()"""
    )
    return found


def submit_empty_lead_form(page: Page) -> None:
    """Send the lead form without a name: the form script shows the errors in the page. Sent
    as a person would, not sooner than the time trap allows (runtime/forms.py TOO_FAST_MS)."""
    page.wait_for_function(f"performance.now() > {TOO_FAST_MS + 100}")
    page.evaluate(
        """document.querySelectorAll('form[data-ecospec-form] [data-error-for]')
             .forEach((el) => { el.textContent = ''; })"""
    )
    page.locator("form[data-ecospec-form] [type=submit]").click()
    page.wait_for_function(
        "document.querySelector('form[data-ecospec-form] [data-form-status]')"
        "?.getAttribute('data-state') === 'error'"
    )


def test_scripts_set_up_the_blocks_a_patch_replaces_and_leave_the_others_alone(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    page.wait_for_function("document.querySelector('[data-countdown-timer]')?.hidden === false")
    mark(page)
    sent = posts(page)

    # the countdown changes: its block is new, and the countdown script sets it up
    page.evaluate("window.__oldCountdown = document.querySelector('[data-countdown]')")
    dev.replace(PROMO, "expired_text: Акция завершена.", "expired_text: Акция окончена.")
    page.wait_for_function(
        "document.querySelector('[data-countdown]')?.dataset.expired.startsWith('Акция окончена.')"
    )
    assert same_document(page)
    assert page.evaluate("window.__oldCountdown.isConnected") is False
    assert page.locator("[data-countdown]").count() == 1
    assert countdown_running(page)
    seconds = "document.querySelector('[data-countdown] [data-unit=\"s\"]').textContent"
    before = page.evaluate(seconds)
    page.wait_for_function(f"{seconds} !== {before!r}")  # it ticks

    # the lead form did not change: it was kept, set up once, and posts once
    submit_empty_lead_form(page)
    assert len(sent) == 1, sent
    assert page.locator("form[data-ecospec-form] [aria-invalid=true]").count() >= 1

    # the lead form changes: the new one is set up, and posts once too
    dev.replace(PROMO, "title: Забронировать квартиру по весенней цене", "title: Бронь по весне")
    page.wait_for_function(
        "[...document.querySelectorAll('h2')].some((h) => h.textContent.trim() === 'Бронь по весне')"
    )
    assert same_document(page)
    assert page.locator("form[data-ecospec-form] [aria-invalid=true]").count() == 0  # new form
    submit_empty_lead_form(page)
    assert len(sent) == 2, sent
    assert countdown_running(page)  # the countdown, kept this time, still runs


def test_the_mortgage_calculator_works_on_a_patched_page(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, FAMILY_URL)
    page.wait_for_function(
        "document.querySelector('[data-mortgage]')?.classList.contains('is-live')"
    )
    mark(page)
    dev.replace(FAMILY, "title: Сколько вы будете платить", "title: Ваш платёж по ипотеке")
    page.wait_for_function(
        "document.querySelector('[data-mortgage] h2')?.textContent.includes('Ваш платёж по ипотеке')"
    )
    assert same_document(page)
    assert page.locator("[data-mortgage]").count() == 1
    assert page.evaluate("document.querySelector('[data-mortgage]').classList.contains('is-live')")
    payment = "document.querySelector('[data-mortgage] [data-show=\"payment\"]').textContent"
    before = page.evaluate(payment)
    page.evaluate(
        """(() => {
          const term = document.querySelector('[data-mortgage-term]');
          term.value = '10';
          term.dispatchEvent(new Event('input'));
        })()"""
    )
    page.wait_for_function(f"{payment} !== {before!r}")


def test_the_page_reloads_when_the_site_scripts_change(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    mark(page)
    script = "blocks/countdown/script.js"
    dev.write(script, dev.read(script) + "\nwindow.__countdownEdited = true;\n")
    page.wait_for_function("window.__countdownEdited === true")
    assert not same_document(page)  # a script cannot be patched in: the page reloaded
    dev.wait_reloads(1)


def test_the_page_reloads_when_its_new_version_loads_other_scripts(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    """Without its countdown the page loads one script less. The site's scripts are as they
    were (another landing has a countdown), so the page is told it may patch itself, and finds
    out it cannot."""
    page = open_page(dev, PROMO_URL)
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    mark(page)
    text = dev.read(PROMO)
    start = text.index("  - countdown:")
    dev.write(PROMO, text[:start] + text[text.index("  - catalog_grid:") :])
    page.wait_for_function("document.querySelector('[data-countdown]') === null")
    assert not same_document(page)
    assert any("the page's scripts or stylesheets changed" in line for line in said), said
    assert page.locator("script[src*=countdown]").count() == 0


def test_a_page_whose_address_is_gone_reloads_to_the_not_found_page(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    mark(page)
    dev.replace(PROMO, "path: /promo/spring-sale/", "path: /promo/spring-sale-2027/")
    page.wait_for_function("document.querySelector('h1.hero__title') === null")
    assert not same_document(page)
    assert dev.get(PROMO_URL).status_code == 404
    assert page.evaluate("window.location.pathname") == PROMO_URL


def test_patchable_only_when_pages_alone_changed() -> None:
    assert patchable(set())
    assert patchable({"promo/spring-sale/index.html", "index.html", "sitemap.xml", "404.html"})
    assert not patchable({"promo/spring-sale/index.html", "assets/site.css"})
    assert not patchable({"assets/countdown.js"})
    assert not patchable({"media/logo.svg"})


# -- mistakes --------------------------------------------------------------------------------------


def test_a_spec_error_shows_in_the_overlay_and_goes_away_when_fixed(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    mark(page)
    _, title = promo_hero(dev.project)
    text = dev.read(CATALOG)
    broken = with_amenity_field(text, "note: {type: txet, title: Заметка}")
    line, column = line_of(broken, "txet")
    message = (
        f"{CATALOG}:{line}:{column}: entities.Amenity.fields.note.type: "
        "unknown type 'txet' (did you mean 'text'?)"
    )
    dev.write(CATALOG, broken)
    page.locator(OVERLAY).wait_for()
    assert message in overlay_text(page)
    assert message in dev.output()  # and in the terminal
    # the last good ecosystem keeps running
    assert dev.get("/healthz").json() == {"status": "ok", "ecosystem": "north-quarter"}
    assert dev.graphql("{ amenities(limit: 1) { description } }").get("errors") is None
    assert title in dev.get(PROMO_URL).text
    # a page opened now shows the errors at once
    late = open_page(dev, "/")
    late.locator(OVERLAY).wait_for()
    assert message in overlay_text(late)

    dev.write(CATALOG, text)
    page.wait_for_function(f"document.querySelector('{OVERLAY}') === null")
    late.wait_for_function(f"document.querySelector('{OVERLAY}') === null")
    assert hero_title(page) == title
    assert same_document(page)  # shown, then hidden, in the page as it was: no reload


def test_a_yaml_error_in_a_landing_names_its_line_and_the_fix_recovers_the_page(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    index, title = promo_hero(dev.project)
    line = title_line(dev.project)
    number, _ = line_of(dev.read(PROMO), line)

    # a template mistake in a value: file, line and column of the value, and its key path
    dev.replace(PROMO, line, line.replace(title, '"{{ oops }"'))
    page.locator(OVERLAY).wait_for()
    message = (
        f"{PROMO}:{number}:{line.index(title) + 1}: "
        f"landings.promo-spring-sale.blocks[{index}].hero.title: template: unexpected '}}'"
    )
    assert message in overlay_text(page)

    # a YAML syntax error: the file and the line where the parser gave up
    dev.replace(PROMO, '"{{ oops }"', "[broken")
    page.wait_for_function(
        f"document.querySelector('{OVERLAY}')?.textContent.includes('YAML syntax')"
    )
    found = re.search(rf"{re.escape(PROMO)}:(\d+):\d+: YAML syntax: ", overlay_text(page))
    assert found, overlay_text(page)
    assert int(found.group(1)) in (number, number + 1)  # the parser notices on the next line

    dev.replace(PROMO, "[broken", "Весна починена")
    page.wait_for_function(
        f"document.querySelector('{OVERLAY}') === null"
        " && document.querySelector('h1.hero__title')?.textContent === 'Весна починена'"
    )


# -- the data --------------------------------------------------------------------------------------


def test_a_rebuilt_page_shows_data_written_since_the_last_build(dev: Dev) -> None:
    """Pages ask the database again once it has been written, here by another process."""
    with contextlib.closing(sqlite3.connect(dev.project / "var" / "north-quarter.db")) as db:
        db.execute("UPDATE complex SET name = 'Квартал из другого процесса' WHERE status = 'ready'")
        db.commit()
    _, title = promo_hero(dev.project)
    line = title_line(dev.project)
    dev.replace(PROMO, line, line.replace(title, "Весна с новыми данными"))
    dev.wait_reloads(1)
    served = dev.get(PROMO_URL).text
    assert "Весна с новыми данными" in served
    assert "Квартал из другого процесса" in served


# -- the data model --------------------------------------------------------------------------------


def test_a_new_field_is_queryable_without_a_restart(dev: Dev) -> None:
    query = "{ amenities(limit: 1) { name note } }"
    assert "Cannot query field 'note'" in dev.graphql(query)["errors"][0]["message"]
    add_amenity_field(dev, "note: {type: text, title: Заметка}")

    def answered() -> dict[str, Any] | None:
        dev.check_alive()
        found = dev.graphql(query)
        return found if "errors" not in found else None

    found = wait_for(answered, "the new field to be queryable")
    assert found["data"]["amenities"][0]["note"] is None
    assert found["data"]["amenities"][0]["name"]
    # and it can be written: the column exists
    with contextlib.closing(sqlite3.connect(dev.project / "var" / "north-quarter.db")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(amenity)")]
    assert "note" in columns


def test_a_new_field_arrives_while_the_bus_writes(seeded: Path, tmp_path: Path) -> None:
    """Right after start the demo's bus retries the seeded CRM deliveries, writing all the while;
    the migration must take its turn, not fail with 'database is locked' (it did before SQLite
    writers took the write lock at BEGIN)."""
    project = tmp_path / "demo"
    shutil.copytree(seeded, project, ignore=shutil.ignore_patterns(".ecospec"))
    with contextlib.closing(sqlite3.connect(project / "var" / "north-quarter.db")) as db:
        db.execute(
            "UPDATE ecospec_deliveries SET status = 'pending', attempts = 0, "
            "next_attempt_at = '2000-01-01T00:00:00+00:00' WHERE subscriber = 'webhook:crm'"
        )
        db.commit()
    with developing(project) as dev:
        add_amenity_field(dev, "note: {type: text}")
        dev.wait_reloads(1)
        assert "database is locked" not in dev.output()
        assert dev.graphql("{ amenities(limit: 1) { note } }").get("errors") is None


# -- serving ---------------------------------------------------------------------------------------


def test_the_reload_script_is_served_never_written(dev: Dev) -> None:
    served = dev.get(PROMO_URL)
    assert served.text.count(SCRIPT_TAG.decode()) == 1
    assert served.text.index(SCRIPT_TAG.decode()) < served.text.index("</body>")
    assert dev.get("/__ecospec/dev.js").headers["content-type"].startswith("text/javascript")
    _, title = promo_hero(dev.project)
    line = title_line(dev.project)
    dev.replace(PROMO, line, line.replace(title, "Весна на диске"))
    dev.wait_reloads(1)
    css = f"{HERO}/style.css"
    dev.write(css, dev.read(css) + "\n.hero { outline: 0; }\n")
    dev.wait_reloads(2)
    builds = sorted((dev.project / ".ecospec" / "dev").glob("sites-*"))
    assert builds
    pages = [p for build in builds for p in build.rglob("*.html")]
    assert pages
    assert any("Весна на диске" in p.read_text(encoding="utf-8") for p in pages)
    marked = [p for p in pages if b"__ecospec" in p.read_bytes()]
    assert marked == []
    assert not (dev.project / "sites").exists()  # the dev build stays in .ecospec/dev


def test_healthz_keeps_answering_during_reloads(dev: Dev) -> None:
    statuses: list[int | str] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.get(dev.base + "/healthz").status_code)
                except httpx.HTTPError as exc:
                    statuses.append(type(exc).__name__)
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        _, title = promo_hero(dev.project)
        line = title_line(dev.project)
        dev.replace(PROMO, line, line.replace(title, "Весна под нагрузкой"))
        dev.wait_reloads(1)
        add_amenity_field(dev, "note: {type: text}")
        dev.wait_reloads(2)
    finally:
        stop.set()
        poller.join()
    assert len(statuses) > 10
    assert set(statuses) == {200}


# -- bugs found while testing, pinned ----------------------------------------------------------------


def test_the_server_recovers_from_a_failed_build(dev: Dev) -> None:
    """A template that compiles but fails on every page: the build of the pages fails."""
    template = f"{HERO}/template.html.j2"
    good = dev.read(template)
    dev.replace(template, "<h1", "{{ params.no_such_param }}<h1")
    wait_for(lambda: "no_such_param" in dev.output(), "the build error")
    dev.write(template, good)
    _, title = promo_hero(dev.project)
    line = title_line(dev.project)
    dev.replace(PROMO, line, line.replace(title, "Весна после ошибки"))
    wait_for(
        lambda: (
            "Весна после ошибки" in dev.get(PROMO_URL).text or "FileExistsError" in dev.output()
        ),
        "the page or the error",
    )
    assert "Весна после ошибки" in dev.get(PROMO_URL).text, dev.output()


def test_a_block_template_error_names_its_file_and_line(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    template = f"{HERO}/template.html.j2"
    number, _ = line_of(dev.read(template), "<h1")
    dev.replace(template, "<h1", "{{ oops( }}<h1")
    page.locator(OVERLAY).wait_for()
    assert f"{template}:{number}" in overlay_text(page)


def test_a_block_edited_while_the_spec_is_broken_is_applied_after_the_fix(dev: Dev) -> None:
    _, title = promo_hero(dev.project)
    line = title_line(dev.project)
    dev.replace(PROMO, line, line.replace(title, "[broken"))
    wait_for(lambda: "YAML syntax" in dev.output(), "the YAML error")
    template = f"{HERO}/template.html.j2"
    dev.replace(template, 'class="hero__title"', 'class="hero__title" data-edited="yes"')
    wait_for(lambda: dev.output().count("YAML syntax") >= 2, "the second failed reload")
    dev.replace(PROMO, "[broken", "Весна починена")
    dev.wait_reloads(1)
    served = dev.get(PROMO_URL).text
    assert "Весна починена" in served
    assert 'data-edited="yes"' in served


def test_a_block_definition_error_shows_and_the_fix_recovers(
    dev: Dev, open_page: Callable[[Dev, str], Page]
) -> None:
    page = open_page(dev, PROMO_URL)
    definition = f"{HERO}/block.yaml"
    good = dev.read(definition)
    broken = good.replace("values: [split, cover]", "values: split-or-cover", 1)
    assert broken != good
    number, _ = line_of(broken, "values: split-or-cover")
    dev.write(definition, broken)
    page.locator(OVERLAY).wait_for()
    assert f"{definition}:{number}:" in overlay_text(page)
    assert f"{definition}:{number}:" in dev.output()
    _, title = promo_hero(dev.project)
    assert title in dev.get(PROMO_URL).text  # the last good site is served meanwhile
    dev.write(definition, good)
    page.wait_for_function(f"document.querySelector('{OVERLAY}') === null")
    assert hero_title(page) == title


def test_two_build_folders_take_turns_and_every_edit_adds_up(dev: Dev) -> None:
    """Each reload builds into the folder not served, then serves it; the folder served until
    then catches up with what that build changed, so the build after it starts from the newest
    site: an edit is never lost by the one that follows."""
    _, title = promo_hero(dev.project)
    line = title_line(dev.project)
    dev.replace(PROMO, line, line.replace(title, "Весна первая"))
    dev.wait_reloads(1)
    template = f"{HERO}/template.html.j2"
    dev.replace(template, 'class="hero__title"', 'class="hero__title" data-edited="yes"')
    dev.wait_reloads(2)
    served = dev.get(PROMO_URL).text
    assert "Весна первая" in served and 'data-edited="yes"' in served
    dev.replace(PROMO, "Весна первая", "Весна вторая")
    dev.wait_reloads(3)
    served = dev.get(PROMO_URL).text
    assert "Весна вторая" in served and 'data-edited="yes"' in served
    work = dev.project / ".ecospec" / "dev"
    assert sorted(p.name for p in work.iterdir() if p.is_dir()) == ["sites-0", "sites-1"]
    # both folders hold the newest promo page once the second caught up
    for folder in ("sites-0", "sites-1"):
        page = (work / folder / "promo" / "spring-sale" / "index.html").read_text(encoding="utf-8")
        assert "Весна вторая" in page and 'data-edited="yes"' in page, folder


def test_sites_is_left_as_ecospec_build_made_it(project: Path) -> None:
    done = subprocess.run(
        [str(ecospec_executable()), "build", "--project", str(project)],
        capture_output=True,
        text=True,
        env=env(),
        cwd=project,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    def snapshot() -> dict[str, str]:
        sites = project / "sites"
        return {
            p.relative_to(sites).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(sites.rglob("*"))
            if p.is_file()
        }

    before = snapshot()
    with developing(project) as dev:
        _, title = promo_hero(project)
        line = title_line(project)
        dev.replace(PROMO, line, line.replace(title, "Весна только в деве"))
        dev.wait_reloads(1)
    after = snapshot()
    assert [k for k in before if before[k] != after.get(k)] == []


def test_a_webhook_added_while_developing_receives_events(project: Path) -> None:
    hits: list[str] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    secrets = {
        "ECOSPEC_JWT_SECRET": "a test secret that is long enough for HS256 signing",
        "ECOSPEC_TEST_HOOK_SECRET": "whsec_test_5b1f0c2e9d8a4b7c",
    }
    try:
        with developing(project, secrets) as dev:
            hooks = dev.read("spec/webhooks.yaml")
            dev.write(
                "spec/webhooks.yaml",
                hooks.rstrip("\n")
                + "\n  added:\n"
                + f"    url: http://127.0.0.1:{server.server_address[1]}/added\n"
                + "    secret_env: ECOSPEC_TEST_HOOK_SECRET\n"
                + "    events:\n      Lead: [create]\n",
            )
            dev.wait_reloads(1)
            token = subprocess.run(
                [str(ecospec_executable()), "token", "--project", str(project), "--role", "admin"],
                capture_output=True,
                text=True,
                env={**env(), **secrets},
                check=True,
            ).stdout.strip()
            created = httpx.post(
                dev.base + "/graphql",
                json={"query": 'mutation { createLead(input: {name: "Тест"}) { id } }'},
                headers={"authorization": f"Bearer {token}"},
                timeout=30,
            ).json()
            assert created.get("errors") is None, created
            deadline = time.monotonic() + 10  # the bus polls every 0.25 s
            while not hits and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert hits == ["/added"]


# -- the second folder catching up ------------------------------------------------------------------


def test_follow_brings_a_copy_up_to_date_by_the_files_a_build_changed(tmp_path: Path) -> None:
    built, copy, static = tmp_path / "built", tmp_path / "copy", tmp_path / "static"
    static.mkdir()
    (static / "robots.txt").write_text("static\n", encoding="utf-8")
    for folder in (built, copy):
        (folder / "a").mkdir(parents=True)
        (folder / "a" / "index.html").write_text("old a", encoding="utf-8")
        (folder / "gone").mkdir()
        (folder / "gone" / "index.html").write_text("old gone", encoding="utf-8")
        (folder / MANIFEST).write_text("{}", encoding="utf-8")
        (folder / "robots.txt").write_text("static\n", encoding="utf-8")
    (built / "a" / "index.html").write_text("new a", encoding="utf-8")
    (built / "b").mkdir()
    (built / "b" / "index.html").write_text("new b", encoding="utf-8")
    shutil.rmtree(built / "gone")
    (built / MANIFEST).write_text('{"pages": {}}', encoding="utf-8")
    (built / "robots.txt").write_text("changed\n", encoding="utf-8")
    changed = {"a/index.html", "b/index.html", "gone/index.html", "robots.txt", "../outside"}

    follow(built, copy, changed, static)

    def files(folder: Path) -> dict[str, str]:
        return {
            p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    assert files(copy) == files(built)
    assert not (copy / "gone").exists()  # an emptied folder goes too
    assert not (tmp_path / "outside").exists()  # nothing is written outside the copy
    # pages are shared with the build (hard links); what a build rewrites in place is copied
    assert (copy / "a" / "index.html").stat().st_ino == (built / "a" / "index.html").stat().st_ino
    assert (copy / MANIFEST).stat().st_ino != (built / MANIFEST).stat().st_ino
    assert (copy / "robots.txt").stat().st_ino != (built / "robots.txt").stat().st_ino


# -- DevServer.touched -------------------------------------------------------------------------------


@dataclass
class Touching:
    """A project on disk and its DevServer, to ask which landings a change touches."""

    project: Path
    server: DevServer
    spec: Spec

    def reload(self) -> Spec:
        result = load_project(self.project)
        assert result.spec is not None, [str(d) for d in result.errors]
        return result.spec

    def touched(self, new: Spec, *changed: str, data_model: bool = False) -> set[str]:
        paths = [self.project / rel for rel in changed]
        return self.server.touched(self.spec, new, self.server.library, paths, data_model)

    def using(self, block: str) -> set[str]:
        return {
            name
            for name, landing in self.spec.landings.items()
            if any(block in b for b in landing.blocks)
        }


def touching_at(project: Path, *, copy: bool = True) -> Touching:
    if copy:
        copy_project(project)
    result = load_project(project)
    assert result.spec is not None, [str(d) for d in result.errors]
    return Touching(project, DevServer(project), result.spec)


@pytest.fixture
def touching(tmp_path: Path) -> Touching:
    return touching_at(tmp_path / "demo")


def test_touched_by_a_landing_file_is_that_landing(touching: Touching) -> None:
    _, title = promo_hero(touching.project)
    path = touching.project / PROMO
    path.write_text(path.read_text(encoding="utf-8").replace(title, "Другой заголовок", 1))
    assert touching.touched(touching.reload(), PROMO) == {"promo-spring-sale"}


def test_touched_by_a_saved_but_unchanged_landing_is_nothing(touching: Touching) -> None:
    assert touching.touched(touching.reload(), PROMO) == set()


def test_touched_by_a_new_landing_is_that_landing(touching: Touching) -> None:
    text = (touching.project / "spec/landings/privacy.yaml").read_text(encoding="utf-8")
    text = text.replace("landing: privacy", "landing: privacy-copy").replace(
        "path: /privacy/", "path: /privacy-copy/"
    )
    (touching.project / "spec/landings/privacy-copy.yaml").write_text(text, encoding="utf-8")
    new = touching.reload()
    assert "privacy-copy" in new.landings
    assert touching.touched(new, "spec/landings/privacy-copy.yaml") == {"privacy-copy"}


def test_touched_by_a_removed_landing_is_nothing_to_render(touching: Touching) -> None:
    (touching.project / "spec/landings/privacy.yaml").unlink()
    assert touching.touched(touching.reload(), "spec/landings/privacy.yaml") == set()


def test_touched_by_a_block_template_is_the_landings_using_the_block(touching: Touching) -> None:
    new = touching.reload()
    hero = touching.using("hero")
    assert hero and hero != set(new.landings)  # the privacy page has no hero
    assert touching.touched(new, f"{HERO}/template.html.j2") == hero
    assert touching.touched(new, f"{HERO}/block.yaml") == hero
    assert touching.touched(new, "blocks/countdown/template.html.j2") == touching.using("countdown")
    assert touching.touched(new, "blocks/countdown/template.html.j2", PROMO) == touching.using(
        "countdown"
    )


def test_touched_by_a_block_no_landing_uses_is_nothing(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    copy_project(project)
    shutil.copytree(project / "blocks/text", project / "blocks/spare")
    touching = touching_at(project, copy=False)
    assert "spare" in touching.server.library.blocks
    assert touching.touched(touching.reload(), "blocks/spare/template.html.j2") == set()


@pytest.mark.parametrize(
    "changed",
    [f"{HERO}/style.css", "static/favicon.ico", "static/media/logo-light.svg"],
)
def test_touched_by_a_stylesheet_or_a_static_file_is_every_landing(
    touching: Touching, changed: str
) -> None:
    new = touching.reload()
    assert touching.touched(new, changed) == set(new.landings)


def test_touched_by_the_data_model_is_every_landing(touching: Touching) -> None:
    new = touching.reload()
    assert touching.touched(new, CATALOG, data_model=True) == set(new.landings)


def test_touched_by_the_site_settings_is_every_landing(touching: Touching) -> None:
    path = touching.project / "spec/ecosystem.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "title: Северный квартал", "title: Северный квартал 2", 1
        ),
        encoding="utf-8",
    )
    new = touching.reload()
    assert new.title == "Северный квартал 2"
    assert touching.touched(new, "spec/ecosystem.yaml") == set(new.landings)


def test_touched_in_a_project_under_a_folder_named_static(tmp_path: Path) -> None:
    touching = touching_at(tmp_path / "static" / "demo")
    _, title = promo_hero(touching.project)
    path = touching.project / PROMO
    path.write_text(path.read_text(encoding="utf-8").replace(title, "Другой", 1))
    assert touching.touched(touching.reload(), PROMO) == {"promo-spring-sale"}
