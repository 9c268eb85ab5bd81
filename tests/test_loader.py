"""generator/loader.py: every diagnostic reading, merging and validating spec files can earn,
pinned (the checks of each section are pinned in tests/test_checks_<section>.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import BASE, CATALOG, LANDING, WriteSpec, check, edit, load, project

from ecospec.generator.errors import KeyPath, Location, Severity, SpecError
from ecospec.generator.loader import load_project, load_sources, load_spec
from ecospec.generator.model import CreateRule, Node, ReadRule, Spec, UpdateRule
from ecospec.generator.source import parse_yaml

# the base --------------------------------------------------------------------------------


def test_base_project_is_valid_without_warnings(write_spec: WriteSpec, tmp_path: Path) -> None:
    result = load(write_spec, tmp_path, {})

    assert result.diagnostics == []
    assert result.spec is not None
    assert result.files == sorted(BASE)
    assert list(result.spec.entities) == ["Complex", "Apartment", "Lead"]
    assert result.spec.landings["complex"].path == "/complexes/{slug}/"
    assert len(result.spec.seed["Apartment"]) == 1


def test_load_spec_returns_the_spec(write_spec: WriteSpec, tmp_path: Path) -> None:
    spec = load_spec(project(write_spec, tmp_path, {}), strict=True)

    assert spec.ecosystem == "north-quarter"
    assert spec.title == "Северный квартал"


# unknown keys ----------------------------------------------------------------------------


UNKNOWN_KEY = edit(
    "spec/entities/catalog.yaml", "rooms: {type: int,", "rooms: {type: int, requird: true,"
)
UNKNOWN_KEY_WARNING = (
    "spec/entities/catalog.yaml:13:26: warning: entities.Apartment.fields.rooms.requird: "
    "unknown key 'requird' (did you mean 'required'?)"
)


def test_unknown_key_is_a_warning_with_did_you_mean(write_spec: WriteSpec, tmp_path: Path) -> None:
    result = load(write_spec, tmp_path, UNKNOWN_KEY)

    assert [str(d) for d in result.diagnostics] == [UNKNOWN_KEY_WARNING]
    assert result.diagnostics[0].severity is Severity.WARNING
    assert result.errors == []
    assert result.spec is not None


def test_unknown_key_passes_load_spec_but_fails_it_under_strict(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    folder = project(write_spec, tmp_path, UNKNOWN_KEY)

    assert load_spec(folder).entities["Apartment"].fields["rooms"].max == 6
    with pytest.raises(SpecError) as caught:
        load_spec(folder, strict=True)
    assert [str(d) for d in caught.value.diagnostics] == [UNKNOWN_KEY_WARNING]


def test_strict_spec_error_message_names_the_warning(write_spec: WriteSpec, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(project(write_spec, tmp_path, UNKNOWN_KEY), strict=True)

    assert UNKNOWN_KEY_WARNING in str(caught.value)


def test_unknown_top_level_section_is_a_warning(write_spec: WriteSpec, tmp_path: Path) -> None:
    assert check(write_spec, tmp_path, {"spec/extra.yaml": "entites: {}\n"}) == [
        "spec/extra.yaml:1:1: warning: entites: unknown key 'entites' (did you mean 'entities'?)"
    ]


def test_unknown_key_in_a_grant_is_a_warning(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/roles.yaml", "update: {fields: [manager]}", "updat: {fields: [manager]}")

    assert check(write_spec, tmp_path, files) == [
        "spec/roles.yaml:8:54: warning: roles.manager.Lead.updat: "
        "unknown key 'updat' (did you mean 'update'?)"
    ]


def test_misspelt_role_option_suggests_the_option(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/roles.yaml", "inherits: [public]", "inherit: [public]")

    [message] = check(write_spec, tmp_path, files)
    assert message.startswith("spec/roles.yaml:7:")
    assert "roles.manager.inherit: " in message
    assert "(did you mean 'inherits'?)" in message


# entities merged, fields dropped --------------------------------------------------------


def test_same_entity_in_two_files_names_both_places(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        "spec/entities/more.yaml": "entities:\n  Complex:\n    fields:\n      name: {type: string}\n"
    }
    result = load(write_spec, tmp_path, files)

    assert [str(d) for d in result.diagnostics] == [
        "spec/entities/more.yaml:2:3: entities.Complex: entity 'Complex' is defined twice: "
        "here and at spec/entities/catalog.yaml:2:3"
    ]
    assert result.diagnostics[0].related == (Location("spec/entities/catalog.yaml", 2, 3),)


def test_failing_only_field_is_reported_once(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        "spec/entities/more.yaml": "entities:\n  Flat:\n    fields:\n      size: {type: mony}\n"
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/more.yaml:4:20: entities.Flat.fields.size.type: "
        "unknown type 'mony' (did you mean 'money'?)"
    ]


def test_failing_field_does_not_hide_errors_elsewhere(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = {
        **edit("spec/entities/catalog.yaml", "price: {type: money}", "price: {type: mony}"),
        **edit(
            "spec/roles.yaml", "{status: {in: [free, booked]}}", "{price: {gt: 0}, rooms: {eqq: 2}}"
        ),
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:15:21: entities.Apartment.fields.price.type: "
        "unknown type 'mony' (did you mean 'money'?)",
        "spec/roles.yaml:4:56: roles.public.Apartment.read.where.rooms.eqq: "
        "unknown operator 'eqq' (did you mean 'eq'?)",
    ]


def test_failing_field_is_dropped_but_its_entity_kept(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    result = load(
        write_spec,
        tmp_path,
        edit("spec/entities/catalog.yaml", "price: {type: money}", "price: {type: mony}"),
    )

    assert result.spec is not None
    assert "price" not in result.spec.entities["Apartment"].fields
    assert "rooms" in result.spec.entities["Apartment"].fields


# grants, inherited -----------------------------------------------------------------------


def test_grants_merge_inherited_ones(write_spec: WriteSpec, tmp_path: Path) -> None:
    spec = load_spec(project(write_spec, tmp_path, {}))

    manager = spec.grants("manager")
    assert list(manager) == ["Complex", "Apartment", "Lead"]
    assert manager["Complex"].read is True
    assert isinstance(manager["Apartment"].read, ReadRule)
    lead = manager["Lead"]  # per operation: the manager's own rules, the rest inherited
    assert isinstance(lead.read, ReadRule)
    assert lead.read.where == {"manager": {"eq": "$user.id"}}
    assert isinstance(lead.update, UpdateRule)
    assert isinstance(lead.create, CreateRule)
    assert lead.create.set == {"source": "landing"}
    assert lead.delete is False
    assert list(spec.roles["manager"].grants) == ["Lead"]
    assert spec.grants("public")["Lead"].read is False
    assert spec.grants("nobody") == {}


def test_grants_follow_inheritance_chains_and_survive_cycles(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = edit(
        "spec/roles.yaml", "  partner:\n", "  partner:\n    inherits: [manager, partner]\n"
    )
    spec = load_project(project(write_spec, tmp_path, files)).spec

    assert spec is not None
    assert list(spec.grants("partner")) == ["Complex", "Apartment", "Lead"]
    lead = spec.grants("partner")["Lead"]
    assert isinstance(lead.read, ReadRule)
    assert lead.read.fields == ["name", "phone"]  # its own read wins over the manager's
    assert isinstance(lead.update, UpdateRule)  # from manager
    assert isinstance(lead.create, CreateRule)  # from public, through manager


# landings merged -------------------------------------------------------------------------


def test_same_landing_in_two_files(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/landings/promo.yaml": LANDING.replace("/complexes/", "/promo/")}
    result = load(write_spec, tmp_path, files)

    assert [str(d) for d in result.diagnostics] == [
        "spec/landings/promo.yaml:1:1: landings.complex: landing 'complex' is defined twice: "
        "here and at spec/landings/complex.yaml:1:1"
    ]
    assert result.diagnostics[0].related == (Location("spec/landings/complex.yaml", 1, 1),)


def test_same_landing_in_a_file_and_a_section(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/more.yaml": "landings:\n  complex:\n    path: /other/\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/more.yaml:2:3: landings.complex: landing 'complex' is defined twice: "
        "here and at spec/landings/complex.yaml:1:1"
    ]


# seed merged -----------------------------------------------------------------------------


def test_seed_lists_from_several_files_are_joined(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/seed/more.yaml": "seed:\n  Complex:\n    - {name: Южный}\n"}
    result = load(write_spec, tmp_path, files)

    assert result.diagnostics == []
    assert result.spec is not None
    assert [r["name"] for r in result.spec.seed["Complex"]] == ["Северный", "Южный"]
    assert result.index.value(("seed", "Complex", 1, "name")) == Location(
        "spec/seed/more.yaml", 3, 14
    )


# settings and file shapes ----------------------------------------------------------------


def test_setting_defined_in_two_files(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/more.yaml": "locale: en\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/more.yaml:1:1: locale: setting 'locale' is defined twice: here and at spec/ecosystem.yaml:3:1"
    ]


def test_section_that_is_not_a_mapping(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/more.yaml": "entities: [Flat]\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/more.yaml:1:11: entities: expected a mapping of names, got a list"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entities:\n", "spec/more.yaml:1:10: entities: expected a mapping of names, got nothing"),
        (
            "seed:\n  Complex: {name: x}\n",
            "spec/more.yaml:2:12: seed.Complex: expected a list of records, got a mapping",
        ),
    ],
)
def test_section_shape_messages_use_plain_words(
    write_spec: WriteSpec, tmp_path: Path, text: str, message: str
) -> None:
    assert check(write_spec, tmp_path, {"spec/more.yaml": text}) == [message]


def test_seed_member_that_is_not_a_list(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/more.yaml": "seed:\n  Complex: many\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/more.yaml:2:12: seed.Complex: expected a list of records, got text"
    ]


@pytest.mark.parametrize("text", ["- entities\n- roles\n", "just text\n", "42\n"])
def test_file_that_is_not_a_mapping(write_spec: WriteSpec, tmp_path: Path, text: str) -> None:
    assert check(write_spec, tmp_path, {"spec/more.yaml": text}) == [
        "spec/more.yaml:1:1: a spec file is a mapping of sections (entities:, roles:, landings:, …)"
    ]


def test_empty_file_is_fine(write_spec: WriteSpec, tmp_path: Path) -> None:
    result = load(write_spec, tmp_path, {"spec/empty.yaml": "", "spec/notes.yml": "# later\n"})

    assert result.diagnostics == []
    assert "spec/empty.yaml" in result.files
    assert "spec/notes.yml" in result.files


def test_landing_file_without_a_name(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {"spec/landings/promo.yaml": "landing:\npath: /promo/\n"}

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/promo.yaml:1:9: landing: a landing needs a name"
    ]


def test_files_other_than_yaml_are_ignored(write_spec: WriteSpec, tmp_path: Path) -> None:
    result = load(write_spec, tmp_path, {"spec/README.md": "# not: [yaml\n"})

    assert result.diagnostics == []
    assert "spec/README.md" not in result.files


def test_source_problems_reach_the_load_result(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        **edit("spec/ecosystem.yaml", "locale: ru\n", "locale: ru\nlocale: en\n"),
        "spec/landings/complex.yaml": "landing: complex\npath: [/x/\n",
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/ecosystem.yaml:4:1: locale: duplicate key 'locale' (first defined at spec/ecosystem.yaml:3:1)",
        "spec/landings/complex.yaml:3:1: YAML syntax: while parsing a flow sequence, "
        "did not find expected ',' or ']'",
    ]


# the whole run ---------------------------------------------------------------------------


def test_every_error_of_every_file_in_one_run_sorted(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        **edit("spec/roles.yaml", "inherits: [public]", "inherits: [publc]"),
        **edit("spec/entities/crm.yaml", "to: Complex", "to: Complx"),
        **edit("spec/entities/catalog.yaml", "price: {type: money}", "price: {type: mony}"),
        **edit("spec/seed/catalog.yaml", "status: ready", "status: done"),
        "spec/landings/promo.yaml": "landing: promo\npath: /promo/{slug}/\n",
        "spec/broken.yaml": "a: [1\n",
        **edit("spec/ecosystem.yaml", "anonymous_role: public", "anonymous_role: pubic"),
    }
    result = load(write_spec, tmp_path, files)

    assert [str(d) for d in result.diagnostics] == [
        "spec/broken.yaml:2:1: YAML syntax: while parsing a flow sequence, "
        "did not find expected ',' or ']'",
        "spec/ecosystem.yaml:5:19: auth.anonymous_role: unknown role 'pubic' (did you mean 'public'?)",
        "spec/entities/catalog.yaml:15:21: entities.Apartment.fields.price.type: "
        "unknown type 'mony' (did you mean 'money'?)",
        "spec/entities/crm.yaml:6:32: entities.Lead.fields.complex.to: "
        "unknown entity 'Complx' (did you mean 'Complex'?)",
        "spec/landings/promo.yaml:2:7: landings.promo.path: "
        "'{slug}' needs a record: add 'for_each' or write a fixed path",
        "spec/roles.yaml:7:16: roles.manager.inherits[0]: unknown role 'publc' (did you mean 'public'?)",
        "spec/seed/catalog.yaml:3:32: seed.Complex[0].status: "
        "'done' is not one of: planned, building, ready",
    ]
    locations = [d.location for d in result.diagnostics]
    assert all(loc is not None for loc in locations)
    assert locations == sorted(
        locations, key=lambda loc: (loc.file, loc.line, loc.column) if loc else ("", 0, 0)
    )


def test_diagnostics_serialise_to_json(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        "spec/entities/more.yaml": "entities:\n  Complex:\n    fields:\n      name: {type: string}\n"
    }
    [diagnostic] = load(write_spec, tmp_path, files).diagnostics

    assert diagnostic.to_json() == {
        "severity": "error",
        "file": "spec/entities/more.yaml",
        "line": 2,
        "column": 3,
        "path": "entities.Complex",
        "message": "entity 'Complex' is defined twice: here and at spec/entities/catalog.yaml:2:3",
        "related": ["spec/entities/catalog.yaml:2:3"],
    }


def test_load_sources_works_on_parsed_text() -> None:
    sources = [
        parse_yaml("ecosystem: tiny\nroles: {public: {}}\n", "spec/ecosystem.yaml"),
        parse_yaml(
            "entities:\n  Note:\n    fields:\n      title: {type: string}\n      body: {type: txt}\n",
            "spec/notes.yaml",
        ),
    ]
    result = load_sources(sources)

    assert result.files == ["spec/ecosystem.yaml", "spec/notes.yaml"]
    assert [str(d) for d in result.diagnostics] == [
        "spec/notes.yaml:5:20: entities.Note.fields.body.type: unknown type 'txt' (did you mean 'text'?)"
    ]


# locations of nodes ----------------------------------------------------------------------


def all_nodes(node: object, path: KeyPath = ()) -> list[tuple[Node, KeyPath]]:
    """Every spec node under `node`, with its key path."""
    found: list[tuple[Node, KeyPath]] = []
    if isinstance(node, Node):
        found.append((node, path))
        for name, info in type(node).model_fields.items():
            found.extend(all_nodes(getattr(node, name), (*path, info.alias or name)))
        for key, value in (node.model_extra or {}).items():
            found.extend(all_nodes(value, (*path, key)))
    elif isinstance(node, dict):
        for key, value in node.items():
            found.extend(all_nodes(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(all_nodes(value, (*path, i)))
    return found


def test_every_node_knows_where_it_was_written(write_spec: WriteSpec, tmp_path: Path) -> None:
    result = load(write_spec, tmp_path, {})
    assert result.spec is not None

    nodes = all_nodes(result.spec)
    assert len(nodes) > 30
    assert result.spec.location is None  # the whole spec is merged from many files
    written = [(n, p) for n, p in nodes if p and result.index.value(p[:1]) is not None]
    assert len(written) > 30
    assert [p for n, p in written if n.location is None] == []
    assert all(n.location == result.index.value(p) for n, p in written)


def test_node_locations_point_at_their_values(write_spec: WriteSpec, tmp_path: Path) -> None:
    spec = load_spec(project(write_spec, tmp_path, {}))

    def loc(file: str, line: int, column: int) -> Location:
        return Location(f"spec/{file}", line, column)

    assert spec.entities["Complex"].location == loc("entities/catalog.yaml", 3, 5)
    assert spec.entities["Apartment"].fields["price"].location == loc(
        "entities/catalog.yaml", 15, 14
    )
    assert spec.entities["Lead"].location == loc("entities/crm.yaml", 3, 5)
    assert spec.auth.location == loc("ecosystem.yaml", 5, 3)
    assert spec.auth.jwt.location == loc("ecosystem.yaml", 7, 5)
    assert spec.roles["manager"].location == loc("roles.yaml", 7, 5)
    assert spec.roles["public"].grants["Lead"].location == loc("roles.yaml", 5, 11)
    create = spec.roles["public"].grants["Lead"].create
    assert not isinstance(create, bool)
    assert create.location == loc("roles.yaml", 5, 20)
    landing = spec.landings["complex"]
    assert landing.location == loc("landings/complex.yaml", 1, 1)
    assert landing.for_each is not None
    assert landing.for_each.location == loc("landings/complex.yaml", 2, 11)
    assert landing.seo.location == loc("landings/complex.yaml", 4, 6)


def test_default_nodes_take_the_place_of_their_parent(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = edit("spec/landings/complex.yaml", 'seo: {title: "{{ item.name }}"}\n', "")
    spec = load_spec(project(write_spec, tmp_path, files))

    landing = spec.landings["complex"]
    assert landing.seo.location == landing.location
    assert spec.site.location == Location("spec/ecosystem.yaml", 8, 7)
    assert spec.site.location is not None


def test_default_nodes_without_a_written_ancestor_have_no_place(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = edit("spec/ecosystem.yaml", 'site: {base_url: "https://north-quarter.example"}\n', "")
    spec = load_spec(project(write_spec, tmp_path, files))

    assert spec.site.location is None  # no file writes `site:`: there is no place to name


def test_spec_is_frozen(write_spec: WriteSpec, tmp_path: Path) -> None:
    spec: Spec = load_spec(project(write_spec, tmp_path, {}))

    with pytest.raises(ValueError, match="frozen"):
        spec.ecosystem = "other"  # type: ignore[misc]


# known crashes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("spec/seed/catalog.yaml", "price: 7500000.00", "price: 1.0e+30"),
        (
            "spec/entities/catalog.yaml",
            "price: {type: money}",
            "price: {type: money, default: '1e30'}",
        ),
        ("spec/roles.yaml", "{status: {in: [free, booked]}}", "{price: {gt: 1.0e+30}}"),
    ],
)
def test_huge_money_value_is_a_diagnostic(
    write_spec: WriteSpec, tmp_path: Path, name: str, old: str, new: str
) -> None:
    messages = check(write_spec, tmp_path, edit(name, old, new))

    assert len(messages) == 1


def test_error_after_a_merge_key_is_located_where_written(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = {
        "spec/entities/more.yaml": (
            "entities:\n  Flat:\n    fields:\n      price: &num {type: int}\n"
            "      area:\n        <<: *num\n        type: mony\n"
        )
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/more.yaml:7:15: entities.Flat.fields.area.type: "
        "unknown type 'mony' (did you mean 'money'?)"
    ]


def test_failing_field_is_not_reported_again_as_unknown(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    text = CATALOG.replace(
        "    title: Жилой комплекс\n", "    title: Жилой комплекс\n    display: name\n"
    )
    text = text.replace("name: {type: string, required", "name: {type: strng, required")

    assert check(write_spec, tmp_path, {"spec/entities/catalog.yaml": text}) == [
        "spec/entities/catalog.yaml:6:20: entities.Complex.fields.name.type: "
        "unknown type 'strng' (did you mean 'string'?)"
    ]


def test_dangling_ref_used_by_a_list_is_reported_once(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = edit("spec/entities/catalog.yaml", "to: Complex, required", "to: Complx, required")

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:12:32: entities.Apartment.fields.complex.to: "
        "unknown entity 'Complx' (did you mean 'Complex'?)"
    ]


def test_two_bad_values_in_one_field_are_both_located(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    files = edit(
        "spec/entities/catalog.yaml",
        "balcony: {type: bool}",
        "balcony: {type: bool, values: [1, 2]}",
    )
    files = {
        "spec/entities/catalog.yaml": (files["spec/entities/catalog.yaml"] or "").replace(
            "min: 0, max: 6", "min: 7, max: 6"
        ),
        "spec/seed/catalog.yaml": None,
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/entities/catalog.yaml:13:39: entities.Apartment.fields.rooms.max: max 6 is below min 7",
        "spec/entities/catalog.yaml:16:38: entities.Apartment.fields.balcony.values[0]: "
        "expected text, got a number",
        "spec/entities/catalog.yaml:16:41: entities.Apartment.fields.balcony.values[1]: "
        "expected text, got a number",
    ]


def test_two_bad_landing_values_are_both_located(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = {
        "spec/landings/a.yaml": "landing: a\npath: [1]\ntitle: [2]\n",
        "spec/landings/b.yaml": "landing: b\npath: /b/{slug}/\n",
    }

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/a.yaml:2:7: landings.a.path: expected text, got a list",
        "spec/landings/a.yaml:3:8: landings.a.title: expected text, got a list",
        "spec/landings/b.yaml:2:7: landings.b.path: "
        "'{slug}' needs a record: add 'for_each' or write a fixed path",
    ]


def test_a_form_field_that_is_not_a_name_is_located(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit(
        "spec/landings/complex.yaml", "fields: [name, phone]", "fields: [~, phone, [name]]"
    )

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:7:41: landings.complex.blocks[1].lead_form.fields[0]: "
        "expected a field name, got nothing",
        "spec/landings/complex.yaml:7:51: landings.complex.blocks[1].lead_form.fields[2]: "
        "expected a field name, got a list",
    ]
