"""Live reload: the time from saving a file to the browser showing it, under `ecospec dev`, against
Hugo's own live reload (`hugo server`) in the same run.

Copies the demo (spec/, blocks/, static/) into a temporary folder, migrates and seeds it, starts
`ecospec dev` there on a free loopback port and opens the spring-sale landing in Chromium
(Playwright, Debian's /usr/bin/chromium or $ECOSPEC_CHROMIUM). Then, `--repeat` times each:

1. landing: the hero title in spec/landings/promo-spring-sale.yaml → that landing is rebuilt, the
   open page patches itself in place; timed to the first frame rendered with the new title;
2. block: an attribute on the hero's <h1> in blocks/hero/template.html.j2 → the five landings
   with a hero are rebuilt (the open page first), the page patches itself; timed to the first
   frame rendered with the attribute;
3. stylesheet: a colour in blocks/hero/style.css → the stylesheet alone is rebuilt and swapped
   in place; timed to the first frame rendered in the new colour;
4. entity: a new text field on Amenity → additive migration, new schema, the landings that read
   Amenity rebuilt; timed to the first /graphql answer for the new field (polled from here every
   10 ms: asked more often, the questions slow the reload they time), and to the open page
   updated (it does not read Amenity: it patches itself, to the same HTML, as soon as the new
   ecosystem serves; the frame after its "ecospec:updated" event).

Each time is wall clock from just before the write to the moment in the page (Chromium's
performance.timeOrigin is wall-clock time too), so it includes the file watcher's debounce, the
server's reload, the server-sent event, the page's request and its rendering. "Rendered" is the
end of the first animation frame in which the change is in the DOM (a task queued from that
frame's callback, which runs once its style, layout and paint are done). Should the page reload
instead of patching itself, the time is that of the new document's first contentful paint, and
the reloads are counted. With `hugo` installed it does the same to a small Hugo site of as many
pages as the demo has: a content title (↔ landing), a partial used by every page (↔ block),
each timed to the first contentful paint of the page Hugo reloads, and a stylesheet (the frame
in the new colour, whether Hugo swapped it or reloaded the page). It prints p50 and p95 per
scenario, the server's own "reloaded in" times, and the ratios ecospec / hugo.

`--profile` then times the stages of DevServer.reload in process (loading the spec and the
blocks, migration, ecosystem build, build_site and its parts, updating the other build folder)
for the same four edits and prints where the time goes.

Run: .venv/bin/python bench/live_reload.py [--repeat 15] [--no-hugo] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parent.parent
DEMO_FOLDERS = {"spec": "spec", "blocks": "ecospec/blocks", "static": "static"}
# Run as a script, this folder comes first on sys.path, and bench/graphql.py would stand in for
# the graphql package the runtime imports (for --profile).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
BIN = Path(sys.executable).parent
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
TEMPLATE = "blocks/hero/template.html.j2"
STYLE = "blocks/hero/style.css"
CATALOG = "spec/entities/catalog.yaml"
# Records, in every document the page loads, the wall-clock time of its first contentful paint,
# and counts the live-reload connections that are open (EventSource for Ecospec, WebSocket for
# Hugo), so that a file is saved only once the page listens.
INSTRUMENT = """
(() => {
  window.__painted = null;
  window.__listening = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.name === "first-contentful-paint") {
        window.__painted = performance.timeOrigin + entry.startTime;
      }
    }
  }).observe({type: "paint", buffered: true});
  for (const name of ["EventSource", "WebSocket"]) {
    const Native = window[name];
    if (!Native) continue;
    const Wrapped = function (...args) {
      const made = new Native(...args);
      made.addEventListener("open", () => { window.__listening += 1; });
      // when the last live-reload message arrived, kept across the reload it causes
      made.addEventListener("message", (event) => {
        if (String(event.data).includes("reload")) {
          const seen = JSON.parse(sessionStorage.getItem("__messages") || "[]").slice(-20);
          seen.push(performance.timeOrigin + performance.now());
          sessionStorage.setItem("__messages", JSON.stringify(seen));
        }
      });
      return made;
    };
    Wrapped.prototype = Native.prototype;
    Object.assign(Wrapped, Native);
    window[name] = Wrapped;
  }
  // What to wait for survives a reload (a server may reload the page rather than patch it):
  // a condition, checked in every animation frame of whichever document is shown, and the time
  // the first frame in which it holds has been rendered (a task queued from that frame's
  // callback runs once the frame's style, layout and paint are done), in which document.
  window.__document = Math.random().toString(36).slice(2);
  window.__updates = 0;  // Ecospec's in-place updates of this document
  document.addEventListener("ecospec:updated", () => { window.__updates += 1; });
  window.__watchFor = (condition) => {
    sessionStorage.setItem("__watch", JSON.stringify([condition, window.__document]));
    window.__shown = null;
    watch();
  };
  window.__shown = null;
  const watch = () => {
    const wanted = sessionStorage.getItem("__watch");
    if (!wanted) return;
    const [condition, armedIn] = JSON.parse(wanted);
    const holds = new Function(`return (${condition});`);
    const check = () => {
      if (!holds()) {
        requestAnimationFrame(check);
        return;
      }
      sessionStorage.removeItem("__watch");
      const after = new MessageChannel();
      after.port1.onmessage = () => {
        window.__shown = {
          at: performance.timeOrigin + performance.now(),
          reloaded: armedIn !== window.__document,
        };
      };
      after.port2.postMessage(null);
    };
    requestAnimationFrame(check);
  };
  watch();
})();
"""


# -- small things ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wall_ms() -> float:
    return time.time() * 1000


def wait_until(
    condition: Callable[[], Any], what: str, timeout: float = 60, every: float = 0.002
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def clean_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("ECOSPEC_DATABASE_URL", "ECOSPEC_ENV"):
        env.pop(name, None)
    return env


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise SystemExit(f"{old!r} is not in {path}")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@dataclass
class Samples:
    """One scenario's times (ms), and the server's own reload times when it prints them."""

    name: str
    times: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    reloaded: int | None = None  # times the page was reloaded rather than updated in place
    phases: dict[str, list[float]] = field(default_factory=dict)

    def add(self, measured: tuple[float, bool]) -> None:
        self.times.append(measured[0])
        self.reloaded = (self.reloaded or 0) + measured[1]

    def line(self) -> str:
        if not self.times:
            return f"{self.name:<34} (no samples)"
        text = (
            f"{self.name:<34} p50 {percentile(self.times, 50):7.0f} ms   "
            f"p95 {percentile(self.times, 95):7.0f} ms   "
            f"min {min(self.times):6.0f}   max {max(self.times):6.0f}   n={len(self.times)}"
        )
        if self.server:
            text += f"   (server reload p50 {statistics.median(self.server):.0f} ms)"
        if self.reloaded is not None:
            text += f"   [page reloaded {self.reloaded}/{len(self.times)}]"
        for phase, values in self.phases.items():
            text += f"\n      {phase:<30} p50 {percentile(values, 50):7.0f} ms"
        return text


# -- the browser -----------------------------------------------------------------------------------


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("ECOSPEC_CHROMIUM") or shutil.which("chromium") or ""
    if not executable:
        raise SystemExit("no Chromium: install chromium or set ECOSPEC_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, url: str) -> Page:
    context = browser.new_context()
    context.add_init_script(INSTRUMENT)
    page = context.new_page()
    # as with DevTools' "Disable cache": a reload fetches every file again. Ecospec serves them
    # no-store anyway; Hugo does not, and a reloaded page would keep a stale stylesheet.
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(url)
    page.wait_for_function("window.__listening > 0 && window.__painted !== null")
    return page


def painted_after(
    page: Page, condition: str, written: float, phases: dict[str, list[float]] | None = None
) -> float:
    """Wait for `condition` in a newly painted document; its paint time minus `written`. With
    `phases`, also how that splits: the save to the live-reload message that made the page
    reload, that message to the new document's start, and its start to its first contentful
    paint."""
    page.wait_for_function(f"window.__painted !== null && ({condition})", timeout=120_000)
    painted: float = page.evaluate("window.__painted")
    if phases is not None:
        # the last reload message before this document began (Hugo sends more after it)
        message, started = page.evaluate(
            """[Math.max(...JSON.parse(sessionStorage.getItem('__messages') || '[]')
                  .filter((t) => t <= performance.timeOrigin)), performance.timeOrigin]"""
        )
        for name, value in (
            ("save → message in page", message - written),
            ("message → new document", started - message),
            ("new document → painted", painted - started),
        ):
            phases.setdefault(name, []).append(value)
    page.wait_for_function("window.__listening > 0")
    return painted - written


def shown_after(
    page: Page,
    condition: str,
    write: Callable[[], None],
    phases: dict[str, list[float]] | None = None,
    *,
    at_paint: bool = True,
) -> tuple[float, bool]:
    """The time from `write()` to the page showing what `condition` (JavaScript) tests, and
    whether the page was reloaded to get there. Shown means: in the same document (patched in
    place, or a stylesheet swapped), the first animation frame in which `condition` holds,
    rendered; in a reloaded document, its first contentful paint, as for Hugo's pages (the
    frame, as in the same document, without `at_paint`). With
    `phases`, also how that splits: the save to the live-reload message in the page, and that
    message to the page showing it."""
    page.evaluate("(c) => window.__watchFor(c)", condition)
    written = wall_ms()
    write()
    page.wait_for_function("window.__shown !== null", timeout=120_000)
    shown: dict[str, Any] = page.evaluate("window.__shown")
    reloaded = bool(shown["reloaded"])
    at: float = shown["at"]
    if reloaded and at_paint:
        page.wait_for_function("window.__painted !== null", timeout=120_000)
        at = page.evaluate("window.__painted")
    if phases is not None:
        # the last reload message before the page showed the change
        message: float = page.evaluate(
            """(at) => Math.max(...JSON.parse(sessionStorage.getItem('__messages') || '[]')
                  .filter((t) => t <= at))""",
            at,
        )
        phases.setdefault("save → message in page", []).append(message - written)
        phases.setdefault("message → shown", []).append(at - message)
    page.wait_for_function("window.__listening > 0")
    return at - written, reloaded


def colour_after(
    page: Page, selector: str, colour: str, write: Callable[[], None]
) -> tuple[float, bool]:
    """The time from `write()` to the first frame rendered in the new colour, in whichever
    document (for Hugo too), and whether the page was reloaded to get there (rather than its
    stylesheet swapped)."""
    condition = (
        f"document.querySelector({selector!r}) !== null"
        f" && getComputedStyle(document.querySelector({selector!r})).color === {colour!r}"
    )
    return shown_after(page, condition, write, at_paint=False)


# -- processes -------------------------------------------------------------------------------------


@dataclass
class Server:
    popen: subprocess.Popen[bytes]
    base: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def reload_times(self) -> list[float]:
        return [float(m) for m in re.findall(r"^reloaded in (\d+) ms", self.output(), re.M)]


@contextlib.contextmanager
def serving(command: list[str], cwd: Path, port: int, ready: str, log: Path) -> Iterator[Server]:
    with log.open("wb") as out:
        popen = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=clean_env()
        )
    server = Server(popen, f"http://127.0.0.1:{port}", log)
    try:

        def up() -> bool:
            if popen.poll() is not None:
                raise SystemExit(f"{command[0]} exited {popen.returncode}:\n{server.output()}")
            try:
                return httpx.get(server.base + ready, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, f"{' '.join(command[:2])} to answer {ready}", timeout=180)
        yield server
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


# -- the demo under ecospec dev ---------------------------------------------------------------------


def demo_project(folder: Path) -> Path:
    project = folder / "demo"
    for name in ("spec", "blocks", "static"):
        shutil.copytree(
            ROOT / DEMO_FOLDERS[name],
            project / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    for command in ("migrate", "seed"):
        subprocess.run(
            [str(BIN / "ecospec"), command, "--project", str(project)],
            check=True,
            capture_output=True,
            env=clean_env(),
        )
    # The seed leaves webhook deliveries to the demo's CRM (not running) pending; the server's bus
    # would retry them in the background during the first runs. Quiet, as a developer's database
    # is once they have been dead-lettered.
    with contextlib.closing(sqlite3.connect(project / "var" / "north-quarter.db")) as db:
        db.execute("UPDATE ecospec_deliveries SET status = 'done'")
        db.commit()
    return project


def add_amenity_field(catalog: Path, field: str) -> None:
    """Write `field` (e.g. `note: {type: text}`) first among Amenity's fields in catalog.yaml."""
    text = catalog.read_text(encoding="utf-8")
    fields = "    fields:\n"
    at = text.index(fields, text.index("\n  Amenity:\n")) + len(fields)
    catalog.write_text(text[:at] + f"      {field}\n" + text[at:], encoding="utf-8")


def hero_title_line(project: Path) -> str:
    import yaml

    data = yaml.safe_load((project / PROMO).read_text(encoding="utf-8"))
    title = next(str(b["hero"]["title"]) for b in data["blocks"] if "hero" in b)
    for line in (project / PROMO).read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("title:") and title in line:
            return line
    raise SystemExit("the promo hero's title is not on a line of its own")


def bench_ecospec(browser: Browser, folder: Path, repeat: int) -> dict[str, Samples]:
    project = demo_project(folder)
    port = free_port()
    command = [str(BIN / "ecospec"), "dev", "--project", str(project), "--port", str(port)]
    results = {
        name: Samples(name)
        for name in (
            "landing edit → page updated",
            "block edit → page updated",
            "stylesheet edit → colour painted",
            "entity edit → field in /graphql",
            "entity edit → page updated",
        )
    }
    with serving(command, project, port, "/healthz", folder / "dev.log") as server:
        page = open_page(browser, server.base + PROMO_URL)
        client = httpx.Client(timeout=30)

        def settle(count: int) -> None:
            wait_until(lambda: len(server.reload_times()) >= count, "the reload to be reported")
            time.sleep(0.3)  # the next save is a change of its own, not part of this one

        reloads = 0
        line = hero_title_line(project)
        for i in range(repeat):
            # a landing
            title = f"Весна {i}"
            new_line = re.sub(r"title: .*", f"title: {title}", line, count=1)
            samples = results["landing edit → page updated"]
            samples.add(
                shown_after(
                    page,
                    f"document.querySelector('h1.hero__title')?.textContent === '{title}'",
                    functools.partial(edit, project / PROMO, line, new_line),
                    samples.phases,
                )
            )
            line = new_line
            reloads += 1
            settle(reloads)
            samples.server.append(server.reload_times()[-1])

            # a block template
            old = 'class="hero__title"' if i == 0 else f'data-rev="{i - 1}" class="hero__title"'
            samples = results["block edit → page updated"]
            samples.add(
                shown_after(
                    page,
                    f"document.querySelector('h1[data-rev=\"{i}\"]') !== null",
                    functools.partial(
                        edit, project / TEMPLATE, old, f'data-rev="{i}" class="hero__title"'
                    ),
                    samples.phases,
                )
            )
            reloads += 1
            settle(reloads)
            samples.server.append(server.reload_times()[-1])

            # a stylesheet
            colour = f"rgb({i + 1}, 2, 3)"
            style = project / STYLE
            base_css = style.read_text(encoding="utf-8").split("\n/* bench */")[0]

            def write_css(c: str = colour, b: str = base_css, to: Path = style) -> None:
                to.write_text(
                    b + f"\n/* bench */\n.hero__title {{ color: {c}; }}\n", encoding="utf-8"
                )

            samples = results["stylesheet edit → colour painted"]
            samples.add(colour_after(page, "h1.hero__title", colour, write_css))
            reloads += 1
            settle(reloads)
            samples.server.append(server.reload_times()[-1])

            # an entity: a new field each time (taking one away would lose data: refused). The
            # open page does not read Amenity: it is updated (or reloaded) once the new
            # ecosystem serves, with its HTML as it was.
            query = {"query": f"{{ amenities(limit: 1) {{ bench{i} }} }}"}

            def answers(q: dict[str, str] = query) -> bool:
                return "errors" not in client.post(server.base + "/graphql", json=q).json()

            updates, document = page.evaluate("[window.__updates, window.__document]")
            samples = results["entity edit → page updated"]
            graphql: list[float] = []

            def add_field(n: int = i, found: list[float] = graphql) -> None:
                written = wall_ms()
                add_amenity_field(project / CATALOG, f"bench{n}: {{type: text}}")
                # every 10 ms: asked more often, the questions would slow the reload they time
                wait_until(answers, f"field bench{n} in /graphql", timeout=120, every=0.01)
                found.append(wall_ms() - written)

            samples.add(
                shown_after(
                    page,
                    f"window.__updates > {updates} || window.__document !== {document!r}",
                    add_field,
                    samples.phases,
                )
            )
            results["entity edit → field in /graphql"].times.extend(graphql)
            reloads += 1
            settle(reloads)
            samples.server.append(server.reload_times()[-1])
            print(f"  ecospec round {i + 1}/{repeat} done", flush=True)
        client.close()
        errors = [ln for ln in server.output().splitlines() if "error" in ln.lower()]
        if errors:
            print("  the server reported errors:\n    " + "\n    ".join(errors[:10]))
    return results


# -- the peer: hugo server ---------------------------------------------------------------------------


def hugo_site(folder: Path, built: Path, pages: int) -> Path:
    """A Hugo site of `pages` pages, each the demo's spring-sale page as `ecospec dev` built it
    (same HTML, stylesheet, scripts and pictures, so the browser has the same work to do); the
    hero is a partial whose <h1> shows the page's title, the way a block shows a landing's."""
    site = folder / "hugo"
    layouts = site / "layouts"
    (layouts / "_default").mkdir(parents=True)
    (layouts / "partials").mkdir()
    (site / "content" / "pages").mkdir(parents=True)
    shutil.copytree(built, site / "static", ignore=shutil.ignore_patterns("*.html", ".ecospec*"))
    html = (built / "promo" / "spring-sale" / "index.html").read_text(encoding="utf-8")
    html = html.replace("{{", '{{"{{"}}')  # literal braces, not Go template actions
    hero = re.search(r'<section class="hero[ "].*?</section>', html, re.S)
    if hero is None:
        raise SystemExit("the built spring-sale page has no hero section")
    partial = re.sub(
        r'(<h1[^>]*class="hero__title"[^>]*>).*?(</h1>)', r"\1{{ .Title }}\2", hero.group(0)
    )
    partial = re.sub(r' data-rev="\d+"', "", partial)  # the marks of the block edits above
    (layouts / "partials" / "hero.html").write_text(partial, encoding="utf-8")
    page_layout = html.replace(hero.group(0), '{{ partial "hero.html" . }}')
    for name in ("_default/single.html", "_default/list.html", "index.html"):
        (layouts / name).write_text(page_layout, encoding="utf-8")
    (site / "hugo.toml").write_text(
        'baseURL = "http://127.0.0.1/"\ntitle = "Bench"\nlanguageCode = "ru"\n'
        'disableKinds = ["taxonomy", "term", "RSS"]\n',
        encoding="utf-8",
    )
    (site / "content" / "_index.md").write_text('---\ntitle: "Главная"\n---\n', encoding="utf-8")
    for n in range(pages - 1):
        (site / "content" / "pages" / f"page-{n}.md").write_text(
            f'---\ntitle: "Страница {n}"\n---\n', encoding="utf-8"
        )
    return site


def bench_hugo(
    browser: Browser, folder: Path, built: Path, repeat: int, pages: int
) -> dict[str, Samples]:
    site = hugo_site(folder, built, pages)
    port = free_port()
    command = ["hugo", "server", "--bind", "127.0.0.1", "--port", str(port), "--source", str(site)]
    results = {
        name: Samples(name)
        for name in (
            "content edit → page painted",
            "partial edit → page painted",
            "stylesheet edit → colour painted",
        )
    }
    with serving(command, site, port, "/", folder / "hugo.log") as server:
        page = open_page(browser, server.base + "/pages/page-0/")
        time.sleep(1)  # livereload.js registers after a handshake that follows the socket's open
        content = site / "content" / "pages" / "page-0.md"
        partial = site / "layouts" / "partials" / "hero.html"
        style = site / "static" / "assets" / "site.css"
        base_css = style.read_text(encoding="utf-8")
        title_line = 'title: "Страница 0"'
        marker = 'class="hero__title"'
        for i in range(repeat):
            new_title = f'title: "Страница {i}-{i}"'
            written = wall_ms()
            edit(content, title_line, new_title)
            title_line = new_title
            results["content edit → page painted"].times.append(
                painted_after(
                    page,
                    f"document.querySelector('h1.hero__title')?.textContent === 'Страница {i}-{i}'",
                    written,
                    results["content edit → page painted"].phases,
                )
            )
            time.sleep(1)  # the reloaded page's livereload.js has shaken hands

            new_marker = f'data-rev="{i}" class="hero__title"'
            written = wall_ms()
            edit(partial, marker, new_marker)
            marker = new_marker
            results["partial edit → page painted"].times.append(
                painted_after(
                    page,
                    f"document.querySelector('h1[data-rev=\"{i}\"]') !== null",
                    written,
                    results["partial edit → page painted"].phases,
                )
            )
            time.sleep(1)  # the reloaded page's livereload.js has shaken hands

            colour = f"rgb({i + 1}, 2, 3)"

            def write_css(c: str = colour) -> None:
                style.write_text(
                    base_css + f"\n/* bench */\n.hero__title {{ color: {c}; }}\n",
                    encoding="utf-8",
                )

            results["stylesheet edit → colour painted"].add(
                colour_after(page, "h1.hero__title", colour, write_css)
            )
            time.sleep(1)  # the reloaded page's livereload.js has shaken hands
        print(f"  hugo: {repeat} rounds done", flush=True)
    return results


# -- where a reload's time goes ------------------------------------------------------------------------


def profile_reload(folder: Path, repeat: int) -> None:
    """DevServer.reload in process, for the same four edits, `repeat` times each; its stages
    timed by wrapping the functions it calls, and build_site's own stages the same way."""
    from watchfiles import Change

    import ecospec.generator.build as build_module
    import ecospec.runtime.dev as dev_module
    from ecospec.runtime.dev import DevServer
    from ecospec.runtime.ecosystem import Ecosystem, Live

    project = demo_project(folder / "profile")
    stages: dict[str, float] = {}
    runs: dict[str, list[dict[str, float]]] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def done(started: float) -> None:
            stages[name] = stages.get(name, 0.0) + (time.perf_counter() - started) * 1000

        if asyncio.iscoroutinefunction(fn):

            async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    done(started)

            return wrapped_async

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                done(started)

        return wrapped

    # (owner, attribute, label): the calls DevServer.reload makes itself, then build_site's parts
    wrapped = [
        (DevServer, "load", "load the spec"),
        (dev_module, "load_blocks", "load_blocks"),
        (dev_module, "migrate", "migrate (plan, apply)"),
        (Ecosystem, "build", "Ecosystem.build"),
        (DevServer, "restyle", "restyle (stylesheet only)"),
        (dev_module, "follow", "follow (the other folder)"),
        (dev_module, "build_site", "build_site"),
        (build_module.SiteBuilder, "prepare_assets", "  prepare_assets"),
        (build_module.SiteBuilder, "plan", "  plan"),
        (build_module.SiteBuilder, "prefetch", "  prefetch"),
        (build_module.SiteBuilder, "render", "  render"),
        (build_module.SiteBuilder, "extras", "  extras (sitemap, 404)"),
        (build_module, "_sync_static", "  _sync_static"),
        (build_module, "_write", "  _write"),
    ]
    build = Ecosystem.build
    # vars(): the attribute as the owner holds it (a classmethod stays one when put back)
    originals = [(owner, name, vars(owner)[name]) for owner, name, _ in wrapped]
    for owner, name, label in wrapped:
        setattr(owner, name, timed(label, getattr(owner, name)))

    async def run() -> None:
        server = DevServer(project)
        await server.start(Live(build(project, production=False, live_sites=False)))
        line = hero_title_line(project)
        for i in range(repeat):
            for scenario in ("landing", "block", "stylesheet", "entity"):
                if scenario == "landing":
                    new_line = re.sub(r"title: .*", f"title: Профиль {i}", line, count=1)
                    edit(project / PROMO, line, new_line)
                    line, changed = new_line, project / PROMO
                elif scenario == "block":
                    changed = project / TEMPLATE
                    changed.write_text(
                        re.sub(
                            r'(data-prof="\d+" )?class="hero__title"',
                            f'data-prof="{i}" class="hero__title"',
                            changed.read_text(encoding="utf-8"),
                            count=1,
                        ),
                        encoding="utf-8",
                    )
                elif scenario == "stylesheet":
                    changed = project / STYLE
                    changed.write_text(
                        changed.read_text(encoding="utf-8") + f"\n/* {i} */\n", encoding="utf-8"
                    )
                else:
                    changed = project / CATALOG
                    add_amenity_field(changed, f"prof{i}: {{type: text}}")
                await asyncio.sleep(0.3)  # a pause, as between two saves
                stages.clear()
                started = time.perf_counter()
                with contextlib.redirect_stdout(None):
                    await server.reload({(Change.modified, str(changed))})
                stages["total"] = (time.perf_counter() - started) * 1000
                runs.setdefault(scenario, []).append(dict(stages))
        await server.ecosystem.close()

    try:
        asyncio.run(run())
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    labels = ["total"] + [label for _, _, label in wrapped]
    print(f"where DevServer.reload spends its time: median of {repeat} in process (ms)")
    print(f"  {'stage':<26}" + "".join(f"{s:>12}" for s in runs))
    for label in labels:
        cells = [statistics.median(r.get(label, 0.0) for r in found) for found in runs.values()]
        if any(cells):
            print(f"  {label:<26}" + "".join(f"{c:12.0f}" for c in cells))


# -- main ---------------------------------------------------------------------------------------------


def machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    with contextlib.suppress(OSError):
        found = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        model = found.group(1) if found else ""
    memory = ""
    with contextlib.suppress(OSError):
        found = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
        memory = f", {int(found.group(1)) / 1024 / 1024:.0f} GB" if found else ""
    return f"{cpus} cores ({model}){memory}, {platform.system()} {platform.release()}"


PAIRS = [
    ("landing edit → page updated", "content edit → page painted"),
    ("block edit → page updated", "partial edit → page painted"),
    ("stylesheet edit → colour painted", "stylesheet edit → colour painted"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=15, help="edits per scenario (default 15)")
    parser.add_argument("--no-hugo", action="store_true", help="skip the Hugo peer")
    parser.add_argument(
        "--profile", action="store_true", help="also time DevServer.reload's stages in process"
    )
    args = parser.parse_args(argv)
    hugo = None if args.no_hugo else shutil.which("hugo")
    print(f"machine: {machine()}")
    print(
        f"Python {platform.python_version()}, playwright {version('playwright')}, "
        f"watchfiles {version('watchfiles')}, uvicorn {version('uvicorn')}"
    )
    with tempfile.TemporaryDirectory(prefix="ecospec-live-reload-") as tmp:
        folder = Path(tmp)
        with chromium() as browser:
            print(f"Chromium {browser.version}")
            print(f"ecospec dev on the demo, {args.repeat} edits per scenario …", flush=True)
            ours = bench_ecospec(browser, folder, args.repeat)
            print("save → browser updated (wall clock, ms), ecospec dev:")
            for samples in ours.values():
                print("  " + samples.line())
            for name in (
                "landing edit → page updated",
                "block edit → page updated",
                "entity edit → page updated",
            ):
                goal = percentile(ours[name].times, 50)
                met = "met" if goal < 300 else "missed"
                print(f"goal p50 < 300 ms, {name.split(' →')[0]}: {met} ({goal:.0f} ms)")
            built = max(
                (folder / "demo" / ".ecospec" / "dev").glob("sites-*"),
                key=lambda p: int(p.name.split("-")[1]),
            )
            pages = len(list(built.rglob("*.html")))
            if hugo:
                found = subprocess.run([hugo, "version"], capture_output=True, text=True)
                print(f"\n{found.stdout.strip()}: a site of {pages} pages …", flush=True)
                theirs = bench_hugo(browser, folder, built, args.repeat, pages)
                print("save → browser updated (wall clock, ms), hugo server:")
                for samples in theirs.values():
                    print("  " + samples.line())
                print("ratios ecospec / hugo (p50; above 1× Ecospec is slower):")
                for mine, peer in PAIRS:
                    a, b = ours[mine].times, theirs[peer].times
                    ratio = percentile(a, 50) / percentile(b, 50)
                    print(f"  {mine.split(' →')[0]:<16} / {peer.split(' →')[0]:<16} {ratio:5.1f}×")
        if args.profile:
            print()
            profile_reload(folder, 5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
