"""`ecospec init`: a small new ecosystem that passes `ecospec check`, with its CI recipe."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ecospec.generator.api import schema_sdl
from ecospec.generator.errors import UsageError
from ecospec.generator.jsonschema import spec_file_schema_text
from ecospec.generator.loader import load_spec

SCHEMA_FILE = "ecospec.schema.json"
API_FILE = "schema.graphql"  # the API contract, which CI checks for drift
CI_TEMPLATES = Path(__file__).parent / "templates" / "ci"
# where each file of the CI recipe goes in the project (docs/ci.md), from templates/ci/
CI_FILES = {
    ".gitignore": "gitignore",
    "ci/ecospec.sh": "ecospec.sh",
    ".github/workflows/ecospec.yml": "github-actions.yml",
    ".gitlab-ci.yml": "gitlab-ci.yml",
}


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


@dataclass
class Scaffold:
    """What `init` did: the project's folder and name, the files written (relative to the
    folder) and the CI files kept because they were there already."""

    folder: Path
    ecosystem: str
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def scaffold(target: Path, *, name: str | None = None) -> Scaffold:
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
    done = Scaffold(target.resolve(), ecosystem)
    try:
        _write(done)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the project ({exc.strerror})") from None
    return done


def _write(done: Scaffold) -> None:
    title = done.ecosystem.replace("-", " ").title()
    for rel, text in _FILES.items():
        path = done.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        depth = rel.count("/")
        path.write_text(
            modeline(depth) + text.format(name=done.ecosystem, title=title), encoding="utf-8"
        )
        done.written.append(Path(rel))
    (done.folder / SCHEMA_FILE).write_text(spec_file_schema_text(), encoding="utf-8")
    done.written.append(Path(SCHEMA_FILE))
    (done.folder / API_FILE).write_text(schema_sdl(load_spec(done.folder)), encoding="utf-8")
    done.written.append(Path(API_FILE))
    for rel, template in CI_FILES.items():
        path = done.folder / rel
        if path.exists():  # a setting of the folder's own
            done.kept.append(Path(rel))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (CI_TEMPLATES / template).read_text(encoding="utf-8")
        path.write_text(text.replace("@ecospec_requirement@", _requirement()), encoding="utf-8")
        if path.suffix == ".sh":
            path.chmod(0o755)
        done.written.append(Path(rel))


def _requirement() -> str:
    """This Ecospec, as pip takes it: the CI installs the version that wrote its recipe."""
    try:
        return f"ecospec=={version('ecospec')}"
    except PackageNotFoundError:
        return "ecospec"


def untracked_in(folder: Path) -> Path | None:
    """The git work tree that `folder` lies inside (below its top), when the files there are
    not ignored by it: they are then untracked in someone's repository. None otherwise."""
    folder = folder.resolve()
    top = next((p for p in folder.parents if (p / ".git").exists()), None)
    if top is None or (folder / ".git").exists():  # a repository of its own
        return None
    git = shutil.which("git")
    if git is not None:
        asked = subprocess.run(
            [git, "-C", str(top), "check-ignore", "--quiet", "--", str(folder)],
            capture_output=True,
            check=False,
        )
        if asked.returncode == 0:  # ignored there: nobody's files to track
            return None
    return top
