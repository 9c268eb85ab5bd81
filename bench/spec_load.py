"""Spec loading: Ecospec's `load_project` against plain YAML parsing and JSON-Schema validation.

Writes a generated project (entities spread over ~20 files, roles with filters, landings) into a
temporary folder, checks once that it loads without errors, then times in the same run:

1. `generator.loader.load_project`: parse with locations, merge, pydantic validation, checks;
2. `yaml.safe_load` of every file: pure-Python PyYAML;
3. `yaml.load(..., Loader=yaml.CSafeLoader)` of every file: libyaml, no locations;
4. the same C parse plus `jsonschema` validation of every file against `spec_file_schema()`,
   what an editor with yaml-language-server does on each keystroke.

Run: .venv/bin/python bench/spec_load.py [--entities 200] [--repeat 5] [--profile] [--out DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import platform
import pstats
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from ecospec.generator.checks.sections import check_spec
from ecospec.generator.errors import Diagnostic, relative_name
from ecospec.generator.jsonschema import spec_file_schema, spec_file_schema_text
from ecospec.generator.loader import (
    SPEC_DIR,
    LoadResult,
    _locate,
    _merge,
    _unique,
    _validate,
    load_project,
    spec_files,
)
from ecospec.generator.source import read_yaml

# The generated project ------------------------------------------------------------------------

DOMAINS = [
    "catalog",
    "realty",
    "crm",
    "booking",
    "events",
    "courses",
    "fleet",
    "clinic",
    "hotel",
    "kitchen",
    "library",
    "gym",
    "travel",
    "shop",
    "support",
    "staff",
    "finance",
    "media",
    "school",
    "farm",
]
NOUNS = ["Item", "Group", "Offer", "Client", "Order", "Review", "Place", "Agent", "Visit", "Photo"]
PER_FILE = len(NOUNS)

# Scalar fields an entity draws from, beyond name, slug and status.
SCALARS: list[tuple[str, dict[str, Any]]] = [
    ("summary", {"type": "text", "title": "Summary"}),
    ("body", {"type": "text", "max_length": 4000}),
    ("quantity", {"type": "int", "min": 0, "max": 10000, "default": 0}),
    ("rank", {"type": "int", "min": 1, "index": True}),
    ("price", {"type": "money", "min": 0, "title": "Price"}),
    ("rate", {"type": "decimal", "min": 0, "max": 100}),
    ("area", {"type": "decimal", "min": 0}),
    ("capacity", {"type": "int", "min": 1, "max": 500}),
    ("published", {"type": "bool", "default": False}),
    ("featured", {"type": "bool", "default": False, "index": True}),
    ("starts_on", {"type": "date"}),
    ("published_at", {"type": "datetime"}),
    ("email", {"type": "email", "max_length": 200}),
    ("phone", {"type": "phone"}),
    ("website", {"type": "url"}),
    ("extra", {"type": "json", "description": "Free-form attributes."}),
    ("code", {"type": "string", "max_length": 32, "unique": True}),
    ("note", {"type": "string", "max_length": 200}),
    ("kind", {"type": "enum", "values": ["basic", "standard", "premium"], "default": "basic"}),
    ("color", {"type": "enum", "values": ["red", "green", "blue", "black", "white"]}),
]
STATUS = {"type": "enum", "values": ["draft", "active", "archived"], "default": "draft"}


@dataclass
class Project:
    """What was generated, for the report."""

    root: Path
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    landings: int = 0

    @property
    def fields(self) -> int:
        return sum(len(e["fields"]) for e in self.entities.values())

    @property
    def grants(self) -> int:
        return sum(1 for r in self.roles.values() for k in r if k[0].isupper())

    def files(self) -> list[Path]:
        return spec_files(self.root)


def entity_name(i: int) -> tuple[str, str]:
    """The entity's name and the file (domain) it lives in."""
    d = i // PER_FILE
    domain = DOMAINS[d % len(DOMAINS)] + (str(d // len(DOMAINS) + 1) if d >= len(DOMAINS) else "")
    return domain.capitalize() + NOUNS[i % PER_FILE], domain


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def generate(root: Path, count: int, seed: int = 1) -> Project:
    rng = random.Random(seed)
    project = Project(root)
    names = [entity_name(i) for i in range(count)]
    refs: dict[str, list[tuple[str, dict[str, Any]]]] = {n: [] for n, _ in names}
    lists: dict[str, list[tuple[str, dict[str, Any]]]] = {n: [] for n, _ in names}

    # References point to earlier entities, mostly of the same file; lists point back through them.
    for i, (name, _) in enumerate(names):
        if i == 0:
            continue
        first_of_file = i - i % PER_FILE
        for _ in range(rng.choice([0, 1, 1, 2, 2])):
            local = first_of_file < i and rng.random() < 0.75
            target = names[rng.randrange(first_of_file, i) if local else rng.randrange(i)][0]
            fname = snake(target)
            if any(f == fname for f, _ in refs[name]):
                continue
            required = rng.random() < 0.5
            ref: dict[str, Any] = {"type": "ref", "to": target}
            if required:
                ref["required"] = True
                ref["on_delete"] = rng.choice(["restrict", "cascade"])
            elif rng.random() < 0.3:
                ref["on_delete"] = "set_null"
            refs[name].append((fname, ref))
            if len(lists[target]) < 3:
                lists[target].append(
                    (snake(name) + "s", {"type": "list", "of": name, "via": fname})
                )

    for name, _ in names:
        own: dict[str, Any] = {
            "name": {"type": "string", "required": True, "max_length": 120},
            "slug": {"type": "slug", "from": "name", "unique": True},
            "status": dict(STATUS),
        }
        own.update(refs[name])
        own.update(lists[name])
        extra = max(0, rng.randint(8, 15) - len(own))
        for fname, options in rng.sample(SCALARS, extra):
            own[fname] = dict(options)
        entity: dict[str, Any] = {"title": re.sub(r"(?<=[a-z])([A-Z])", r" \1", name).capitalize()}
        if rng.random() < 0.3:
            entity["description"] = f"The {entity['title'].lower()} records of the ecosystem."
        entity["display"] = "name"
        entity["fields"] = own
        project.entities[name] = entity

    project.roles = roles(project.entities, rng)
    spec = root / SPEC_DIR
    for i in range(0, count, PER_FILE):
        domain = names[i][1]
        members = {n: project.entities[n] for n, d in names[i : i + PER_FILE]}
        write(spec, f"entities/{domain}.yaml", {"entities": members})
    write(
        spec,
        "ecosystem.yaml",
        {
            "ecosystem": "bench",
            "title": "Benchmark ecosystem",
            "locale": "en",
            "auth": {
                "anonymous_role": "public",
                "jwt": {"role_claim": "role", "claims": {"id": "sub", "email": "email"}},
            },
            "site": {
                "base_url": "https://bench.example.com",
                "theme": {"primary": "#1f6feb", "radius": "8px"},
            },
        },
    )
    write(spec, "roles/public.yaml", {"roles": {"public": project.roles["public"]}})
    write(spec, "roles/customer.yaml", {"roles": {"customer": project.roles["customer"]}})
    staff = {k: v for k, v in project.roles.items() if k not in ("public", "customer")}
    write(spec, "roles/staff.yaml", {"roles": staff})
    project.landings = landings(spec, project.entities, rng)
    (root / "ecospec.schema.json").write_text(spec_file_schema_text(), encoding="utf-8")
    return project


def roles(entities: dict[str, dict[str, Any]], rng: random.Random) -> dict[str, dict[str, Any]]:
    public: dict[str, Any] = {"description": "Anyone, without a token."}
    customer: dict[str, Any] = {"description": "A signed-in client.", "inherits": ["public"]}
    editor: dict[str, Any] = {"description": "Writes the public texts.", "inherits": ["public"]}
    manager: dict[str, Any] = {"description": "Runs the business.", "inherits": ["customer"]}
    admin: dict[str, Any] = {"description": "Everything.", "inherits": ["manager", "editor"]}
    for name, entity in entities.items():
        fields: dict[str, dict[str, Any]] = entity["fields"]
        ref = next((f for f, s in fields.items() if s["type"] == "ref"), None)
        where: dict[str, Any] = {"status": {"eq": "active"}}
        if ref is not None and rng.random() < 0.5:
            where[ref] = {"status": {"ne": "archived"}}  # through the ref, on the target's fields
        if "published" in fields:
            where = {"and": [where, {"published": {"eq": True}}]}
        read: dict[str, Any] = {"where": where}
        if rng.random() < 0.3:
            read["fields"] = ["name", "slug", *[f for f in fields if f in ("summary", "price")]]
            read["aggregate"] = False
        public[name] = {"read": read}
        if "email" in fields:
            required = [f for f, s in fields.items() if s.get("required") and f != "name"]
            public[name]["create"] = {
                "fields": ["name", "email", *[f for f in fields if f == "phone"], *required],
                "set": {"status": "draft"},
            }
            mine = {"email": {"eq": "$user.email"}}
            customer[name] = {
                "read": {"where": {"or": [where, mine]}, "limit": 100},
                "update": {
                    "where": mine,
                    "fields": ["name"],
                    "check": {"status": {"ne": "archived"}},
                },
            }
        if "body" in fields or "summary" in fields:
            text = [f for f in ("summary", "body") if f in fields]
            editor[name] = {"read": True, "update": {"fields": ["name", *text]}}
        ranked: dict[str, Any] = {"status": {"in": ["draft", "active"]}}
        if "rank" in fields:
            ranked = {"or": [ranked, {"rank": {"gte": 1}}]}
        if "code" in fields:
            ranked = {"and": [ranked, {"not": {"code": {"startsWith": "tmp-"}}}]}
        manager[name] = {
            "read": {"where": ranked},
            "create": True,
            "update": {
                "fields": ["name", "status", *[f for f in fields if f in ("price", "quantity")]],
                "check": {"status": {"nin": ["archived"]}},
            },
            "delete": {"where": {"status": {"eq": "draft"}}},
        }
        admin[name] = {"read": True, "create": True, "update": True, "delete": True}
    return {
        "public": public,
        "customer": customer,
        "editor": editor,
        "manager": manager,
        "admin": admin,
    }


def landings(spec: Path, entities: dict[str, dict[str, Any]], rng: random.Random) -> int:
    names = list(entities)
    picked = sorted(rng.sample(range(len(names)), min(6, len(names))))
    for i in picked:
        name = names[i]
        fields = entities[name]["fields"]
        landing = snake(name).replace("_", "-")
        query: dict[str, Any] = {"entity": name, "where": {"status": {"eq": "active"}}}
        query["order_by"] = ["-rank"] if "rank" in fields else ["name"]
        query["limit"] = 1000
        write(
            spec,
            f"landings/{landing}.yaml",
            {
                "landing": landing,
                "title": entities[name]["title"],
                "for_each": query,
                "path": f"/{landing}/{{slug}}/",
                "seo": {"title": "{{ item.name }}", "description": "{{ item.name }}: details"},
                "blocks": [
                    {"hero": {"title": "{{ item.name }}", "subtitle": "{{ item.summary }}"}},
                    {"gallery": {"images": "{{ item.photos }}"}},
                    {"text": {"body": "{{ item.body }}"}},
                    {"lead_form": {"fields": ["name", "email"], "button": "Send"}},
                ],
            },
        )
    home: dict[str, Any] = {
        "title": "Home",
        "path": "/",
        "seo": {"title": "Benchmark ecosystem"},
        "blocks": [{"hero": {"title": "Welcome"}}, {"text": {"body": "Fast specs."}}],
    }
    about = {"path": "/about/", "blocks": [{"text": {"body": "About us."}}]}
    write(spec, "landings/pages.yaml", {"landings": {"home": home, "about": about}})
    return len(picked) + 2


# A small YAML writer in the hand-written style of `ecospec init` --------------------------------

_PLAIN = re.compile(r"[A-Za-z_$/][\w$./ -]*")
_RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and not text.endswith(" ") and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def block(data: dict[str, Any], depth: int = 0) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    for key, value in data.items():
        text = flow(value)
        blocky = isinstance(value, list) and any(isinstance(v, dict) for v in value)
        if not blocky and (len(pad) + len(key) + len(text) <= 96 or not isinstance(value, dict)):
            lines.append(f"{pad}{key}: {text}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines.extend(block(value, depth + 1))
        else:
            lines.append(f"{pad}{key}:")
            for v in value:  # blocks and filters: `- name: {params}`, one key each
                if isinstance(v, dict) and len(v) == 1:
                    ((k, x),) = v.items()
                    lines.append(f"{pad}  - {k}: {flow(x)}")
                else:
                    lines.append(f"{pad}  - {flow(v)}")
    return lines


def write(spec: Path, name: str, data: dict[str, Any]) -> None:
    """Write one spec file, with the modeline `ecospec init` puts at the top of each."""
    path = spec / name
    path.parent.mkdir(parents=True, exist_ok=True)
    depth = name.count("/") + 1
    modeline = f"# yaml-language-server: $schema={'../' * depth}ecospec.schema.json\n"
    path.write_text(modeline + "\n".join(block(data)) + "\n", encoding="utf-8")


Timings = tuple[dict[str, float], dict[str, float]]  # per contender, per Ecospec stage

# The contenders --------------------------------------------------------------------------------


def ecospec(project: Path) -> LoadResult:
    return load_project(project)


def pure_yaml(files: list[Path]) -> list[Any]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files]


def c_yaml(files: list[Path]) -> list[Any]:
    return [yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) for p in files]


def c_yaml_schema(files: list[Path], validator: Any) -> int:
    errors = 0
    for data in c_yaml(files):
        errors += sum(1 for _ in validator.iter_errors(data))
    return errors


def stages(project: Path) -> dict[str, float]:
    """`load_project` step by step, through the loader's own functions, timing each."""
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[stage] = now - clock
        clock = now

    files = spec_files(project)
    sources = [read_yaml(p, relative_name(p, project)) for p in files]
    lap("parse with locations (read_yaml)")
    diagnostics: list[Diagnostic] = [d for s in sources for d in s.diagnostics]
    merged, index = _merge(sources, diagnostics)
    lap("merge files (_merge)")
    spec, dropped = _validate(merged, index, diagnostics)
    lap("pydantic validation (_validate)")
    if spec is None:
        raise SystemExit("the generated spec does not validate")
    _locate(spec, index, diagnostics)
    lap("locate nodes + unknown keys")
    root = relative_name(project / SPEC_DIR, project)
    diagnostics.extend(check_spec(spec, index, dropped, root=root))
    lap("semantic checks (check_spec)")
    diagnostics.sort(key=Diagnostic.sort_key)
    _unique(diagnostics)
    lap("sort + dedupe diagnostics")
    return times


def race(runs: dict[str, Callable[[], object]], project: Path, repeat: int) -> Timings:
    """Best-of-`repeat` times, the contenders taking turns so that noise hits them alike."""
    for run in runs.values():
        run()  # warm up: lazy imports, caches
    best = dict.fromkeys(runs, math.inf)
    parts: dict[str, float] = {}
    for _ in range(repeat):
        for key, run in runs.items():
            gc.collect()
            start = time.perf_counter()
            run()
            best[key] = min(best[key], time.perf_counter() - start)
        gc.collect()
        for stage, seconds in stages(project).items():
            parts[stage] = min(parts.get(stage, math.inf), seconds)
    return best, parts


# Sanity: the peers do the same work on the same data -------------------------------------------


def verify(project: Project, validator: Any) -> int:
    """Check the generated spec loads cleanly and every loader reads the same data from it.

    Returns how many keys and values Ecospec located.
    """
    result = load_project(project.root)
    if result.errors or result.spec is None:
        for d in result.errors[:20]:
            print(d, file=sys.stderr)
        raise SystemExit(f"the generated spec has {len(result.errors)} errors")
    if len(result.spec.entities) != len(project.entities):
        raise SystemExit("the loaded spec lost entities")
    files = project.files()
    sources = [read_yaml(p, relative_name(p, project.root)) for p in files]
    for path, source, pure, fast in zip(
        files, sources, pure_yaml(files), c_yaml(files), strict=True
    ):
        if not source.data == pure == fast:
            raise SystemExit(f"{path}: the YAML loaders disagree on the data")
        problems = [e.message for e in validator.iter_errors(fast)]
        if problems:
            raise SystemExit(f"{path}: the JSON Schema rejects it: {problems[:3]}")
    return sum(len(s.values) + len(s.keys) for s in sources)


# The report ------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entities", type=int, default=200, help="entities to generate (200)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best counts (5)")
    parser.add_argument("--profile", action="store_true", help="print load_project hot spots")
    parser.add_argument("--out", type=Path, help="write the project here and keep it")
    args = parser.parse_args(argv)
    if args.entities < 1 or args.repeat < 1:
        parser.error("--entities and --repeat must be at least 1")

    with tempfile.TemporaryDirectory(prefix="ecospec-bench-") as tmp:
        root: Path = args.out or Path(tmp)
        if (root / SPEC_DIR).exists():
            parser.error(f"{root}/{SPEC_DIR} already exists")
        project = generate(root, args.entities)
        files = project.files()
        validator = Draft202012Validator(spec_file_schema())
        located = verify(project, validator)
        lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files)
        size = sum(p.stat().st_size for p in files)
        # Collection stays on, as in `ecospec check`, but the setup's objects are kept out of it.
        gc.collect()
        gc.freeze()

        runs: list[tuple[str, str, Callable[[], object]]] = [
            ("ecospec", "ecospec load_project", lambda: ecospec(root)),
            ("yaml.safe_load", "yaml.safe_load (pure Python)", lambda: pure_yaml(files)),
            ("CSafeLoader", "yaml.load CSafeLoader (C)", lambda: c_yaml(files)),
            (
                "CSafeLoader+jsonschema",
                "CSafeLoader + jsonschema",
                lambda: c_yaml_schema(files, validator),
            ),
        ]
        times, parts = race({key: run for key, _, run in runs}, root, args.repeat)

        print(
            f"Spec loading: {len(files)} files, {len(project.entities)} entities, "
            f"{project.fields} fields, {len(project.roles)} roles ({project.grants} grants), "
            f"{project.landings} landings; {lines} lines, {size / 1024:.0f} KB, "
            f"{located} located keys and values"
        )
        print(
            f"Python {platform.python_version()}, PyYAML {yaml.__version__} "
            f"(libyaml {'yes' if yaml.__with_libyaml__ else 'no'}), pydantic {version('pydantic')}, "
            f"jsonschema {version('jsonschema')}; best of {args.repeat}\n"
        )
        label_width = max(len(label) for _, label, _ in runs) + 2
        print(f"{'':{label_width}}{'per load':>11}{'per file':>11}{'ecospec / peer':>17}")
        base = times["ecospec"]
        for key, label, _ in runs:
            ratio = "" if key == "ecospec" else f"{base / times[key]:.2f}×"
            each = ms(times[key] / len(files))
            print(f"{label:{label_width}}{ms(times[key]):>11}{each:>11}{ratio:>17}")
        print()
        for key, _, _ in runs[1:]:
            print(f"ecospec / {key} = {base / times[key]:.2f}×")
        stage_width = max(len(stage) for stage in parts) + 4
        print(f"\n{'ecospec by stage':{stage_width}}{'time':>11}{'share':>8}")
        total = sum(parts.values())
        for stage, seconds in parts.items():
            print(f"  {stage:{stage_width - 2}}{ms(seconds):>11}{seconds / total:8.0%}")
        print(f"  {'sum of stages':{stage_width - 2}}{ms(total):>11}  (load_project: {ms(base)})")

        if args.profile:
            profile(root)
    return 0


def profile(root: Path) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        load_project(root)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(18)
        print(f"\nload_project ×3 under cProfile, by {order}:")
        print("\n".join(out.getvalue().splitlines()[4:]))


if __name__ == "__main__":
    raise SystemExit(main())
