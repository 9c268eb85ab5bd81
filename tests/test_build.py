"""`ecospec build` on the demo: what it writes, what it leaves alone, what it reports. The demo is
copied out of the repository, migrated and seeded into a SQLite file and built with the installed
command, as a user does; data changes go through the GraphQL write path."""

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
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbs import ROOT, api_on, copy_sqlite, sqlite_url

from ecospec.generator.build import MANIFEST
from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec

BUILT = re.compile(r"^built (\d+) pages into .+: (\d+) written, (\d+) unchanged, (\d+) removed$")
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def ecospec_command() -> list[str]:
    script = Path(sys.executable).parent / "ecospec"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ecospec"]


@dataclass(frozen=True)
class Demo:
    """A copy of the demo project with its own seeded database."""

    project: Path
    database: Path
    spec: Spec

    def run(
        self, *args: str, database: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`ecospec ARGS --project <copy>` on this database (or another copy of it)."""
        environment = {
            **os.environ,
            "ECOSPEC_DATABASE_URL": sqlite_url(database or self.database),
            **(env or {}),
        }
        environment.pop("ECOSPEC_ENV", None)
        return subprocess.run(
            [*ecospec_command(), *args, "--project", str(self.project)],
            env=environment,
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def build(self, out: Path, *args: str, database: Path | None = None) -> tuple[int, ...]:
        """Build into `out`; (pages, written, unchanged, removed) as the command reports them."""
        done = self.run("build", "--out", str(out), *args, database=database)
        if done.returncode != 0:
            pytest.fail(f"ecospec build exited {done.returncode}:\n{done.stdout}{done.stderr}")
        found = BUILT.match(done.stdout.strip().splitlines()[-1])
        assert found, done.stdout
        return tuple(int(n) for n in found.groups())

    def url(self, path: str) -> str:
        return self.spec.site.base_url.rstrip("/") + path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("build")
    project = root / "project"
    shutil.copytree(ROOT / "spec", project / "spec")
    if (ROOT / "static").is_dir():
        shutil.copytree(ROOT / "static", project / "static")
    made = Demo(project, root / "demo.db", load_spec(project))
    for step in ("migrate", "seed"):
        done = made.run(step)
        if done.returncode != 0:
            pytest.fail(f"ecospec {step} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return made


@pytest.fixture(scope="module")
def built(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo built once; tests copy it before they build over it."""
    out = tmp_path_factory.mktemp("built") / "sites"
    demo.build(out)
    return out


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def stamps(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file()
    }


def page_url(demo: Demo, rel: str) -> str:
    """The address of a built file: apartments/X/index.html -> …/apartments/X/."""
    return demo.url("/" + rel.removesuffix("index.html"))


def manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return data


def copy_site(built: Path, target: Path) -> Path:
    shutil.copytree(built, target)  # copy2: times kept, so static files count as unchanged
    return target


# -- the output -------------------------------------------------------------------------------------


def test_the_same_input_builds_the_same_bytes(demo: Demo, built: Path, tmp_path: Path) -> None:
    """Two builds in other processes (other hash seeds, so no set order leaks into a page)
    write the same files, byte for byte, manifest included, whether one process renders the
    pages or several."""
    first = tmp_path / "one"
    second = tmp_path / "two"
    for out, seed, jobs in ((first, "1", "1"), (second, "2", "3")):
        done = demo.run("build", "--out", str(out), "--jobs", jobs, env={"PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
    assert tree(first) == tree(second) == tree(built)
    pages = len(manifest(built)["pages"])
    reported = BUILT.match(done.stdout.strip())
    assert reported is not None, done.stdout
    assert reported.groups() == (
        str(pages),
        str(pages + 1),  # 404.html counts as a page written
        "0",
        "0",
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_second_build_rewrites_nothing(
    demo: Demo, built: Path, tmp_path: Path, jobs: str
) -> None:
    site = copy_site(built, tmp_path / "sites")
    before, times = tree(site), stamps(site)
    pages = len(manifest(site)["pages"])
    changed = tmp_path / "changed.txt"
    assert demo.build(site, "--changed-list", str(changed), "--jobs", jobs) == (pages, 0, pages, 0)
    assert changed.read_text(encoding="utf-8") == ""
    assert tree(site) == before
    assert stamps(site) == times  # not even rewritten with the same bytes


def test_the_changed_list_names_exactly_the_pages_that_changed(
    demo: Demo, built: Path, tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    copy_sqlite(demo.database, database)
    with api_on(sqlite_url(database), demo.project, demo.spec) as api:
        free = api.data(
            "{ apartments(where: {status: {eq: free}, complex: {status: {ne: planned}}}, "
            "orderBy: [{code: ASC}]) { id code price complex { slug } } }"
        )["apartments"]
        repriced, sold = free[0], free[-1]
        api.data(
            "mutation($a: ID!, $b: ID!) {"
            " a: updateApartment(id: $a, input: {price: 9990000}) { id }"
            " b: updateApartment(id: $b, input: {status: sold}) { id } }",
            {"a": repriced["id"], "b": sold["id"]},
        )
    site = copy_site(built, tmp_path / "sites")
    before = tree(site)
    listed = tmp_path / "changed.txt"
    demo.build(site, "--changed-list", str(listed), database=database)
    after = tree(site)

    differ = {rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)}
    differ.discard(MANIFEST)
    expected = {page_url(demo, rel) for rel in differ if not rel.startswith("assets/")}
    urls = listed.read_text(encoding="utf-8").splitlines()
    assert len(urls) == len(set(urls))
    assert set(urls) == expected
    # what a reader would expect in it, and what not
    apartment = demo.spec.landings["apartment"].path
    repriced_url = demo.url(apartment.replace("{code}", repriced["code"]))
    sold_url = demo.url(apartment.replace("{code}", sold["code"]))
    assert repriced_url in urls
    assert sold_url in urls and sold_url.removeprefix(demo.url("/")) + "index.html" not in after
    assert demo.url(f"/complexes/{repriced['complex']['slug']}/") in urls
    assert demo.url("/sitemap.xml") in urls  # the sold apartment's page left it
    assert demo.url("/privacy/") not in urls
    assert len(urls) < len(manifest(built)["pages"]) / 2


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_page_that_fails_to_render_fails_the_build_and_writes_nothing(
    demo: Demo, built: Path, tmp_path: Path, jobs: str
) -> None:
    """With several processes rendering, the failing page is rendered again by the build
    itself, which reports it as it would alone."""
    project = tmp_path / "project"
    shutil.copytree(demo.project / "spec", project / "spec")
    # last in landing order, so every other page is rendered (and changed, below) before it fails
    (project / "spec" / "landings" / "zz-broken.yaml").write_text(
        "landing: zz-broken\n"
        "for_each: {entity: Apartment, order_by: [code]}\n"
        "path: /broken/{code}/\n"
        "blocks:\n"
        "  - hero:\n"
        '      title: "{% if item.floor == 3 %}{{ item.no_such_field }}{% endif %}{{ item.code }}"\n',
        encoding="utf-8",
    )
    broken = Demo(project, tmp_path / "demo.db", load_spec(project))
    copy_sqlite(demo.database, broken.database)
    with api_on(sqlite_url(broken.database), project, broken.spec) as api:
        first = api.data("{ apartments(where: {status: {eq: free}}, limit: 1) { id } }")
        api.data(
            "mutation($id: ID!) { updateApartment(id: $id, input: {price: 7770000}) { id } }",
            {"id": first["apartments"][0]["id"]},
        )
    site = copy_site(built, tmp_path / "sites")
    before, times = tree(site), stamps(site)
    listed = tmp_path / "changed.txt"
    done = broken.run("build", "--out", str(site), "--changed-list", str(listed), "--jobs", jobs)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "ecospec: landings.zz-broken.blocks[0].hero.title: "
        "'dict object' has no attribute 'no_such_field'\n"
    )
    assert tree(site) == before
    assert stamps(site) == times
    assert not listed.exists()
    # into a folder not there yet: none is left behind, nor the pages' folders
    fresh = tmp_path / "fresh" / "sites"
    assert broken.run("build", "--out", str(fresh), "--jobs", jobs).returncode == 1
    assert not fresh.exists()


# -- what goes with the pages -----------------------------------------------------------------------


def test_the_sitemap_lists_every_indexed_page(demo: Demo, built: Path) -> None:
    pages = manifest(built)["pages"]
    indexed = sorted(
        demo.url(path)
        for path, entry in pages.items()
        if not demo.spec.landings[entry["landing"]].seo.noindex
    )
    root = ET.fromstring((built / "sitemap.xml").read_bytes())
    assert root.tag == f"{SITEMAP_NS}urlset"
    listed = [loc.text for loc in root.iter(f"{SITEMAP_NS}loc")]
    assert listed == indexed
    assert demo.url("/") in listed


def test_robots_txt_points_at_the_sitemap(demo: Demo, built: Path) -> None:
    assert (built / "robots.txt").read_text(encoding="utf-8") == (
        f"User-agent: *\nAllow: /\nSitemap: {demo.url('/sitemap.xml')}\n"
    )


def test_the_404_page_is_the_sites_own(demo: Demo, built: Path) -> None:
    page = (built / "404.html").read_text(encoding="utf-8")
    assert page.startswith('<!doctype html>\n<html lang="ru">')
    assert f"<title>Страница не найдена — {demo.spec.title}</title>" in page
    assert '<meta name="robots" content="noindex">' in page
    assert "<h1>Такой страницы нет</h1>" in page
    assert 'href="/"' in page
    stylesheet = re.search(r'<link rel="stylesheet" href="/(assets/site\.[0-9a-f]+\.css)">', page)
    assert stylesheet and (built / stylesheet.group(1)).is_file()


def test_only_what_the_public_may_read_gets_a_page(demo: Demo, built: Path) -> None:
    with api_on(sqlite_url(demo.database), demo.project, demo.spec) as api:
        shown = api.data(
            "{ apartments(where: {status: {in: [free, booked]}, complex: {status: {ne: planned}}})"
            " { code } complexes(where: {status: {ne: planned}}) { slug }"
            " hidden: complexes(where: {status: {eq: planned}}) { slug } }"
        )
    paths = set(manifest(built)["pages"])
    apartments = {p for p in paths if p.startswith("/apartments/")}
    assert apartments == {f"/apartments/{a['code']}/" for a in shown["apartments"]}
    assert {p for p in paths if p.startswith("/complexes/")} == {
        f"/complexes/{c['slug']}/" for c in shown["complexes"]
    }
    assert shown["hidden"] and not any(f"/complexes/{c['slug']}/" in paths for c in shown["hidden"])


def test_the_manifest_records_what_each_page_read(demo: Demo, built: Path) -> None:
    data = manifest(built)
    on_disk = set(tree(built)) - {MANIFEST}
    assert set(data["files"]) == on_disk
    for path, entry in data["pages"].items():
        assert entry["file"] in on_disk, path
        assert re.fullmatch(r"[0-9a-f]{64}", entry["inputs"]), path
        assert entry["landing"] in demo.spec.landings, path

    with api_on(sqlite_url(demo.database), demo.project, demo.spec) as api:
        complex_ = api.data(
            "{ complexes(where: {status: {ne: planned}}, orderBy: [{name: ASC}], limit: 1)"
            " { id slug } }"
        )["complexes"][0]
        apartments = api.data(
            "query($id: ID!) { apartments(where: {complex: {id: {eq: $id}},"
            " status: {in: [free, booked]}}) { id code status building { id } } }",
            {"id": complex_["id"]},
        )["apartments"]
    offered = [a for a in apartments if a["status"] in ("free", "booked")]
    free = {a["id"] for a in apartments if a["status"] == "free"}
    page = data["pages"][f"/complexes/{complex_['slug']}/"]
    assert page["landing"] == "complex"
    assert page["item"] == complex_["id"]
    reads = page["reads"]
    assert {"Complex", "Apartment"} <= set(reads["entities"])
    assert reads["records"]["Complex"] == [complex_["id"]]
    # the apartments on sale it lists, at least; none the public may not see
    assert free <= set(reads["records"]["Apartment"]) <= {a["id"] for a in offered}
    assert reads["queries"][0] == "for_each"
    assert any(q.startswith("Apartment where ") for q in reads["queries"])
    assert any(
        f["entity"] == "Apartment" and f["where"].get("complex") == {"eq": complex_["id"]}
        for f in reads["filters"]
    )

    apartment = data["pages"][f"/apartments/{offered[0]['code']}/"]
    assert apartment["item"] == offered[0]["id"]
    assert offered[0]["id"] in apartment["reads"]["records"]["Apartment"]
    # and the records it shows through the apartment's refs (item.complex.name, …)
    assert complex_["id"] in apartment["reads"]["records"]["Complex"]
    assert offered[0]["building"]["id"] in apartment["reads"]["records"]["Building"]

    home = data["pages"]["/"]
    assert home["item"] is None
    assert "for_each" not in home["reads"]["queries"]


# -- where the data comes from ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def serving(demo: Demo, database: Path, logs: Path) -> Iterator[str]:
    """`ecospec serve` for the demo copy on a free port until the block ends: its base URL."""
    port = free_port()
    env = {**os.environ, "ECOSPEC_DATABASE_URL": sqlite_url(database)}
    env.pop("ECOSPEC_ENV", None)
    with logs.open("w") as log:
        process = subprocess.Popen(
            [*ecospec_command(), "serve", "--project", str(demo.project), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=demo.project,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    pytest.fail(f"ecospec serve exited {process.returncode}: {logs.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
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


def test_a_build_from_a_running_runtime_gives_the_same_pages(
    demo: Demo, built: Path, tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    copy_sqlite(demo.database, database)
    out = tmp_path / "from-api"
    with serving(demo, database, tmp_path / "serve.log") as base:
        done = demo.run("build", "--out", str(out), "--from", base, database=tmp_path / "none.db")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "none.db").exists()  # no database of its own was opened
    assert tree(out) == tree(built)


def test_a_build_from_a_runtime_that_is_not_there_fails(demo: Demo, tmp_path: Path) -> None:
    done = demo.run("build", "--out", str(tmp_path / "out"), "--from", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stderr == "ecospec: http://127.0.0.1:9/graphql: All connection attempts failed\n"
    assert not (tmp_path / "out").exists()
