"""The base project the spec checks are tested on (a small ecosystem in six files), and how a
test changes, loads and checks it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ecospec.generator.loader import LoadResult, load_project

WriteSpec = Callable[[Path, dict[str, str]], Path]

ECOSYSTEM = """\
ecosystem: north-quarter
title: Северный квартал
locale: ru
auth:
  anonymous_role: public
  jwt:
    claims: {id: sub, partner_id: partner_id}
site: {base_url: "https://north-quarter.example"}
"""

CATALOG = """\
entities:
  Complex:
    title: Жилой комплекс
    fields:
      name: {type: string, required: true, max_length: 120}
      slug: {type: slug, from: name, unique: true}
      status: {type: enum, values: [planned, building, ready], default: building}
      apartments: {type: list, of: Apartment, via: complex}
  Apartment:
    fields:
      number: {type: string, unique: true}
      complex: {type: ref, to: Complex, required: true}
      rooms: {type: int, min: 0, max: 6}
      area: {type: decimal, min: 10}
      price: {type: money}
      balcony: {type: bool}
      status: {type: enum, values: [free, booked, sold], default: free}
"""

CRM = """\
entities:
  Lead:
    fields:
      name: {type: string, required: true}
      phone: {type: phone}
      complex: {type: ref, to: Complex}
      manager: {type: string}
      partner: {type: string}
      source: {type: enum, values: [landing, phone], default: phone}
"""

ROLES = """\
roles:
  public:
    Complex: {read: true}
    Apartment: {read: {where: {status: {in: [free, booked]}}}}
    Lead: {create: {fields: [name, phone, complex], set: {source: landing}}}
  manager:
    inherits: [public]
    Lead: {read: {where: {manager: {eq: $user.id}}}, update: {fields: [manager]}}
  partner:
    Lead: {read: {where: {partner: {eq: $user.partner_id}}, fields: [name, phone]}}
"""

LANDING = """\
landing: complex
for_each: {entity: Complex, where: {status: {ne: planned}}}
path: /complexes/{slug}/
seo: {title: "{{ item.name }}"}
blocks:
  - hero: {title: "{{ item.name }}"}
  - lead_form: {creates: Lead, fields: [name, phone]}
"""

SEED = """\
seed:
  Complex:
    - {name: Северный, status: ready}
  Apartment:
    - {number: A-1, complex: severnyi, rooms: 2, area: 54.5, price: 7500000.00}
"""

BASE = {
    "spec/ecosystem.yaml": ECOSYSTEM,
    "spec/entities/catalog.yaml": CATALOG,
    "spec/entities/crm.yaml": CRM,
    "spec/roles.yaml": ROLES,
    "spec/landings/complex.yaml": LANDING,
    "spec/seed/catalog.yaml": SEED,
}


def project(write_spec: WriteSpec, tmp_path: Path, files: Mapping[str, str | None]) -> Path:
    """The base project with some files replaced (text), added, or removed (None)."""
    merged: dict[str, str] = {}
    for name, text in {**BASE, **files}.items():
        if text is not None:
            merged[name] = text
    return write_spec(tmp_path, merged)


def edit(name: str, old: str, new: str) -> dict[str, str | None]:
    """The base file `name` with `old` replaced by `new` (exactly once)."""
    text = BASE[name]
    assert text.count(old) == 1, f"{old!r} is not once in {name}"
    return {name: text.replace(old, new)}


def load(write_spec: WriteSpec, tmp_path: Path, files: Mapping[str, str | None]) -> LoadResult:
    return load_project(project(write_spec, tmp_path, files))


def check(write_spec: WriteSpec, tmp_path: Path, files: Mapping[str, str | None]) -> list[str]:
    """Every diagnostic of the base project changed by `files`, as the CLI prints them."""
    return [str(d) for d in load(write_spec, tmp_path, files).diagnostics]
