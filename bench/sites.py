"""Building landing pages: `ecospec build` against Hugo, the same 10,000 apartment pages from the
same data.

It copies the demo into a temporary folder with one bench-only landing in place of the demo's
(a page per public apartment: header, the apartment's card, a lead form, footer — blocks fed by
the page's own record only), migrates and seeds a SQLite file, and adds generated apartments
through Ecospec's write path until the public role sees `--pages` of them. It exports the same
records, read as the public role, as Hugo content files with JSON front matter, and writes a
Hugo layout that renders the same sections with the same texts and formats, the same site
assets copied from static/. Then it times, best of `--repeat`, each contender building into an
empty folder, the contenders taking turns, each a child process whose CPU time and peak memory
come from wait4(). It prints pages/s, the ratio and how alike the two outputs are.

Run: .venv/bin/python bench/sites.py [--pages 10000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import difflib
import html
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ first on the path, where bench/graphql.py would shadow the
# graphql package; the repository's root goes there instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from ecospec.generator.sitedata import Reads, SiteData  # noqa: E402
from ecospec.runtime.ecosystem import Ecosystem  # noqa: E402

BIN = Path(sys.executable).parent

# -- the bench landing and its Hugo twin ------------------------------------------------------------

LANDING = """\
landing: bench-apartment
title: Страница квартиры (бенчмарк)
for_each: {entity: Apartment, order_by: [code]}
path: /apartments/{code}/
seo:
  title: >-
    {% if item.rooms == 0 %}Студия{% else %}{{ item.rooms }}-комнатная квартира{% endif %}
    {{ item.area | number(1) | replace(',0', '') }} м² в ЖК «{{ item.complex.name }}» — {{ item.price | money }}
  description: >-
    Квартира № {{ item.number }} на {{ item.floor }} этаже в ЖК «{{ item.complex.name }}»,
    {{ item.complex.city }}. Цена от застройщика.
blocks:
  - header:
      menu:
        - {title: Квартира, href: "#apartment"}
        - {title: Заявка, href: "#lead"}
        - {title: О комплексе, href: "/complexes/{{ item.complex.slug }}/"}
      phone: "+7 (495) 150-40-40"
      cta: {title: Забронировать, href: "#lead"}
  - item_detail:
      back: {title: "Все квартиры ЖК «{{ item.complex.name }}»", href: "/complexes/{{ item.complex.slug }}/"}
      eyebrow: "ЖК «{{ item.complex.name }}» · {{ item.building.name }} · квартира № {{ item.number }}"
      title: >-
        {% if item.rooms == 0 %}Студия{% else %}{{ item.rooms }}-комнатная квартира{% endif %},
        {{ item.area | number(1) | replace(',0', '') }} м²
      subtitle: "{{ item.complex.city }}, {{ item.complex.address }}"
      image: {src: "{{ item.plan_image }}", alt: "Планировка квартиры № {{ item.number }}"}
      fields: [area, kitchen_area, floor, building, ceiling_height, finishing, balcony]
      cta: {title: Забронировать, href: "#lead"}
      note: Бронь на 7 дней бесплатно. Цена от застройщика, без комиссий.
  - lead_form:
      anchor: lead
      title: Забронируйте квартиру
      subtitle: "Квартира № {{ item.number }} в ЖК «{{ item.complex.name }}»."
      creates: Lead
      fields: [name, phone]
      set: {apartment: "{{ item.id }}", complex: "{{ item.complex.id }}"}
      submit: Забронировать
  - footer:
      company: ООО «Специализированный застройщик «Северный квартал»»
      phone: "+7 (495) 150-40-40"
      email: sales@north-quarter.ru
"""

HUGO_CONFIG = """\
baseURL = "{base_url}/"
languageCode = "ru"
title = "{title}"
disableKinds = ["taxonomy", "term", "RSS", "section"]
enableRobotsTXT = true
"""

# Go templates that print what the Ecospec blocks print for the same record. The markup follows
# the blocks' (header, item_detail, lead_form, footer) closely; the CSS is the Ecospec build's.
HUGO_BASEOF = """\
<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }}</title>
<meta name="description" content="{{ .Params.description }}">
<link rel="canonical" href="{{ .Permalink }}">
<meta property="og:type" content="website">
<meta property="og:title" content="{{ .Title }}">
<meta property="og:description" content="{{ .Params.description }}">
<meta property="og:url" content="{{ .Permalink }}">
<meta property="og:site_name" content="{{ site.Title }}">
<meta property="og:locale" content="ru">
<link rel="stylesheet" href="{{ site.Params.css }}">
<style>:root{ {{- site.Params.theme | safeCSS -}} }</style>
<script src="{{ site.Params.formjs }}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Перейти к содержимому</a>
{{ block "header" . }}{{ end }}
<main id="main">
{{ block "main" . }}{{ end }}
</main>
{{ block "footer" . }}{{ end }}
</body>
</html>
"""

HUGO_SINGLE = """\
{{ define "header" }}{{ $a := .Params.apartment }}
<header class="site-header" id="top">
  <div class="container site-header__bar">
    <a class="site-header__brand" href="/">
      <img class="site-header__logo" src="/media/logo.svg" alt="" width="40" height="40">
      <span class="site-header__name">{{ site.Title }}<span class="site-header__tagline">застройщик</span></span>
    </a>
    <nav class="site-header__nav" aria-label="Меню страницы">
      <ul>
        <li><a href="#apartment">Квартира</a></li><li><a href="#lead">Заявка</a></li><li><a href="/complexes/{{ $a.complex.slug }}/">О комплексе</a></li>
      </ul>
    </nav>
    <div class="site-header__actions">
      <a class="site-header__phone" href="tel:+74951504040"><svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1 1 .4 1.9.7 2.8a2 2 0 0 1-.5 2.1L8 9.9a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.8.7a2 2 0 0 1 1.7 2z"/></svg><span>+7 (495) 150-40-40</span></a>
      <a class="button site-header__cta" href="#lead">Забронировать</a>
    </div>
    <details class="site-header__mobile">
      <summary><span class="site-header__burger" aria-hidden="true"></span><span class="visually-hidden">Меню</span></summary>
      <div class="site-header__drawer">
        <nav aria-label="Меню страницы">
          <ul>
            <li><a href="#apartment">Квартира</a></li><li><a href="#lead">Заявка</a></li><li><a href="/complexes/{{ $a.complex.slug }}/">О комплексе</a></li>
          </ul>
        </nav>
        <a class="site-header__drawer-phone" href="tel:+74951504040">+7 (495) 150-40-40</a>
        <a class="button button--block" href="#lead">Забронировать</a>
      </div>
    </details>
  </div>
</header>
{{ end }}

{{ define "main" }}{{ $a := .Params.apartment }}
{{ $price := float $a.price }}
{{ $area := float $a.area }}
{{ $title := cond (eq (int $a.rooms) 0) "Студия" (printf "%d-комнатная квартира" (int $a.rooms)) }}
{{ $areaText := replace (replace (lang.FormatNumberCustom 1 $area) "." ",") ",0" "" }}
{{ $finishing := dict "rough" "Без отделки" "white_box" "Предчистовая (white box)" "turnkey" "Под ключ" }}
<section class="detail" id="b1-item_detail" aria-labelledby="b1-item_detail-title">
  <div class="container">
    <p class="detail__back"><a href="/complexes/{{ $a.complex.slug }}/"><span aria-hidden="true">←</span> Все квартиры ЖК «{{ $a.complex.name }}»</a></p>
    <div class="detail__grid">
      <div class="detail__summary">
        <p class="detail__eyebrow">ЖК «{{ $a.complex.name }}» · {{ $a.building.name }} · квартира № {{ $a.number }}</p>
        <h1 id="b1-item_detail-title" class="detail__title">{{ $title }}, {{ $areaText }} м²</h1>
        <p class="detail__subtitle">{{ $a.complex.city }}, {{ $a.complex.address }}</p>
        {{ if eq $a.status "booked" }}<p class="badge badge--dark detail__status">Забронирована — можно встать в очередь</p>{{ end }}
        <div class="detail__price">
          <p class="price detail__amount">{{ partial "money" $price }}</p>
          <p class="detail__per">{{ partial "money" (mul (math.Round (div (div $price $area) 100)) 100) }} за м²</p>
        </div>
        <div class="detail__actions">
          <a class="button" href="#lead">Забронировать</a>
        </div>
        <p class="detail__note">Бронь на 7 дней бесплатно. Цена от застройщика, без комиссий.</p>
        <dl class="detail__facts">
          <div><dt>Общая площадь</dt><dd>{{ partial "dec" $area }}&nbsp;м²</dd></div>
          {{ with $a.kitchen_area }}<div><dt>Площадь кухни</dt><dd>{{ partial "dec" (float .) }}&nbsp;м²</dd></div>{{ end }}
          <div><dt>Этаж</dt><dd>{{ $a.floor }} из {{ $a.building.floors }}</dd></div>
          <div><dt>Корпус</dt><dd>{{ $a.building.name }}</dd></div>
          {{ with $a.ceiling_height }}<div><dt>Высота потолков</dt><dd>{{ partial "dec" (float .) }}&nbsp;м</dd></div>{{ end }}
          <div><dt>Отделка</dt><dd>{{ index $finishing $a.finishing }}</dd></div>
          <div><dt>Балкон или лоджия</dt><dd>{{ if $a.balcony }}есть{{ else }}нет{{ end }}</dd></div>
        </dl>
      </div>
      {{ with $a.plan_image }}
      <figure class="detail__media">
        <img src="{{ . }}" alt="Планировка квартиры № {{ $a.number }}" width="800" height="600">
      </figure>
      {{ end }}
    </div>
  </div>
</section>
<section class="lead section" id="lead" aria-labelledby="b2-lead_form-title">
  <div class="container">
    <div class="lead__box">
      <div class="lead__intro">
        <h2 id="b2-lead_form-title" class="lead__title">Забронируйте квартиру</h2>
        <p class="lead__subtitle">Квартира № {{ $a.number }} в ЖК «{{ $a.complex.name }}».</p>
      </div>
      <div class="lead__card">
        <p class="lead__sent" id="b2-lead_form-sent" tabindex="-1">Спасибо! Заявка отправлена — мы скоро свяжемся с вами.</p>
        <form class="lead__form" data-ecospec-form method="post" action="/forms/bench-apartment/2" novalidate
          data-offline-text="Не удалось отправить: проверьте подключение к интернету и попробуйте ещё раз.">
          <div class="lead__field lead__field--text">
            <label for="b2-lead_form-name">Имя<span class="lead__req" aria-hidden="true"> *</span></label>
            <input id="b2-lead_form-name" name="name" type="text" autocomplete="name" maxlength="120" required aria-required="true" placeholder="Как к вам обращаться" aria-describedby="b2-lead_form-name-error">
            <span class="lead__error" id="b2-lead_form-name-error" data-error-for="name"></span>
          </div>
          <div class="lead__field lead__field--tel">
            <label for="b2-lead_form-phone">Телефон</label>
            <input id="b2-lead_form-phone" name="phone" type="tel" autocomplete="tel" inputmode="tel" maxlength="30" placeholder="+7 (___) ___-__-__" aria-describedby="b2-lead_form-phone-error">
            <span class="lead__error" id="b2-lead_form-phone-error" data-error-for="phone"></span>
          </div>
          <input type="hidden" name="_item" value="{{ $a.id }}">
          <input type="hidden" name="_ts" value="">
          <input type="hidden" name="utm_source" value=""><input type="hidden" name="utm_medium" value=""><input type="hidden" name="utm_campaign" value=""><input type="hidden" name="utm_content" value=""><input type="hidden" name="utm_term" value="">
          <div class="visually-hidden" aria-hidden="true">
            <label for="b2-lead_form-website">Не заполняйте это поле</label>
            <input type="text" id="b2-lead_form-website" name="website" tabindex="-1" autocomplete="off" value="">
          </div>
          <button class="button button--block lead__submit" type="submit">Забронировать</button>
          <div class="lead__status" data-form-status role="status" aria-live="polite"></div>
          <p class="lead__consent">Нажимая кнопку, вы соглашаетесь на обработку персональных данных.</p>
        </form>
      </div>
    </div>
  </div>
</section>
{{ end }}

{{ define "footer" }}
<footer class="site-footer">
  <div class="container">
    <div class="site-footer__grid">
      <div class="site-footer__brand">
        <a class="site-footer__home" href="/">
          <img src="/media/logo-light.svg" alt="" width="40" height="40">
          <span>{{ site.Title }}</span>
        </a>
        <p class="site-footer__company">ООО «Специализированный застройщик «Северный квартал»»</p>
      </div>
      <div class="site-footer__contacts">
        <p class="site-footer__heading">Офис продаж</p>
        <p><a class="site-footer__phone" href="tel:+74951504040">+7 (495) 150-40-40</a></p>
        <p><a href="mailto:sales@north-quarter.ru">sales@north-quarter.ru</a></p>
        <p class="site-footer__muted">Ежедневно с 9:00 до 21:00</p>
      </div>
    </div>
  </div>
</footer>
{{ end }}
"""

HUGO_PARTIALS = {
    # 12971000 -> "12 971 000 ₽": groups of three with a narrow no-break space, as Ecospec's money
    "money.html": '{{ replace (lang.FormatNumberCustom 0 (math.Round .)) "," "\u202f" }}\u00a0₽',
    # 41.6 -> "41,6", 41 -> "41", 2.75 -> "2,75"
    "dec.html": (
        "{{ $x := float . }}{{ if eq $x (math.Round $x) }}{{ lang.FormatNumberCustom 0 $x }}"
        '{{ else if eq (mul $x 10) (math.Round (mul $x 10)) }}{{ replace (lang.FormatNumberCustom 1 $x) "." "," }}'
        '{{ else }}{{ replace (lang.FormatNumberCustom 2 $x) "." "," }}{{ end }}'
    ),
}
HUGO_HOME = '{{ define "main" }}<h1>{{ site.Title }}</h1>{{ end }}\n'
HUGO_404 = (
    '<!doctype html>\n<html lang="ru"><head><meta charset="utf-8"><title>Страница не найдена'
    " — {{ site.Title }}</title></head><body><main><h1>Такой страницы нет</h1>"
    '<p><a href="/">На главную</a></p></main></body></html>\n'
)

# -- data -------------------------------------------------------------------------------------------


def ecospec(*args: str, env: dict[str, str]) -> None:
    exe = BIN / "ecospec"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "ecospec"]
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ecospec {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def make_project(folder: Path) -> Path:
    """The demo's spec (entities, roles, seed) and static files, with the bench landing only."""
    project = folder / "project"
    shutil.copytree(ROOT / "spec", project / "spec", ignore=shutil.ignore_patterns("landings"))
    (project / "spec" / "landings").mkdir()
    (project / "spec" / "landings" / "bench-apartment.yaml").write_text(LANDING, encoding="utf-8")
    if (ROOT / "static").is_dir():
        shutil.copytree(ROOT / "static", project / "static")
    return project


PUBLIC_COUNT = "{ apartmentsAggregate { count } }"


async def add_apartments(project: Path, pages: int, seed: int) -> tuple[int, int]:
    """Generated apartments, free or booked in public complexes, until the public role sees
    `pages`; returns (added, public). Written with the runtime's own writer (checks included)."""
    from ecospec.runtime.writes import Writer

    eco = Ecosystem.build(project)
    try:
        source = eco.source()
        counted = await source.execute(PUBLIC_COUNT, {})
        have = int(counted["apartmentsAggregate"]["count"])
        buildings = await source.execute(
            "{ buildings(orderBy: [{id: ASC}]) { id floors complex { id slug } } }", {}
        )
        homes = [b for b in buildings["buildings"] if b["floors"]]
        rng = random.Random(seed)
        writer = Writer(eco.catalog)
        added = 0
        async with eco.engine.begin() as conn:
            for n in range(max(0, pages - have)):
                b = homes[n % len(homes)]
                rooms = rng.choice((0, 1, 1, 2, 2, 3, 4))
                area = round(rng.uniform(*AREAS[rooms]), 1)
                price = int(area * rng.uniform(230_000, 420_000) / 1000) * 1000
                await writer.create(
                    conn,
                    "Apartment",
                    {
                        "code": f"BN-{b['id']}-{n + 1}",
                        "complex": int(b["complex"]["id"]),
                        "building": int(b["id"]),
                        "number": n // len(homes) + 1,
                        "floor": rng.randint(1, int(b["floors"])),
                        "rooms": rooms,
                        "area": area,
                        "kitchen_area": None if rooms == 0 else round(rng.uniform(8, 22), 1),
                        "ceiling_height": rng.choice((2.7, 2.8, 3.0)),
                        "price": price,
                        "min_price": int(price * 0.95),
                        "status": "booked" if rng.random() < 0.15 else "free",
                        "finishing": rng.choice(("rough", "white_box", "turnkey")),
                        "balcony": rng.random() < 0.6,
                        "plan_image": f"/media/plans/{rooms}k-{rng.randint(1, 4)}.svg",
                    },
                )
                added += 1
        counted = await source.execute(PUBLIC_COUNT, {})
        return added, int(counted["apartmentsAggregate"]["count"])
    finally:
        await eco.close()


AREAS = {0: (20, 30), 1: (33, 46), 2: (50, 70), 3: (72, 95), 4: (95, 130)}


async def public_apartments(project: Path) -> list[dict[str, Any]]:
    """Every apartment the public role reads, as the build reads them (same query shape)."""
    eco = Ecosystem.build(project)
    try:
        data = SiteData(eco.spec, eco.source())
        return await data.records("Apartment", None, ["code"], None, Reads())
    finally:
        await eco.close()


def hugo_site(folder: Path, project: Path, records: list[dict[str, Any]], built: Path) -> Path:
    """A Hugo site of the same records: content with JSON front matter, the twin layout, the
    same static files, and the CSS and form script the Ecospec build made."""
    from ecospec.generator.loader import load_spec

    spec = load_spec(project)
    site = folder / "hugo"
    content = site / "content" / "apartments"
    content.mkdir(parents=True)
    for r in records:
        title = (
            "Студия" if r["rooms"] == 0 else f"{r['rooms']}-комнатная квартира"
        ) + f" {_area(r['area'])} м² в ЖК «{r['complex']['name']}» — {_money(r['price'])}"
        front = {
            "title": title,
            "url": f"/apartments/{r['code']}/",
            "description": (
                f"Квартира № {r['number']} на {r['floor']} этаже в ЖК «{r['complex']['name']}», "
                f"{r['complex']['city']}. Цена от застройщика."
            ),
            "apartment": r,
        }
        (content / f"{r['code']}.md").write_text(
            json.dumps(front, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    layouts = site / "layouts"
    (layouts / "_default").mkdir(parents=True)
    (layouts / "partials").mkdir()
    (layouts / "_default" / "baseof.html").write_text(HUGO_BASEOF, encoding="utf-8")
    (layouts / "_default" / "single.html").write_text(HUGO_SINGLE, encoding="utf-8")
    (layouts / "index.html").write_text(HUGO_HOME, encoding="utf-8")
    (layouts / "404.html").write_text(HUGO_404, encoding="utf-8")
    for name, text in HUGO_PARTIALS.items():
        (layouts / "partials" / name).write_text(text, encoding="utf-8")
    static = site / "static"
    if (project / "static").is_dir():
        shutil.copytree(project / "static", static)
    (static / "assets").mkdir(parents=True, exist_ok=True)
    css = next((built / "assets").glob("site.*.css"))
    formjs = next((built / "assets").glob("form.*.js"))
    shutil.copy2(css, static / "assets" / css.name)
    shutil.copy2(formjs, static / "assets" / formjs.name)
    theme = re.search(r"<style>:root\{(.*?)\}</style>", _first_page(built))
    config = HUGO_CONFIG.format(base_url=spec.site.base_url.rstrip("/"), title=spec.title)
    config += "[params]\n"
    config += f'css = "/assets/{css.name}"\nformjs = "/assets/{formjs.name}"\n'
    config += f"theme = {json.dumps(html.unescape(theme.group(1)) if theme else '')}\n"
    (site / "config.toml").write_text(config, encoding="utf-8")
    return site


def _money(value: Any) -> str:
    from ecospec.generator.render import money

    return money(value)


def _area(value: Any) -> str:
    from ecospec.generator.render import number

    return number(value, 1).replace(",0", "")


def _first_page(built: Path) -> str:
    return next((built / "apartments").glob("*/index.html")).read_text(encoding="utf-8")


# -- timing ------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float


def timed(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> Run:
    """One child process: wall time, CPU time (user + system) and peak resident memory."""
    with log.open("a") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}; see {log}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


@dataclass
class Contender:
    name: str
    command: list[str]
    out: Path
    env: dict[str, str]
    cwd: Path
    fresh: bool = True  # build into an empty folder each time
    runs: list[Run] | None = None

    def run(self, log: Path) -> Run:
        if self.fresh and self.out.exists():
            shutil.rmtree(self.out)
        found = timed(self.command, self.env, self.cwd, log)
        self.runs = [*(self.runs or []), found]
        return found

    @property
    def best(self) -> Run:
        assert self.runs
        return min(self.runs, key=lambda r: r.wall)


# -- how alike the outputs are ------------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "svg"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "svg"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return re.sub(r"\s+", " ", " ".join(parser.parts)).strip()


def likeness(ours: Path, theirs: Path, codes: list[str]) -> tuple[float, float, int, int]:
    """Mean similarity of the pages' visible text (1 = the same words), mean bytes per page."""
    ratios, ours_bytes, theirs_bytes = [], 0, 0
    for code in codes:
        a = (ours / "apartments" / code / "index.html").read_text(encoding="utf-8")
        b = (theirs / "apartments" / code / "index.html").read_text(encoding="utf-8")
        ours_bytes += len(a.encode())
        theirs_bytes += len(b.encode())
        ratios.append(difflib.SequenceMatcher(None, visible_text(a), visible_text(b)).ratio())
    return (
        min(ratios),
        sum(ratios) / len(ratios),
        ours_bytes // len(codes),
        theirs_bytes // len(codes),
    )


def count_pages(out: Path) -> int:
    return sum(1 for _ in (out / "apartments").glob("*/index.html"))


# -- the report ---------------------------------------------------------------------------------------


def _commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "?"
    head = subprocess.run(
        [git, "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run([git, "-C", str(ROOT), "diff", "--quiet", "HEAD"], check=False)
    return head.stdout.strip() + (" with uncommitted changes" if dirty.returncode else "")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def hugo_version(hugo: str) -> str:
    done = subprocess.run([hugo, "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().split(" BuildDate")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000, help="apartment pages to build")
    parser.add_argument("--repeat", type=int, default=3, help="timed builds per contender")
    parser.add_argument("--hugo", default=shutil.which("hugo") or "hugo", help="the hugo binary")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated apartments")
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it")
    args = parser.parse_args(argv)
    if shutil.which(args.hugo) is None and not Path(args.hugo).is_file():
        raise SystemExit(f"no hugo at {args.hugo} (apt-get install hugo)")

    if args.keep:
        args.keep.mkdir(parents=True)
        work = args.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="ecospec-bench-sites-"))
    try:
        return bench(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def bench(args: argparse.Namespace, work: Path) -> int:
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Ecospec at {_commit()}")
    load1, load5, _ = os.getloadavg()
    print(f"load average before the run: {load1:.2f} (1 min), {load5:.2f} (5 min)")
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )
    print(
        f"Python {platform.python_version()}, Jinja2 {version('jinja2')}, "
        f"SQLAlchemy {version('sqlalchemy')}; {hugo_version(args.hugo)}"
    )

    project = make_project(work)
    env = {**os.environ, "ECOSPEC_DATABASE_URL": f"sqlite:///{work / 'bench.db'}"}
    env.pop("ECOSPEC_ENV", None)
    started = time.perf_counter()
    ecospec("migrate", "--project", str(project), env=env)
    ecospec("seed", "--project", str(project), env=env)
    os.environ["ECOSPEC_DATABASE_URL"] = env["ECOSPEC_DATABASE_URL"]
    added, public = asyncio.run(add_apartments(project, args.pages, args.seed))
    records = asyncio.run(public_apartments(project))
    print(
        f"data: the demo's seed plus {added:,} generated apartments; the public role reads "
        f"{public:,} (SQLite, {(work / 'bench.db').stat().st_size / 2**20:.1f} MB); "
        f"prepared in {time.perf_counter() - started:.0f} s"
    )

    exe = BIN / "ecospec"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "ecospec"]
    ours = Contender(
        "ecospec build",
        [*command, "build", "--project", str(project), "--out", str(work / "out-ecospec")],
        work / "out-ecospec",
        env,
        project,
    )
    log = work / "builds.log"
    ours.run(log)  # also the CSS, script and theme the Hugo twin takes over
    hugo_dir = hugo_site(work, project, records, ours.out)
    hugo = Contender(
        "hugo",
        [args.hugo, "--quiet", "--source", str(hugo_dir), "--destination", str(work / "out-hugo")],
        work / "out-hugo",
        dict(os.environ),
        hugo_dir,
    )
    hugo_one = Contender(
        "hugo, one core (GOMAXPROCS=1)",
        [*hugo.command[:-1], str(work / "out-hugo-1")],
        work / "out-hugo-1",
        {**os.environ, "GOMAXPROCS": "1"},
        hugo_dir,
    )
    rebuild = Contender(
        "ecospec build, again with no change",
        [*ours.command[:-1], str(work / "out-again")],
        work / "out-again",
        env,
        project,
        fresh=False,
    )
    shutil.copytree(ours.out, rebuild.out)
    hugo.run(log)  # warm-up, like the first ecospec build
    ours.runs = hugo.runs = None
    contenders = [ours, hugo, hugo_one, rebuild]
    for _ in range(args.repeat):
        for c in contenders:
            c.run(log)

    pages_ours, pages_hugo = count_pages(ours.out), count_pages(hugo.out)
    codes = sorted(r["code"] for r in records)
    sample = random.Random(args.seed).sample(codes, min(200, len(codes)))
    low, mean, bytes_ours, bytes_hugo = likeness(ours.out, hugo.out, sample)
    print(
        f"pages: ecospec {pages_ours:,}, hugo {pages_hugo:,} apartment pages "
        f"(plus sitemap.xml, robots.txt and a 404 page each; Hugo also a one-line home page)"
    )
    print(
        f"alike: visible text of {len(sample)} sampled pages {mean:.1%} the same on average "
        f"(lowest {low:.1%}); {bytes_ours:,} bytes per page from ecospec, {bytes_hugo:,} from hugo"
    )
    print()
    rows = [["contender", "best of " + str(args.repeat), "pages/s", "CPU s", "peak RSS"]]
    for c in contenders:
        b = c.best
        rows.append(
            [
                c.name,
                f"{b.wall:.2f} s",
                f"{pages_ours / b.wall:,.0f}",
                f"{b.cpu:.2f}",
                f"{b.peak_mb:.0f} MB",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    ratio = hugo.best.wall / ours.best.wall
    one = hugo_one.best.wall / ours.best.wall
    print(
        f"ecospec / hugo, pages/s: {ratio:.2f}× (goal: at least 0.50×: {'met' if ratio >= 0.5 else 'NOT met'})"
    )
    print(f"ecospec / hugo on one core, pages/s: {one:.2f}×")
    print(
        f"CPU time per page: ecospec {1000 * ours.best.cpu / pages_ours:.2f} ms, hugo {1000 * hugo.best.cpu / pages_hugo:.2f} ms"
    )
    print(f"peak memory: ecospec {ours.best.peak_mb:.0f} MB, hugo {hugo.best.peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
