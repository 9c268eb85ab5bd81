"""`ecospec init`: a small new ecosystem that passes `ecospec check`."""

from __future__ import annotations

import re
from pathlib import Path

from ecospec.generator.errors import UsageError
from ecospec.generator.jsonschema import spec_file_schema_text

SCHEMA_FILE = "ecospec.schema.json"


def modeline(depth: int) -> str:
    """The yaml-language-server comment pointing a spec file at the project's JSON Schema."""
    return f"# yaml-language-server: $schema={'../' * depth}{SCHEMA_FILE}\n"


_FILES: dict[str, str] = {
    "spec/ecosystem.yaml": """\
ecosystem: {name}
title: {title}
locale: en
auth:
  anonymous_role: public
  jwt:
    secret_env: ECOSPEC_JWT_SECRET
    role_claim: role
    claims: {{id: sub}}
site:
  base_url: http://127.0.0.1:8000
""",
    "spec/entities/catalog.yaml": """\
entities:
  Category:
    title: Category
    fields:
      name: {{type: string, required: true, max_length: 80}}
      slug: {{type: slug, from: name, unique: true}}
      products: {{type: list, of: Product, via: category}}
  Product:
    title: Product
    fields:
      name: {{type: string, required: true, max_length: 120}}
      slug: {{type: slug, from: name, unique: true}}
      category: {{type: ref, to: Category, required: true}}
      price: {{type: money, min: 0}}
      status: {{type: enum, values: [draft, on_sale, sold_out], default: draft}}
""",
    "spec/entities/crm.yaml": """\
entities:
  Lead:
    title: Lead
    fields:
      name: {{type: string, required: true, max_length: 120}}
      email: {{type: email, required: true}}
      product: {{type: ref, to: Product}}
      source: {{type: enum, values: [landing, phone, other], default: other}}
      status: {{type: enum, values: [new, contacted, won, lost], default: new}}
      manager: {{type: string}}
""",
    "spec/roles.yaml": """\
roles:
  public:
    Category: {{read: true}}
    Product: {{read: {{where: {{status: {{ne: draft}}}}}}}}
    Lead: {{create: {{fields: [name, email, product], set: {{source: landing}}}}}}
  manager:
    inherits: [public]
    Product: {{read: true, update: {{fields: [price, status]}}}}
    Lead: {{read: {{where: {{manager: {{eq: $user.id}}}}}}, update: {{fields: [status]}}}}
""",
    "spec/landings/product.yaml": """\
landing: product
for_each: {{entity: Product, where: {{status: {{eq: on_sale}}}}}}
path: /products/{{slug}}/
seo: {{title: "{{{{ item.name }}}}"}}
blocks:
  - hero: {{title: "{{{{ item.name }}}}"}}
  - lead_form: {{creates: Lead, fields: [name, email], set: {{product: "{{{{ item.id }}}}"}}}}
""",
    "spec/seed/catalog.yaml": """\
seed:
  Category:
    - {{name: Tea}}
  Product:
    - {{name: Green tea, category: tea, price: 12.50, status: on_sale}}
    - {{name: Black tea, category: tea, price: 9.90, status: on_sale}}
""",
}


def scaffold(target: Path, *, name: str | None = None) -> list[Path]:
    """Write a new project into `target`; refuses to touch a folder that already has a spec."""
    if (target / "spec").exists():
        raise UsageError(f"{target}/spec already exists; init writes only into a new project")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file, not a folder")
    ecosystem = name or re.sub(r"[^a-z0-9]+", "-", target.resolve().name.lower()).strip("-")
    if not re.match(r"^[a-z][a-z0-9-]*$", ecosystem):
        hint = "" if name else "; pass --name"
        raise UsageError(
            f"'{ecosystem}' is not a name of lowercase latin letters, digits and dashes{hint}"
        )
    try:
        return _write(target, ecosystem)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the project ({exc.strerror})") from None


def _write(target: Path, ecosystem: str) -> list[Path]:
    written: list[Path] = []
    for rel, text in _FILES.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        depth = rel.count("/")
        path.write_text(
            modeline(depth)
            + text.format(name=ecosystem, title=ecosystem.replace("-", " ").title()),
            encoding="utf-8",
        )
        written.append(path)
    schema = target / SCHEMA_FILE
    schema.write_text(spec_file_schema_text(), encoding="utf-8")
    written.append(schema)
    return written
