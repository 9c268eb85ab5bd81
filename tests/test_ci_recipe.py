"""The CI recipe `ecospec init` writes: ci/ecospec.sh run by a POSIX shell on copies of the demo
and of a new project, and the two workflows that run it."""

from __future__ import annotations

import http.server
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from conftest import ecospec_executable
from dbs import ROOT, build_demo, sqlite_url

from ecospec.generator.scaffold import CI_FILES, CI_TEMPLATES, scaffold

SCRIPT = CI_TEMPLATES / "ecospec.sh"
BASE_URL = "http://127.0.0.1:8000"  # the demo's site.base_url
# the settings ci/ecospec.sh reads, cleared from the tests' environment
SETTINGS = (
    "ECOSPEC",
    "ECOSPEC_PROJECT",
    "ECOSPEC_DATABASE_URL",
    "ECOSPEC_RUNTIME_URL",
    "ECOSPEC_SITES_DIR",
    "ECOSPEC_CHANGED_LIST",
    "ECOSPEC_PUBLISH_COMMAND",
    "ECOSPEC_PUBLISH_DIR",
    "ECOSPEC_PURGE_COMMAND",
    "ECOSPEC_PURGE_URL",
)
# A purge command that records what it was given: its arguments and its standard input.
RECORDER = """\
printf '%s\\n' "$@" > "$(dirname "$0")/purge-args.txt"
cat > "$(dirname "$0")/purge-stdin.txt"
"""


def ci(project: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ci/ecospec.sh with `sh` in `project`, with only these settings."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env["PATH"] = f"{ecospec_executable().parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["sh", str(SCRIPT), *args],
        cwd=project,
        env={**env, **settings},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded demo in a SQLite file, copied by each test that writes to it."""
    path = tmp_path_factory.mktemp("demo-db") / "demo.db"
    build_demo(sqlite_url(path))
    return path


@pytest.fixture
def demo(tmp_path: Path, demo_database: Path) -> Path:
    """A copy of the demo project (spec/ and schema.graphql) beside its own database."""
    project = tmp_path / "demo"
    shutil.copytree(ROOT / "spec", project / "spec")
    shutil.copy2(ROOT / "schema.graphql", project / "schema.graphql")
    shutil.copy2(demo_database, tmp_path / "demo.db")
    (tmp_path / "purge.sh").write_text(RECORDER, encoding="utf-8")
    return project


def demo_settings(demo: Path) -> dict[str, str]:
    folder = demo.parent
    return {
        "ECOSPEC_DATABASE_URL": sqlite_url(folder / "demo.db"),
        "ECOSPEC_PUBLISH_DIR": str(folder / "published"),
        "ECOSPEC_PURGE_COMMAND": f'sh {folder / "purge.sh"} "$1"',
    }


def step_lines(out: str) -> list[str]:
    return [line.split(":")[0] for line in out.splitlines() if line.startswith("==> ")]


def test_the_script_checks_builds_publishes_and_purges_the_demo_then_what_changed(
    demo: Path,
) -> None:
    folder = demo.parent

    done = ci(demo, **demo_settings(demo))

    assert (done.returncode, done.stderr) == (0, "")
    assert step_lines(done.stdout) == [
        "==> check the spec",
        "==> check schema.graphql against the spec",
        "==> plan the migration of ECOSPEC_DATABASE_URL",
        "==> build the sites from ECOSPEC_DATABASE_URL",
        "==> 138 changed URLs, listed in ./.ecospec/changed-urls.txt",
        "==> publish the sites",
        "==> purge the changed URLs",
        "==> done",
    ]
    assert "\nbuilt 135 pages into sites: 136 written, 0 unchanged, 0 removed\n" in done.stdout
    published = folder / "published"
    assert (published / "index.html").is_file()
    assert (published / "complexes/nevskie-vysoty/index.html").is_file()
    assert (published / "sitemap.xml").is_file()
    assert not (published / ".ecospec-manifest.json").exists()
    built = sorted(p.relative_to(demo / "sites") for p in (demo / "sites").rglob("*"))
    assert sorted(p.relative_to(published) for p in published.rglob("*")) == [
        p for p in built if p.name != ".ecospec-manifest.json"
    ]
    changed = (demo / ".ecospec/changed-urls.txt").read_text(encoding="utf-8")
    assert (folder / "purge-stdin.txt").read_text(encoding="utf-8") == changed
    assert (folder / "purge-args.txt").read_text(encoding="utf-8") == (
        "./.ecospec/changed-urls.txt\n"
    )
    urls = changed.splitlines()
    assert len(urls) == 138
    assert f"{BASE_URL}/complexes/nevskie-vysoty/" in urls
    assert all(url.startswith(f"{BASE_URL}/") for url in urls)

    # the next run, on the sites kept: only the pages a change touched are rebuilt and purged
    (folder / "published" / "stale.html").write_text("gone after the next run", encoding="utf-8")
    with sqlite3.connect(folder / "demo.db") as conn:
        conn.execute("UPDATE complex SET name = 'Невские высоты II' WHERE slug = 'nevskie-vysoty'")

    done = ci(demo, **demo_settings(demo))

    assert (done.returncode, done.stderr) == (0, "")
    purged = (folder / "purge-stdin.txt").read_text(encoding="utf-8").splitlines()
    assert f"{BASE_URL}/complexes/nevskie-vysoty/" in purged
    assert 1 < len(purged) < 138
    assert f"==> {len(purged)} changed URLs, listed in" in done.stdout
    assert not (folder / "published" / "stale.html").exists()
    page = (folder / "published/complexes/nevskie-vysoty/index.html").read_text(encoding="utf-8")
    assert "Невские высоты II" in page


def test_the_script_stops_at_an_invalid_spec_naming_the_step(demo: Path) -> None:
    catalog = demo / "spec/entities/catalog.yaml"
    catalog.write_text(
        catalog.read_text(encoding="utf-8").replace("type: money", "type: mony"), "utf-8"
    )

    done = ci(demo, **demo_settings(demo))

    assert done.returncode == 1
    assert done.stderr == 'ecospec.sh: step "check the spec" failed (exit 1)\n'
    assert step_lines(done.stdout) == ["==> check the spec"]
    assert "unknown type 'mony' (did you mean 'money'?)" in done.stdout
    assert not (demo / "sites").exists()
    assert not (demo.parent / "published").exists()
    assert not (demo.parent / "purge-stdin.txt").exists()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A new project from `ecospec init`, on its own SQLite database (the spec's default)."""
    project = tmp_path / "shop"
    scaffold(project)
    return project


def test_the_checks_alone_pass_on_a_new_project(shop: Path) -> None:
    done = ci(shop, "check")

    assert (done.returncode, done.stderr) == (0, "")
    assert step_lines(done.stdout) == [
        "==> check the spec",
        "==> check schema.graphql against the spec",
        "==> plan the migration of the spec's own database (ECOSPEC_DATABASE_URL is unset)",
        "==> the checks passed",
    ]
    assert not (shop / "sites").exists()


def test_a_migration_plan_that_would_lose_data_fails_the_checks(shop: Path) -> None:
    ecospec = str(ecospec_executable())
    for command in ("migrate", "seed"):
        subprocess.run([ecospec, command, "--project", str(shop)], check=True, timeout=120)
    catalog = shop / "spec/entities/catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("      price: {type: money, min: 0}\n", ""), "utf-8")
    seed = shop / "spec/seed/catalog.yaml"
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace(", price: 12.50", "").replace(", price: 9.90", ""), "utf-8")
    roles = shop / "spec/roles.yaml"
    text = roles.read_text(encoding="utf-8")
    roles.write_text(text.replace("fields: [price, status]", "fields: [status]"), "utf-8")
    subprocess.run([ecospec, "schema", "--project", str(shop)], check=True, timeout=120)

    done = ci(shop, "check")

    assert done.returncode == 1
    assert done.stderr == (
        "ecospec.sh: step \"plan the migration of the spec's own database"
        ' (ECOSPEC_DATABASE_URL is unset)" failed (exit 1)\n'
    )
    assert "  ! spec/entities/catalog.yaml:10:5: drop column product.price" in done.stdout
    assert done.stdout.endswith("1 of these would be refused (marked !)\n")


def test_the_script_stops_when_the_purge_or_publish_command_fails(shop: Path) -> None:
    subprocess.run([str(ecospec_executable()), "seed", "--project", str(shop)], check=True)

    done = ci(shop, ECOSPEC_PURGE_COMMAND="cat > /dev/null; exit 3")
    assert done.returncode == 3
    assert done.stderr == 'ecospec.sh: step "purge the changed URLs" failed (exit 3)\n'
    assert step_lines(done.stdout)[-1] == "==> purge the changed URLs"

    done = ci(shop, ECOSPEC_PUBLISH_COMMAND='test -d "$1/assets" && exit 7')
    assert done.returncode == 7
    assert done.stderr == 'ecospec.sh: step "publish the sites" failed (exit 7)\n'
    assert step_lines(done.stdout)[-1] == "==> publish the sites"


class Receiver(http.server.BaseHTTPRequestHandler):
    """A purge endpoint on loopback: keeps what each POST sent."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def purge_endpoint() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("OneTestReceiver", (Receiver,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/purge", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_changed_urls_are_posted_to_a_purge_url(
    shop: Path, purge_endpoint: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    url, received = purge_endpoint
    ecospec = str(ecospec_executable())
    subprocess.run([ecospec, "seed", "--project", str(shop)], check=True, timeout=120)

    done = ci(shop, ECOSPEC_PURGE_URL=url)

    assert (done.returncode, done.stderr) == (0, "")
    assert f"{url}: 204 No Content" in done.stdout.splitlines()
    changed = (shop / ".ecospec/changed-urls.txt").read_bytes()
    assert received == [("/purge", "text/plain; charset=utf-8", changed)]
    assert b"http://127.0.0.1:8000/products/green-tea/\n" in changed
    assert (shop / "public/products/green-tea/index.html").is_file()


def test_the_workflows_run_the_script() -> None:
    github = yaml.safe_load((CI_TEMPLATES / CI_FILES[".github/workflows/ecospec.yml"]).read_text())
    runs = [step.get("run", "") for step in github["jobs"]["ecospec"]["steps"]]
    assert "sh ci/ecospec.sh check" in runs
    assert "sh ci/ecospec.sh" in runs
    gitlab = yaml.safe_load((CI_TEMPLATES / CI_FILES[".gitlab-ci.yml"]).read_text())
    script = "\n".join(gitlab["ecospec"]["script"])
    assert "sh ci/ecospec.sh check" in script
    assert "sh ci/ecospec.sh\n" in script
