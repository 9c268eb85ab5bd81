"""Which block parameters a build resolves once per landing instead of once per page
(generator.build._fixed): those that come out the same on every page."""

from __future__ import annotations

from ecospec.generator.blocks import ParamSpec
from ecospec.generator.build import _fixed

TEXT = ParamSpec(type="text")
LINK = ParamSpec(type="link", params={"title": TEXT, "href": TEXT})


def test_plain_values_are_fixed() -> None:
    assert _fixed(TEXT, "Квартиры от застройщика")
    assert _fixed(LINK, {"title": "Заявка", "href": "#lead"})
    assert _fixed(ParamSpec(type="list", of=LINK), [{"title": "FAQ", "href": "#faq"}])
    assert _fixed(TEXT, None)  # nothing given, no default


def test_a_template_anywhere_makes_it_per_page() -> None:
    assert not _fixed(TEXT, "{{ item.name }}")
    assert not _fixed(TEXT, "{% if item.rooms %}…{% endif %}")
    assert not _fixed(LINK, {"title": "ЖК", "href": "/complexes/{{ item.complex.slug }}/"})
    assert not _fixed(ParamSpec(type="list", of=LINK), [{"title": "x", "href": "{{ page.url }}"}])


def test_a_default_with_a_template_makes_it_per_page() -> None:
    assert not _fixed(ParamSpec(type="text", default="{{ item.name }}"), None)
    nested = ParamSpec(
        type="object", params={"alt": ParamSpec(type="text", default="{{ item.name }}")}
    )
    assert not _fixed(nested, {"src": "/media/a.jpg"})


def test_data_is_read_per_page() -> None:
    query = ParamSpec(type="query")
    assert not _fixed(query, {"entity": "Apartment", "where": {"status": {"eq": "free"}}})
    assert not _fixed(ParamSpec(type="aggregate"), {"entity": "Apartment", "op": "count"})
    assert not _fixed(ParamSpec(type="object", params={"rows": query}), {})
    assert not _fixed(ParamSpec(type="list", of=query), [])
