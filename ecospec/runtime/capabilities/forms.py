"""Landing forms posted to the runtime: /forms/<landing>/<block>. Validated per field, stopped
when they look like bots, written through the same write path as GraphQL, as the anonymous role.

A script's post (Accept: application/json) is answered with JSON, `{ok, message, errors}` or
`{ok, message, redirect}`, and a status that agrees with `ok`: 200 when the lead is kept (or a bot
is thanked), 4xx when it is not (422 for errors in the fields, `errors` keyed by field name). A
plain post is answered with a redirect back to the page, or with a page naming the fields by the
labels the form shows."""

from __future__ import annotations

import html
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ecospec.generator.build import field_label
from ecospec.generator.errors import BuildError
from ecospec.generator.model import Entity, Landing, Where
from ecospec.generator.render import render_text
from ecospec.generator.sitedata import Reads, SiteData
from ecospec.runtime.capability import Capability, Serving, serving
from ecospec.runtime.types import SYSTEM_ACTOR, Actor, Session
from ecospec.runtime.writes import WriteRejected

UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
HONEYPOT = "website"
# The time trap: form.js posts in ELAPSED the milliseconds from the page's load to the post, by the
# browser's monotonic clock (performance.now()), so neither clock's setting matters. A person needs
# more than TOO_FAST_MS to read and fill in a form; a value that is not a whole number of at most
# ELAPSED_DIGITS digits is no script's. Without JavaScript the field stays empty and the honeypot
# alone guards the form: a page built ahead of time cannot carry the time it was served.
ELAPSED = "_elapsed"
TOO_FAST_MS = 2500
ELAPSED_DIGITS = 12


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


def _text(ecosystem: Serving, ru: str, en: str) -> str:
    return ru if ecosystem.spec.locale == "ru" else en


class _Refused(Exception):
    """A post answered before anything is written: the status and the visitor's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Form:
    """The form block a post is for."""

    landing_name: str
    landing: Landing
    index: int
    block: str
    params: dict[str, Any]


def _form(ecosystem: Serving, request: Request) -> _Form:
    landing_name = request.path_params["landing"]
    landing = ecosystem.spec.landings.get(landing_name)
    index = int(request.path_params["index"])
    entry = (
        landing.blocks[index] if landing is not None and 0 <= index < len(landing.blocks) else None
    )
    params = next(iter(entry.values())) if entry else None
    if (
        landing is None
        or entry is None
        or not isinstance(params, dict)
        or not params.get("creates")
    ):
        raise _Refused(404, _text(ecosystem, "Такой формы нет.", "There is no such form."))
    return _Form(landing_name, landing, index, next(iter(entry)), params)


def _admit(ecosystem: Serving, request: Request, limiter: RateLimiter) -> None:
    """Refuse a client posting too often, and a body larger than the limit says."""
    client = request.client.host if request.client else "?"
    if not limiter.allow(client):
        raise _Refused(
            429,
            _text(
                ecosystem,
                "Слишком много заявок подряд — попробуйте через минуту.",
                "Too many posts; try again in a minute.",
            ),
        )
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isdigit()
        and int(declared) > ecosystem.spec.limits.body_bytes
    ):
        raise _Refused(413, _text(ecosystem, "Слишком большая форма.", "The form is too large."))


def _record(
    request: Request,
    entity: Entity,
    form: _Form,
    posted: dict[str, str],
    context: dict[str, Any],
) -> dict[str, Any]:
    """The record a post creates: the form's fields, the block's `set`, the visitor's UTM tags
    and the page it was sent from."""
    data: dict[str, Any] = {}
    for name in _shown(entity, form):
        data[name] = _value(entity.fields[name].type, posted.get(name))
    for name, raw in (form.params.get("set") or {}).items():
        data[name] = render_text(raw, context) if isinstance(raw, str) else raw
    referer = parse_qs(urlparse(request.headers.get("referer", "")).query)
    for key in UTM:
        value = posted.get(key) or (referer.get(key) or [""])[0]
        if value and key in entity.fields and key not in data:
            data[key] = value[: entity.fields[key].max_length or 255]
    if "landing" in entity.fields and "landing" not in data:
        data["landing"] = urlparse(request.headers.get("referer", "")).path or form.landing.path
    return data


def _shown(entity: Entity, form: _Form) -> list[str]:
    return [name for name in form.params.get("fields") or [] if name in entity.fields]


async def _write(
    ecosystem: Serving,
    form: _Form,
    data: dict[str, Any],
    context: dict[str, Any],
) -> None:
    """The record, and the records the block follows it up with, in one transaction."""
    role = ecosystem.spec.auth.anonymous_role
    service = ecosystem.service(role)
    actor = Actor(service.policy(Session(role)), role)
    writer = ecosystem.writer
    async with ecosystem.engine.begin() as conn:
        record_id = await writer.create(conn, str(form.params["creates"]), data, actor)
        for follow in form.params.get("follow_up") or []:
            values = {
                k: render_text(v, {**context, "record": {"id": record_id, **data}})
                if isinstance(v, str)
                else v
                for k, v in (follow.get("set") or {}).items()
            }
            await writer.create(conn, str(follow["creates"]), values, _system(role))
    ecosystem.notify()


def _problems(
    ecosystem: Serving,
    entity: Entity,
    form: _Form,
    data: dict[str, Any],
    rejected: WriteRejected,
) -> tuple[str, dict[str, str]]:
    """A refused write as the form shows it: a message, and errors by field in the form's order."""
    shown = _shown(entity, form)
    labels = {name: field_label(name, entity.fields[name]) for name in shown}
    rule = ecosystem.service(ecosystem.spec.auth.anonymous_role).access.create(
        str(form.params["creates"])
    )
    found: dict[str, str] = {}
    general: list[str] = []
    for problem in rejected.problems:
        text = _message(ecosystem, entity.fields.get(problem.field or ""), problem)
        if problem.field is not None and problem.field in labels:
            found.setdefault(problem.field, text)
        elif text not in general:
            general.append(text)
    filled = {k for k, v in data.items() if v is not None} | set(rule.set if rule else {})
    for group in _one_of(rule.check if rule else None):
        named = [name for name in shown if name in group]
        if named and not filled & set(group) and not found.keys() & set(named):
            found[named[0]] = _fill_one_of(ecosystem, [labels[n] for n in named])
    errors = {name: found[name] for name in shown if name in found}
    message = _text(ecosystem, "Проверьте поля формы.", "Please check the form.")
    if general and not errors:
        message = "; ".join(general)
    return message, errors


async def handle_form(request: Request, ecosystem: Serving, limiter: RateLimiter) -> Response:
    spec = ecosystem.spec
    try:
        form = _form(ecosystem, request)
        _admit(ecosystem, request, limiter)
    except _Refused as refused:
        return _answer(request, ecosystem, refused.status, refused.message, {})
    raw = await request.form()
    posted = {k: v for k, v in raw.items() if isinstance(v, str)}
    params = form.params
    success = str(
        params.get("success")
        or _text(ecosystem, "Спасибо! Заявка отправлена.", "Thank you! We got your request.")
    )
    thanks = str(params.get("thanks") or "")
    if _looks_like_a_bot(posted):
        return _done(request, success, thanks)  # a bot: say thanks, keep nothing
    entity = spec.entities.get(str(params["creates"]))
    if entity is None:
        return _answer(
            request,
            ecosystem,
            404,
            _text(ecosystem, "Такой формы нет.", "There is no such form."),
            {},
        )
    item = await _item(ecosystem, form.landing_name, posted.get("_item"))
    if form.landing.for_each is not None and item is None:
        message = _text(ecosystem, "Страница устарела.", "The page is out of date.")
        return _answer(request, ecosystem, 404, message, {})
    context = {
        "item": item,
        "site": {"title": spec.title, "base_url": spec.site.base_url, "locale": spec.locale},
        "page": {"landing": form.landing_name},
    }
    data = _record(request, entity, form, posted, context)
    try:
        await _write(ecosystem, form, data, context)
    except WriteRejected as rejected:
        message, errors = _problems(ecosystem, entity, form, data, rejected)
        labels = {name: field_label(name, entity.fields[name]) for name in _shown(entity, form)}
        return _answer(request, ecosystem, 422, message, errors, labels)
    return _done(request, success, thanks, f"b{form.index}-{form.block}")


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


def _message(ecosystem: Serving, field: Any, problem: Any) -> str:
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


def _looks_like_a_bot(posted: dict[str, str]) -> bool:
    """The honeypot is filled in, or the form was sent sooner than a person could (see ELAPSED)."""
    if posted.get(HONEYPOT):
        return True
    elapsed = posted.get(ELAPSED, "")
    if elapsed == "":
        return False  # no script ran: the honeypot alone guards forms posted without JavaScript
    if not (elapsed.isascii() and elapsed.isdigit() and len(elapsed) <= ELAPSED_DIGITS):
        return True
    return int(elapsed) < TOO_FAST_MS


def _one_of(check: Where | None) -> list[list[str]]:
    """The groups of fields of which a record passing `check` must have at least one set: the
    `{field: {isNull: false}}` tests, alone or joined by `or`, among the parts of the check that
    every record must pass (the check itself, its keys, the members of its `and`)."""
    groups: list[list[str]] = []
    for key, value in (check or {}).items():
        if key == "and" and isinstance(value, list):
            for part in value:
                groups += _one_of(part) if isinstance(part, dict) else []
        elif key == "or" and isinstance(value, list):
            names = [_set_field(part) for part in value]
            if names and all(names):
                groups.append([n for n in names if n])
        elif key != "not" and _set_field({key: value}):
            groups.append([key])
    return groups


def _set_field(part: Any) -> str | None:
    """The field a filter requires to be set, when the filter is `{field: {isNull: false, …}}`."""
    if not isinstance(part, dict) or len(part) != 1:
        return None
    name, test = next(iter(part.items()))
    if name in ("and", "or", "not") or not isinstance(test, dict):
        return None
    return str(name) if test.get("isNull") is False else None


def _fill_one_of(ecosystem: Serving, labels: list[str]) -> str:
    if len(labels) == 1:
        return _text(ecosystem, _RU["REQUIRED"], "This field is required")
    quoted = ", ".join(f"«{label}»" for label in labels[:-1]) + f" или «{labels[-1]}»"
    return _text(
        ecosystem,
        f"Заполните хотя бы одно из полей: {quoted}",
        f"Fill in at least one of: {', '.join(labels[:-1])} or {labels[-1]}",
    )


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
    ecosystem: Serving, landing_name: str, item_id: str | None
) -> dict[str, Any] | None:
    landing = ecosystem.spec.landings[landing_name]
    if landing.for_each is None or not item_id:
        return None
    data = SiteData(ecosystem.spec, ecosystem.source())
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
    request: Request,
    ecosystem: Serving,
    status: int,
    message: str,
    errors: dict[str, str],
    labels: dict[str, str] | None = None,
) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": False, "message": message, "errors": errors}, status_code=status)
    items = "".join(
        f"<li><b>{html.escape((labels or {}).get(k, k))}</b>: {html.escape(v)}</li>"
        for k, v in errors.items()
    )
    listed = f"<ul>{items}</ul>" if items else ""
    back = html.escape(_back(request))
    label = _text(ecosystem, "Вернуться к форме", "Back to the form")
    title = _text(ecosystem, "Заявка не отправлена", "Not sent")
    page = f"""<!doctype html><html lang="{ecosystem.spec.locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font:17px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1.25rem;color:#14161a}}
a{{color:#1d4ed8}}</style></head><body><main><h1>{title}</h1><p>{html.escape(message)}</p>
{listed}<p><a href="{back}">{label}</a></p></main></body></html>"""
    return HTMLResponse(page, status_code=status)


def _routes() -> Sequence[BaseRoute]:
    limiter = RateLimiter()  # one per app: posts counted per client

    async def post(request: Request) -> Response:
        return await handle_form(request, serving(request), limiter)

    return [Route("/forms/{landing}/{index:int}", post, methods=["POST"])]


CAPABILITY = Capability("forms", routes=_routes)
