"""The sites subscriber, on SQLite and PostgreSQL: the demo's sites built into a temporary folder,
then changes made over GraphQL as the admin role (in process) and delivered with
Dispatcher.run_once. The page files follow: a new price appears where the apartment
is shown and nowhere else is rewritten; a sold apartment leaves its complex's grid and loses its
page; a new complex gets its page and a sitemap entry, a deleted one loses them; and the live
folder ends up byte for byte what a full build makes. Last, `ecospec worker --sites` in a
subprocess does the same for a price change."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dbs import (
    ROOT,
    SeededDemo,
    build_demo,
    copy_sqlite,
    demo_spec,
    postgres_schema,
    resolve,
    sqlite_path,
    sqlite_url,
)
from sqlalchemy import select, update
from test_webhooks import ecospec_command, process_env, running, wait_for

from ecospec.generator.blocks import load_blocks
from ecospec.generator.build import MANIFEST, BuildReport, build_site
from ecospec.generator.manifest import page_index
from ecospec.generator.render import money
from ecospec.runtime.bus import DatabaseBus, Dispatcher
from ecospec.runtime.ecosystem import Ecosystem
from ecospec.runtime.livesites import CHANGED_LIST, SitesSubscriber
from ecospec.runtime.system import deliveries
from ecospec.runtime.types import Session

pytest_plugins = ["dbs"]

BASE = demo_spec().site.base_url.rstrip("/")
BOOKKEEPING = {MANIFEST, CHANGED_LIST}


@dataclass(frozen=True)
class File:
    data: bytes
    mtime: int


Snapshot = dict[str, File]


def snapshot(folder: Path) -> Snapshot:
    return {
        p.relative_to(folder).as_posix(): File(p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def url_of(file: str) -> str:
    """The URL of a page file: apartments/X/index.html -> BASE/apartments/X/."""
    return BASE + "/" + file.removesuffix("index.html")


def links(html: bytes, code: str) -> bool:
    return f'href="/apartments/{code}/"'.encode() in html


class LiveSite:
    """The demo on one database: its sites built into `out`, its GraphQL API as the admin role
    sees it, and a dispatcher with the sites subscriber alone, on one loop of their own. (No app
    lifespan: its subscription feed would sit paused mid-transaction between the test's steps,
    holding SQLite's lock against the worker process.)"""

    def __init__(self, database: str, out: Path) -> None:
        self.database = database
        self.out = out
        self.runner = asyncio.Runner()
        self.eco = Ecosystem.build(ROOT, demo_spec(), resolve(database))
        self.admin = self.eco.service("admin")
        self.library = load_blocks(ROOT)
        self.sites = self.subscriber(out)
        self.dispatcher = Dispatcher(DatabaseBus(self.eco.engine), [self.sites])

    def subscriber(self, out: Path) -> SitesSubscriber:
        """The sites subscriber of this ecosystem, keeping the pages in `out`."""
        eco = self.eco
        return SitesSubscriber(
            eco.spec, eco.catalog, eco.engine, eco.source, ROOT, out, self.library
        )

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request as the admin role (what /graphql runs for an admin's token); the test fails
        on any error."""
        session = Session("admin", {"id": "1"})
        body = self.runner.run(self.admin.respond(query, variables, None, session))
        answer = json.loads(body)
        if answer.get("errors"):
            pytest.fail(f"unexpected errors: {answer['errors']}")
        data: dict[str, Any] = answer["data"]
        return data

    def build(self, out: Path) -> BuildReport:
        source = self.eco.source()
        return self.runner.run(build_site(self.eco.spec, self.library, source, ROOT, out))

    def deliver(self) -> int:
        """Deliver what is due, round after round, until nothing is left."""
        handled = 0
        while n := self.runner.run(self.dispatcher.run_once()):
            handled += n
        return handled

    def forget_backlog(self) -> None:
        """The seed's events are in the build already: mark them delivered."""

        async def done() -> None:
            async with self.eco.engine.begin() as conn:
                await conn.execute(
                    update(deliveries).where(deliveries.c.status == "pending").values(status="done")
                )

        self.runner.run(done())

    def changed_urls(self) -> list[str]:
        path = self.out / CHANGED_LIST
        return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []

    def close(self) -> None:
        self.runner.run(self.eco.close())
        self.runner.close()


@pytest.fixture(scope="module")
def site_database(
    backend: str, seeded_demo: SeededDemo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A seeded demo of this module's own (a copy on SQLite, a schema on PostgreSQL)."""
    if backend == "sqlite":
        copy = tmp_path_factory.mktemp("live") / "demo.db"
        copy_sqlite(sqlite_path(seeded_demo.url), copy)
        yield sqlite_url(copy)
        return
    with postgres_schema() as url:
        build_demo(url)
        yield url


@pytest.fixture(scope="module")
def site(site_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    out = tmp_path_factory.mktemp("sites") / "sites"
    live = LiveSite(site_database, out)
    try:
        report = live.build(out)
        assert report.pages > 100 and (out / MANIFEST).is_file()
        # the seed's first batch of events rewrites nothing: the build has them already
        before = snapshot(out)
        assert live.runner.run(live.dispatcher.run_once()) == 50
        assert snapshot(out) == before
        live.forget_backlog()
        yield live
    finally:
        live.close()


def free_apartment(site: LiveSite, skip: int = 0) -> dict[str, Any]:
    """A free apartment of «Липовый парк», with a page of its own."""
    found = site.graphql(
        """query($skip: Int) { apartments(
             where: {status: {eq: free}, complex: {slug: {eq: "lipovyi-park"}}},
             orderBy: [{code: ASC}], limit: 1, offset: $skip) { id code price complex { slug } } }""",
        {"skip": skip},
    )["apartments"][0]
    assert isinstance(found, dict)
    return found


def changed(before: Snapshot, after: Snapshot) -> set[str]:
    return {f for f in set(before) | set(after) if before.get(f) != after.get(f)}


def test_a_price_change_reaches_the_pages_that_show_the_apartment_and_no_other(
    site: LiveSite,
) -> None:
    apartment = free_apartment(site)
    code, own, complex_page = (
        apartment["code"],
        f"apartments/{apartment['code']}/index.html",
        f"complexes/{apartment['complex']['slug']}/index.html",
    )
    price = (Decimal(apartment["price"]) * Decimal("1.07")).quantize(Decimal(1)) + 1
    before = snapshot(site.out)
    listed = len(site.changed_urls())

    site.graphql(
        "mutation($id: ID!, $price: Money!) { updateApartment(id: $id, input: {price: $price}) { id } }",
        {"id": apartment["id"], "price": str(price)},
    )
    assert site.deliver() == 1
    after = snapshot(site.out)

    shown = money(price).encode()
    assert shown in after[own].data and shown not in before[own].data
    assert shown in after[complex_page].data
    touched = changed(before, after) - BOOKKEEPING
    rewritten = {f for f in touched if before[f].data != after[f].data}
    assert touched == rewritten  # no file written with the same bytes again
    assert {own, complex_page} <= rewritten
    for file in rewritten:  # every page rewritten showed the apartment, or shows it now
        assert file.endswith("index.html"), file
        assert file == own or links(before[file].data, code) or links(after[file].data, code)
    untouched = set(before) - touched - BOOKKEEPING
    assert all(before[f] == after[f] for f in untouched)  # same bytes, same mtime
    assert {"sitemap.xml", "robots.txt", "404.html"} <= untouched
    assert sorted(site.changed_urls()[listed:]) == sorted(url_of(f) for f in rewritten)


def test_a_sold_apartment_leaves_its_complex_grid_and_loses_its_page(site: LiveSite) -> None:
    apartment = free_apartment(site, skip=1)
    code = apartment["code"]
    own = f"apartments/{code}/index.html"
    complex_page = f"complexes/{apartment['complex']['slug']}/index.html"
    before = snapshot(site.out)
    assert links(before[complex_page].data, code)
    listed = len(site.changed_urls())

    site.graphql(
        f'mutation {{ updateApartment(id: "{apartment["id"]}", input: {{status: sold}}) {{ id }} }}'
    )
    assert site.deliver() == 1
    after = snapshot(site.out)

    assert own not in after and not (site.out / "apartments" / code).exists()
    assert not links(after[complex_page].data, code)
    assert not any(links(f.data, code) for f in after.values())
    page_url = f"{BASE}/apartments/{code}/"
    assert page_url.encode() in before["sitemap.xml"].data
    assert page_url.encode() not in after["sitemap.xml"].data
    assert {page_url, url_of(complex_page), f"{BASE}/sitemap.xml"} <= set(
        site.changed_urls()[listed:]
    )


def test_a_new_complex_gets_its_page_and_a_sitemap_entry_and_loses_them_when_deleted(
    site: LiveSite,
) -> None:
    listed = len(site.changed_urls())
    made = site.graphql(
        'mutation { createComplex(input: {name: "Квартал у моста", city: "Тверь", '
        "status: building}) { id slug } }"
    )["createComplex"]
    assert site.deliver() == 1
    page = f"complexes/{made['slug']}/index.html"
    page_url = f"{BASE}/complexes/{made['slug']}/"
    assert "Квартал у моста" in (site.out / page).read_text(encoding="utf-8")
    assert page_url in (site.out / "sitemap.xml").read_text(encoding="utf-8")
    assert page_url.removeprefix(BASE) in (site.out / "index.html").read_text(encoding="utf-8")
    assert {page_url, f"{BASE}/sitemap.xml", f"{BASE}/"} <= set(site.changed_urls()[listed:])

    listed = len(site.changed_urls())
    site.graphql(f'mutation {{ deleteComplex(id: "{made["id"]}") {{ id }} }}')
    assert site.deliver() == 1
    assert not (site.out / page).exists() and not (site.out / page).parent.exists()
    assert page_url not in (site.out / "sitemap.xml").read_text(encoding="utf-8")
    assert page_url.removeprefix(BASE) not in (site.out / "index.html").read_text(encoding="utf-8")
    assert {page_url, f"{BASE}/sitemap.xml", f"{BASE}/"} <= set(site.changed_urls()[listed:])


def test_a_worker_process_rewrites_the_page_file(site: LiveSite, tmp_path: Path) -> None:
    """`ecospec worker --sites DIR` in a subprocess: a price change over GraphQL reaches the page
    file without this process delivering anything, and the worker rewrites only the pages that
    show the apartment."""
    apartment = free_apartment(site, skip=2)
    code = apartment["code"]
    own = f"apartments/{code}/index.html"
    complex_page = f"complexes/{apartment['complex']['slug']}/index.html"
    price = Decimal(apartment["price"]) + 12345
    before = snapshot(site.out)
    command = ecospec_command("worker", "--project", str(ROOT), "--sites", str(site.out))
    with running(command, process_env(site.database), tmp_path / "worker", "worker for "):
        site.graphql(
            "mutation($id: ID!, $p: Money!) { updateApartment(id: $id, input: {price: $p}) { id } }",
            {"id": apartment["id"], "p": str(price)},
        )
        wait_for(
            lambda: money(price).encode() in (site.out / own).read_bytes(),
            "the worker to write the new price into the page file",
        )
        wait_for(lambda: sites_deliveries(site) == {"done"}, "the worker to finish the rebuild")
    after = snapshot(site.out)
    shown = money(price).encode()
    assert shown in after[complex_page].data and shown not in before[complex_page].data
    rewritten = {f for f in changed(before, after) - BOOKKEEPING if f.endswith(".html")}
    assert {own, complex_page} <= rewritten
    for file in rewritten:  # every page rewritten showed the apartment, or shows it now
        assert file == own or links(before[file].data, code) or links(after[file].data, code)
    untouched = {f for f in set(before) - rewritten if f.endswith(".html")}
    assert all(before[f] == after[f] for f in untouched)  # same bytes, same mtime


def test_the_live_folder_is_what_a_full_build_makes(site: LiveSite, tmp_path: Path) -> None:
    """After every change above, delivered one by one, the folder holds what `ecospec build`
    makes from scratch."""
    site.build(tmp_path / "fresh")
    live, fresh = snapshot(site.out), snapshot(tmp_path / "fresh")
    files = (set(live) | set(fresh)) - BOOKKEEPING
    differ = sorted(
        f for f in files if f not in live or f not in fresh or live[f].data != fresh[f].data
    )
    assert differ == []


def test_renaming_a_complex_rewrites_every_page_that_shows_its_name(
    site: LiveSite, tmp_path: Path
) -> None:
    apartment = free_apartment(site)
    own = site.out / "apartments" / apartment["code"] / "index.html"
    assert "Липовый парк" in own.read_text(encoding="utf-8")
    complex_id = site.graphql('{ complexes(where: {slug: {eq: "lipovyi-park"}}) { id } }')
    site.graphql(
        'mutation($id: ID!) { updateComplex(id: $id, input: {name: "Липовая роща"}) { id } }',
        {"id": complex_id["complexes"][0]["id"]},
    )
    assert site.deliver() == 1
    assert "Липовая роща" in own.read_text(encoding="utf-8")


def sites_deliveries(site: LiveSite) -> set[str]:
    """The states the sites subscriber's deliveries are in."""

    async def states() -> set[str]:
        async with site.eco.engine.connect() as conn:
            found = await conn.execute(
                select(deliveries.c.status).where(deliveries.c.subscriber == "sites").distinct()
            )
            return {str(s) for s in found.scalars()}

    return site.runner.run(states())


def test_a_page_that_fails_to_render_does_not_hold_up_the_others(
    site: LiveSite, caplog: pytest.LogCaptureFixture
) -> None:
    apartment = free_apartment(site, skip=3)
    own = site.out / "apartments" / apartment["code"] / "index.html"
    made = site.graphql(
        'mutation { createApartment(input: {code: "NO-BUILDING-1", complex: "3", '
        'price: "4000000", area: 40, status: free}) { id } }'
    )["createApartment"]
    price = Decimal(apartment["price"]) + 777
    site.graphql(
        "mutation($id: ID!, $p: Money!) { updateApartment(id: $id, input: {price: $p}) { id } }",
        {"id": apartment["id"], "p": str(price)},
    )
    with caplog.at_level("ERROR", logger="ecospec.sites"):
        site.deliver()
    assert money(price).encode() in own.read_bytes()
    assert sites_deliveries(site) == {"done"}  # nothing left to retry, nothing dead
    assert not (site.out / "apartments" / "NO-BUILDING-1").exists()
    assert b"/apartments/NO-BUILDING-1/" not in (site.out / "sitemap.xml").read_bytes()
    logged = [r.getMessage() for r in caplog.records if r.name == "ecospec.sites"]
    assert (
        "sites: /apartments/NO-BUILDING-1/ (landing 'apartment', "
        f"spec/landings/apartment.yaml:4:1) for Apartment {made['id']} failed: "
        "landings.apartment.blocks[1].item_detail.eyebrow: 'None' has no attribute 'name'; "
        "it is left out"
    ) in logged
    # (its complex's page may fail too, on what else the new apartment lacks: then its
    # previous file stands)
    assert all(m.endswith("; its previous file stands") for m in logged if "NO-BUILDING" not in m)


def test_a_page_that_fails_to_render_keeps_its_previous_file(
    site: LiveSite, caplog: pytest.LogCaptureFixture
) -> None:
    apartment = free_apartment(site, skip=4)
    own = site.out / "apartments" / apartment["code"] / "index.html"
    building = site.graphql(
        "query($id: ID!) { apartment(id: $id) { building { id } } }", {"id": apartment["id"]}
    )["apartment"]["building"]["id"]
    before = snapshot(site.out)[own.relative_to(site.out).as_posix()]
    price = Decimal(apartment["price"]) + 999
    site.graphql(
        "mutation($id: ID!, $p: Money!) { updateApartment(id: $id, "
        "input: {price: $p, building: null}) { id } }",
        {"id": apartment["id"], "p": str(price)},
    )
    with caplog.at_level("ERROR", logger="ecospec.sites"):
        assert site.deliver() == 1
    assert File(own.read_bytes(), own.stat().st_mtime_ns) == before  # not written at all
    assert sites_deliveries(site) == {"done"}
    page = f"/apartments/{apartment['code']}/"
    (logged,) = [r.getMessage() for r in caplog.records if page in r.getMessage()]
    assert logged == (
        f"sites: {page} (landing 'apartment', spec/landings/apartment.yaml:4:1) for Apartment "
        f"{apartment['id']} failed: landings.apartment.blocks[1].item_detail.eyebrow: 'None' has "
        "no attribute 'name'; its previous file stands"
    )
    # the manifest lists the failure; the page that failed before (NO-BUILDING-1), untouched
    # by this change, was not tried again
    failed = json.loads((site.out / MANIFEST).read_text(encoding="utf-8"))["failed"]
    assert failed[page]["error"].startswith("landings.apartment.blocks[1].item_detail.eyebrow:")
    assert "/apartments/NO-BUILDING-1/" in failed
    assert not any("NO-BUILDING-1" in r.getMessage() for r in caplog.records)

    # once the record is mended, its page follows
    site.graphql(
        "mutation($id: ID!, $b: ID!) { updateApartment(id: $id, input: {building: $b}) { id } }",
        {"id": apartment["id"], "b": building},
    )
    assert site.deliver() == 1
    assert money(price).encode() in own.read_bytes()
    failed = json.loads((site.out / MANIFEST).read_text(encoding="utf-8"))["failed"]
    assert page not in failed


def test_the_subscriber_reads_and_indexes_the_site_before_the_first_change(
    site: LiveSite, caplog: pytest.LogCaptureFixture
) -> None:
    # what `ecospec serve` and `ecospec worker` do at start, before the first claim
    fresh = site.subscriber(site.out)
    caplog.set_level(logging.INFO, logger="ecospec.sites")
    try:
        site.runner.run(fresh.prepare())
    finally:
        gc.unfreeze()  # what the process holds then is frozen: give the tests' back
    index = page_index(site.eco.spec, site.out)
    pages = json.loads((site.out / MANIFEST).read_text(encoding="utf-8"))["pages"]
    assert set(index.entries["pages"]) == set(pages)
    assert f"sites: ready: the {len(pages)} pages in {site.out} indexed in" in caplog.text
    # the same index serves the next change: it is not made again
    apartment = free_apartment(site, skip=3)
    site.graphql(
        "mutation($id: ID!, $price: Money!) { updateApartment(id: $id, input: {price: $price}) { id } }",
        {"id": apartment["id"], "price": str(Decimal(apartment["price"]) + 1)},
    )
    assert site.deliver() == 1
    assert page_index(site.eco.spec, site.out) is index
    assert f"/apartments/{apartment['code']}/" in index.entries["pages"]


def test_a_site_without_a_manifest_needs_no_preparing(site: LiveSite, tmp_path: Path) -> None:
    fresh = site.subscriber(tmp_path / "none")
    site.runner.run(fresh.prepare())
    assert not (tmp_path / "none").exists()
