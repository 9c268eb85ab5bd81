"""Real Chromium through Playwright, for the tests of what a person sees: the launcher, axe-core
from npm, and a few helpers that read a page the way a visitor's browser does.

Test modules load this file as a plugin (`pytest_plugins = ["browser"]`). Without Playwright, a
Chromium or npm the tests that need them skip, naming what is missing; with
ECOSPEC_TEST_REQUIRE_BROWSER=1 (CI) they fail instead.

The browser is module-scoped on purpose: Playwright's synchronous API keeps an event loop running
in the main thread while it is started, and `asyncio.run()` refuses to run beside it, so it must
be stopped before the next module's tests run their own loops.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REQUIRE_ENV = "ECOSPEC_TEST_REQUIRE_BROWSER"
CHROMIUM_ENV = "ECOSPEC_CHROMIUM"
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_PACKAGE = "axe-core@4"
BLOCKING_IMPACTS = ("serious", "critical")
SHOTS = Path(tempfile.gettempdir()) / "ecospec-shots"


def unavailable(reason: str) -> NoReturn:
    """Skip for want of a browser tool; fail instead when CI requires the browser tests."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> Path:
    """$ECOSPEC_CHROMIUM, else Debian's /usr/bin/chromium."""
    raw = os.environ.get(CHROMIUM_ENV)
    path = Path(raw) if raw else DEFAULT_CHROMIUM
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f"${CHROMIUM_ENV}={raw}" if raw else str(DEFAULT_CHROMIUM)
        unavailable(f"no Chromium at {where} (apt-get install chromium, or set ${CHROMIUM_ENV})")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, launched once per module (see the module's docstring for why not per session)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    executable = chromium_executable()
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=str(executable), args=CHROMIUM_ARGS
            )
        except Error as exc:
            unavailable(f"Chromium at {executable} did not start: {exc.message}")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def axe_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's browser bundle, fetched once per session with `npm pack` and read from the
    tarball without unpacking it."""
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed: the accessibility checks take axe-core from npm")
    folder = tmp_path_factory.mktemp("axe")
    try:
        packed = subprocess.run(
            [npm, "pack", AXE_PACKAGE, "--silent"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        unavailable(f"npm pack {AXE_PACKAGE} did not finish within 300 s")
    tarballs = sorted(folder.glob("axe-core-*.tgz"))
    if packed.returncode != 0 or not tarballs:
        unavailable(f"npm pack {AXE_PACKAGE} failed: {packed.stderr.strip()[-500:]}")
    with tarfile.open(tarballs[0]) as tar:
        member = tar.extractfile("package/axe.min.js")
        if member is None:
            pytest.fail(f"{tarballs[0].name} holds no package/axe.min.js")
        return member.read().decode("utf-8")


def blocking_violations(page: Page, axe: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(content=axe)
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in found if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(str(n.get("target")) for n in v.get("nodes", [])[:5])
        lines.append(f"{v.get('impact')}: {v.get('id')} — {v.get('help')} ({targets})")
    return "\n".join(lines)


LOAD_EVERY_IMAGE = """async () => {
  // lazy images load only near the viewport; a test wants all of them, as a reader scrolling down
  for (const img of document.images) img.loading = "eager";
  await Promise.all([...document.images].map((img) => img.complete ? null :
    new Promise((done) => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  return [...document.images].filter((img) => img.naturalWidth === 0).map((img) => img.currentSrc || img.src);
}"""


def load_every_image(page: Page) -> list[str]:
    """Make every image load now; return the addresses of those that are broken."""
    broken: list[str] = page.evaluate(LOAD_EVERY_IMAGE)
    return broken


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when nothing sticks out)."""
    overflow: int = page.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )
    return overflow
