"""The checks of a landing's blocks against their block.yaml: every diagnostic a block's parameters
can earn, pinned (a block's template: tests/test_blockcheck_templates.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import WriteSpec, check

PROMO = "landing: promo\npath: /promo/\nblocks:\n  - {block}\n"


def problems(write_spec: WriteSpec, tmp_path: Path, block: str) -> list[str]:
    """The diagnostics of the base project with a promo landing of one block, written on line 4,
    without the file's name."""
    found = check(write_spec, tmp_path, {"spec/landings/promo.yaml": PROMO.format(block=block)})
    return [d.removeprefix("spec/landings/promo.yaml:") for d in found]


@pytest.mark.parametrize(
    ("block", "messages"),
    [
        (
            "heor: {title: Hi}",
            [
                "4:5: landings.promo.blocks[0].heor: unknown block 'heor' (did you mean 'hero'?)",
            ],
        ),
        (
            "{hero: {title: Hi}, cta: {}}",
            [
                "4:5: landings.promo.blocks[0]: a block is one key, its name, holding its parameters",
            ],
        ),
        (
            "hero: {titel: Hi}",
            [
                "4:11: landings.promo.blocks[0].hero: block 'hero' needs the parameter 'title'",
                "4:12: landings.promo.blocks[0].hero.titel: block 'hero' has no parameter 'titel' (did you mean 'title'?)",
            ],
        ),
        (
            "hero: {title: Hi, layout: wide}",
            [
                "4:31: landings.promo.blocks[0].hero.layout: 'wide' is not one of: split, cover",
            ],
        ),
        (
            "hero: {title: Hi, cta: /go}",
            [
                "4:28: landings.promo.blocks[0].hero.cta: expected a link {title, href}, got text '/go'",
            ],
        ),
        (
            "hero: {title: Hi, cta: {title: Go}}",
            [
                "4:28: landings.promo.blocks[0].hero.cta: a link needs the parameter 'href'",
            ],
        ),
        (
            "hero: {title: '{{ item.name '}",
            [
                "4:19: landings.promo.blocks[0].hero.title: template: unexpected end of template, expected 'end of print statement'.",
            ],
        ),
        (
            "hero: {title: Hi, points: [one, [two]]}",
            [
                "4:37: landings.promo.blocks[0].hero.points[1]: expected text, got a list",
            ],
        ),
        (
            "hero: {title: Hi, image: 5}",
            [
                "4:30: landings.promo.blocks[0].hero.image: expected an image path or {src, alt}, got a number",
            ],
        ),
        (
            "countdown: {ends_at: tomorrow}",
            [
                "4:26: landings.promo.blocks[0].countdown.ends_at: 'tomorrow' is not an ISO date and time (2027-05-31T23:59:59+03:00)",
            ],
        ),
        (
            "catalog_grid: {title: Flats, query: {entity: Flat}}",
            [
                "4:50: landings.promo.blocks[0].catalog_grid.query.entity: unknown entity 'Flat'",
            ],
        ),
        (
            "catalog_grid: {title: Flats, query: {entity: Apartment, limt: 3}}",
            [
                "4:61: landings.promo.blocks[0].catalog_grid.query.limt: a query has no key 'limt' (did you mean 'limit'?)",
            ],
        ),
        (
            "catalog_grid: {title: Flats, query: {where: {rooms: {eq: 2}}}}",
            [
                "4:41: landings.promo.blocks[0].catalog_grid.query: a query needs 'entity: <Entity>'",
            ],
        ),
        (
            "catalog_grid: {title: Flats, query: {entity: Apartment, where: {rooms: {eqq: 2}}, order_by: [-aera]}}",
            [
                "4:77: landings.promo.blocks[0].catalog_grid.query.where.rooms.eqq: unknown operator 'eqq' (did you mean 'eq'?)",
                "4:98: landings.promo.blocks[0].catalog_grid.query.order_by[0]: unknown field of Apartment 'aera' (did you mean 'area'?)",
            ],
        ),
        (
            "catalog_grid: {title: Flats, query: {entity: Lead}}",
            [
                "4:50: landings.promo.blocks[0].catalog_grid.query.entity: pages are built as the anonymous role 'public', which may not read Lead",
            ],
        ),
        (
            "catalog_grid: {title: Flats, query: {entity: Apartment}, columns: three, alt: 1}",
            [
                "4:71: landings.promo.blocks[0].catalog_grid.columns: expected a number, got text 'three'",
                "4:83: landings.promo.blocks[0].catalog_grid.alt: expected true or false, got a number",
            ],
        ),
        (
            "catalog_grid: {title: Flats, query: Apartment}",
            [
                "4:41: landings.promo.blocks[0].catalog_grid.query: expected a query {entity, where, order_by, limit}, got text 'Apartment'",
            ],
        ),
        (
            "stats: {items: [{label: x, value: {entity: Apartment, op: median}}]}",
            [
                "4:39: landings.promo.blocks[0].stats.items[0].value: 'median' needs a field",
                "4:63: landings.promo.blocks[0].stats.items[0].value.op: unknown aggregate 'median' (did you mean 'min'?)",
            ],
        ),
        (
            "stats: {items: [{label: x, value: {entity: Apartment, op: sum, field: status}}]}",
            [
                "4:75: landings.promo.blocks[0].stats.items[0].value.field: cannot sum a enum field",
            ],
        ),
        (
            "stats: {items: [{label: x, value: {entity: Apartment, op: max}}]}",
            [
                "4:39: landings.promo.blocks[0].stats.items[0].value: 'max' needs a field",
            ],
        ),
        (
            "stats: {items: [{label: x, value: {entity: Apartment, op: min, field: aera}}]}",
            [
                "4:75: landings.promo.blocks[0].stats.items[0].value.field: unknown field of Apartment 'aera' (did you mean 'area'?)",
            ],
        ),
        (
            "stats: {items: [{label: x, value: {entity: Apartment, field: rooms, by: 2}}]}",
            [
                "4:73: landings.promo.blocks[0].stats.items[0].value.by: an aggregate has no key 'by'",
            ],
        ),
        (
            "stats: {items: [{label: x, value: 5}]}",
            [
                "4:39: landings.promo.blocks[0].stats.items[0].value: expected an aggregate {entity, where, op, field}",
            ],
        ),
        (
            "lead_form: {creates: Lead, fields: [name, phnoe, id]}",
            [
                "4:47: landings.promo.blocks[0].lead_form.fields[1]: unknown field of Lead 'phnoe' (did you mean 'phone'?)",
                "4:54: landings.promo.blocks[0].lead_form.fields[2]: 'id' cannot be written",
            ],
        ),
        (
            "lead_form: {creates: Lead, fields: name}",
            [
                "4:40: landings.promo.blocks[0].lead_form.fields: expected a list of field names, got text 'name'",
            ],
        ),
        (
            "lead_form: {creates: Lead, fields: [name], set: {sorce: landing, manager: $user.id, complex: '{{ item.id }}'}}",
            [
                "4:61: landings.promo.blocks[0].lead_form.set.sorce: unknown field of Lead 'sorce' (did you mean 'source'?)",
                "4:79: landings.promo.blocks[0].lead_form.set.manager: session variables like '$user.id' are only allowed in roles",
            ],
        ),
        (
            "lead_form: {creates: Leed, fields: [name]}",
            [
                "4:26: landings.promo.blocks[0].lead_form.creates: unknown entity 'Leed' (did you mean 'Lead'?)",
            ],
        ),
        (
            "lead_form: {creates: Lead, fields: [name], set: [source]}",
            [
                "4:53: landings.promo.blocks[0].lead_form.set: expected a mapping of fields to values, got a list",
            ],
        ),
        (
            "lead_form: {creates: Lead, fields: [name], placeholders: [x]}",
            [
                "4:62: landings.promo.blocks[0].lead_form.placeholders: expected a mapping, got a list",
            ],
        ),
    ],
)
def test_block_problems(
    write_spec: WriteSpec, tmp_path: Path, block: str, messages: list[str]
) -> None:
    assert problems(write_spec, tmp_path, block) == messages


def test_a_good_block_passes(write_spec: WriteSpec, tmp_path: Path) -> None:
    block = (
        "catalog_grid: {title: Flats, query: {entity: Apartment, where: {rooms: {gte: 2}}, "
        "order_by: [-price], limit: 6}, columns: 3, alt: true}"
    )
    assert problems(write_spec, tmp_path, block) == []
