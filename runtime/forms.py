"""Landing forms posted to the runtime: /forms/<landing>/<block>. Validated per field, stopped
when they look like bots, written through the same write path as GraphQL, as the anonymous role."""

from __future__ import annotations

import html
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from generator.errors import BuildError
from generator.render import render_text
from generator.sitedata import Reads, SiteData
from runtime.ecosystem import Ecosystem
from runtime.permissions import RolePolicy, Session
from runtime.sitesource import InProcessSource
from runtime.writes import SYSTEM_ACTOR, Actor, WriteRejected

UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
TOO_FAST_MS = 2500
SYSTEM_FIELDS = {"_item", "_ts"}


@dataclass
class RateLimiter:
    """A token bucket per client: `burst` posts at once, refilled at `per_minute`."""

    per_minute: float = 10
    burst: float = 5

    def __post_init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = defaultdict(
            lambda: (self.burst, time.monotonic())
        )

    def allow(self, client: str) -> bool:
        tokens, since = self.buckets[client]
        now = time.monotonic()
        tokens = min(self.burst, tokens + (now - since) * self.per_minute / 60)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return False
        self.buckets[client] = (tokens - 1, now)
        if len(self.buckets) > 10_000:  # forget the oldest clients rather than grow without end
            for key in list(self.buckets)[:5_000]:
                del self.buckets[key]
        return True


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _text(ecosystem: Ecosystem, ru: str, en: str) -> str:
    return ru if ecosystem.spec.locale == "ru" else en


async def handle_form(request: Request, ecosystem: Ecosystem, limiter: RateLimiter) -> Response:
    spec = ecosystem.spec
    landing_name = request.path_params["landing"]
    landing = spec.landings.get(landing_name)
    index = int(request.path_params["index"])
    entry = (
        landing.blocks[index] if landing is not None and 0 <= index < len(landing.blocks) else None
    )
    params = next(iter(entry.values())) if entry else None
    if landing is None or not isinstance(params, dict) or not params.get("creates"):
        return _answer(
            request,
            ecosystem,
            404,
            _text(ecosystem, "Такой формы нет.", "There is no such form."),
            {},
        )
    client = request.client.host if request.client else "?"
    if not limiter.allow(client):
        return _answer(
            request,
            ecosystem,
            429,
            _text(
                ecosystem,
                "Слишком много заявок подряд — попробуйте через минуту.",
                "Too many posts; try again in a minute.",
            ),
            {},
        )
    limit = spec.limits.body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _answer(
            request,
            ecosystem,
            413,
            _text(ecosystem, "Слишком большая форма.", "The form is too large."),
            {},
        )
    form = await request.form()
    posted = {k: v for k, v in form.items() if isinstance(v, str)}
    success = str(
        params.get("success")
        or _text(ecosystem, "Спасибо! Заявка отправлена.", "Thank you! We got your request.")
    )
    thanks = str(params.get("thanks") or "")
    if posted.get("website") or _too_fast(posted.get("_ts")):
        return _done(request, success, thanks)  # a bot: say thanks, keep nothing
    entity_name = str(params["creates"])
    entity = spec.entities.get(entity_name)
    if entity is None:
        return _answer(
            request,
            ecosystem,
            404,
            _text(ecosystem, "Такой формы нет.", "There is no such form."),
            {},
        )
    item = await _item(ecosystem, landing_name, posted.get("_item"))
    if landing.for_each is not None and item is None:
        return _answer(
            request,
            ecosystem,
            404,
            _text(ecosystem, "Страница устарела.", "The page is out of date."),
            {},
        )
    context = {
        "item": item,
        "site": {"title": spec.title, "base_url": spec.site.base_url, "locale": spec.locale},
        "page": {"landing": landing_name},
    }
    data: dict[str, Any] = {}
    for name in params.get("fields") or []:
        if name in entity.fields:
            data[name] = _value(entity.fields[name].type, posted.get(name))
    for name, raw in (params.get("set") or {}).items():
        data[name] = render_text(raw, context) if isinstance(raw, str) else raw
    referer = parse_qs(urlparse(request.headers.get("referer", "")).query)
    for key in UTM:
        value = posted.get(key) or (referer.get(key) or [""])[0]
        if value and key in entity.fields and key not in data:
            data[key] = value[: entity.fields[key].max_length or 255]
    if "landing" in entity.fields and "landing" not in data:
        data["landing"] = urlparse(request.headers.get("referer", "")).path or landing.path
    role = spec.auth.anonymous_role
    access = ecosystem.service(role).access
    actor = Actor(
        RolePolicy(ecosystem.catalog, ecosystem.graphql.dialect, access, Session(role)), role
    )
    writer = ecosystem.graphql.writer
    try:
        async with ecosystem.engine.begin() as conn:
            record_id = await writer.create(conn, entity_name, data, actor)
            for follow in params.get("follow_up") or []:
                values = {
                    k: render_text(v, {**context, "record": {"id": record_id, **data}})
                    if isinstance(v, str)
                    else v
                    for k, v in (follow.get("set") or {}).items()
                }
                await writer.create(conn, str(follow["creates"]), values, _system(role))
        ecosystem.notify()
    except WriteRejected as rejected:
        errors: dict[str, str] = {}
        general: list[str] = []
        for problem in rejected.problems:
            text = _message(ecosystem, entity.fields.get(problem.field or ""), problem)
            if problem.field and problem.field in (params.get("fields") or []):
                errors.setdefault(problem.field, text)
            else:
                general.append(text)
        message = _text(ecosystem, "Проверьте поля формы.", "Please check the form.")
        if general and not errors:
            message = "; ".join(general)
        # answered 200 to scripts (a 4xx would be logged as a failed load), 422 to plain posts
        status = 200 if _wants_json(request) else 422
        return _answer(request, ecosystem, status, message, errors)
    block_name = next(iter(entry)) if entry else "form"
    return _done(request, success, thanks, f"b{index}-{block_name}")


_RU = {
    "REQUIRED": "Заполните это поле",
    "TOO_LONG": "Слишком длинно",
    "OUT_OF_RANGE": "Значение вне допустимых пределов",
    "NOT_IN_ENUM": "Выберите один из вариантов",
    "REF_NOT_FOUND": "Такого варианта нет",
    "UNIQUE_TAKEN": "Такое значение уже есть",
    "FORBIDDEN": "Заявку не удалось принять",
}
_RU_FORMAT = {
    "phone": "Проверьте номер телефона",
    "email": "Проверьте адрес почты",
    "url": "Проверьте адрес ссылки",
    "date": "Проверьте дату",
}


def _message(ecosystem: Ecosystem, field: Any, problem: Any) -> str:
    """A problem as a visitor of the site reads it, in the site's language."""
    if ecosystem.spec.locale != "ru":
        return str(problem.message)
    if problem.code == "INVALID_FORMAT":
        return _RU_FORMAT.get(getattr(field, "type", ""), "Проверьте значение")
    if problem.code == "TOO_LONG" and field is not None and field.max_length:
        return f"Слишком длинно: не больше {field.max_length} символов"
    return _RU.get(problem.code, str(problem.message))


def _system(role: str) -> Actor:
    return Actor(SYSTEM_ACTOR.policy, f"{role} (form)")


def _too_fast(stamp: str | None) -> bool:
    if not stamp or not stamp.isdigit():
        return False  # no script ran: the honeypot alone guards forms posted without JavaScript
    return time.time() * 1000 - int(stamp) < TOO_FAST_MS


def _value(kind: str, raw: str | None) -> Any:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if kind == "int":
        return int(text) if text.lstrip("-").isdigit() else text
    if kind == "bool":
        return text.lower() in ("1", "true", "on", "yes")
    if kind in ("decimal", "money"):
        return text.replace(" ", "").replace(",", ".")
    return text


async def _item(
    ecosystem: Ecosystem, landing_name: str, item_id: str | None
) -> dict[str, Any] | None:
    landing = ecosystem.spec.landings[landing_name]
    if landing.for_each is None or not item_id:
        return None
    data = SiteData(ecosystem.spec, InProcessSource(ecosystem))
    try:
        found = await data.records(landing.for_each.entity, {"id": {"eq": item_id}}, [], 1, Reads())
    except BuildError:
        return None
    return found[0] if found else None


def _done(request: Request, message: str, thanks: str, anchor: str = "") -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": True, "message": message, "redirect": thanks or None})
    target = thanks or _back(request) + "?sent=1" + (f"#{anchor}-sent" if anchor else "")
    return RedirectResponse(target, status_code=303)


def _back(request: Request) -> str:
    referer = urlparse(request.headers.get("referer", ""))
    return referer.path or "/"


def _answer(
    request: Request, ecosystem: Ecosystem, status: int, message: str, errors: dict[str, str]
) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": False, "message": message, "errors": errors}, status_code=status)
    items = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in errors.items()
    )
    back = html.escape(_back(request))
    label = _text(ecosystem, "Вернуться к форме", "Back to the form")
    title = _text(ecosystem, "Заявка не отправлена", "Not sent")
    page = f"""<!doctype html><html lang="{ecosystem.spec.locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font:17px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1.25rem;color:#14161a}}
a{{color:#1d4ed8}}</style></head><body><main><h1>{title}</h1><p>{html.escape(message)}</p>
<ul>{items}</ul><p><a href="{back}">{label}</a></p></main></body></html>"""
    return HTMLResponse(page, status_code=status)
