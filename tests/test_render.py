"""The sandbox every template and marketer string runs in (generator.render): records read by
key, and nothing reached that the sandbox keeps out."""

from __future__ import annotations

import pytest
from jinja2 import TemplateError
from jinja2.exceptions import SecurityError

from ecospec.generator.render import render_text, sandbox

ITEM = {"price": "5200000", "rooms": 2, "items": "ключ как у метода", "complex": {"name": "Гавань"}}


def render(template: str) -> str:
    return sandbox().from_string(template).render(item=ITEM)


def test_a_record_is_read_by_key_at_every_level() -> None:
    assert render("{{ item.rooms }} {{ item.complex.name }} {{ item.price | money }}") == (
        "2 Гавань 5\u202f200\u202f000\u00a0₽"
    )


def test_a_key_named_like_a_dict_method_is_the_method_as_in_jinja() -> None:
    # attribute first, as Jinja reads `a.b`: the method; the key by subscript
    assert render("{{ item['items'] }}") == "ключ как у метода"
    assert render("{{ item.items is callable }}") == "True"


def test_a_missing_key_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match="'dict object' has no attribute 'floor'"):
        render("{{ item.floor }}")


@pytest.mark.parametrize(
    "template",
    [
        "{{ item.__class__.__mro__ }}",
        "{{ item.__init__.__globals__ }}",
        "{{ item.update({'rooms': 9}) }}",  # the sandbox is immutable
        "{{ item.pop('rooms') }}",
        "{{ item.setdefault('floor', 3) }}",
        "{{ item.clear() }}",
        "{% set pop = item.pop %}{{ pop('rooms') }}",
        "{% set get = item.get %}{{ get.__self__.clear() }}",
        "{{ item.get.__self__.update(rooms=9) }}",
        "{{ '{0.__class__}'.format(item) }}",
        "{% macro m() %}{{ item.clear() }}{% endmacro %}{{ m() }}",
        "{{ item.complex.__class__ }}",
    ],
)
def test_what_the_sandbox_keeps_out_stays_out(template: str) -> None:
    with pytest.raises((SecurityError, TemplateError)):
        render(template)
    assert ITEM["rooms"] == 2


def test_the_reads_answered_at_once_answer_as_the_sandbox_does() -> None:
    # a record's read-only methods and a template's macros, called the usual ways
    assert render("{{ item.get('rooms') }} {{ item.get('floor', '-') }}") == "2 -"
    assert render("{% for k, v in item.items() if k == 'rooms' %}{{ k }}={{ v }}{% endfor %}") == (
        "rooms=2"
    )
    assert render("{{ item.keys() | list | length }} {{ item.values() | list | length }}") == "4 4"
    assert render(
        "{% macro row(k) %}[{{ k }}:{{ item.get(k) }}]{% endmacro %}"
        "{% macro wrap(k) %}({{ k }}{{ caller() }}){% endmacro %}"
        "{% for k in ['rooms', 'price'] %}{{ row(k) }}{% endfor %}"
        "{% call wrap('rooms') %}!{% endcall %}"
    ) == ("[rooms:2][price:5200000](rooms!)")
    # a macro's output is markup already: escaped once
    assert render("{% macro b(t) %}<b>{{ t }}</b>{% endmacro %}{{ b('<i>') }}") == (
        "<b>&lt;i&gt;</b>"
    )


def test_a_marketer_string_is_plain_text_until_it_is_placed() -> None:
    assert render_text("{{ item.complex.name }} & Ко", {"item": ITEM}) == "Гавань & Ко"
    assert render_text("без шаблона", {}) == "без шаблона"
