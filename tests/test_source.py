"""generator/source.py: YAML read into plain data, with the place of every key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecospec.generator.errors import Location
from ecospec.generator.source import SourceFile, parse_yaml, read_yaml


def parse(text: str) -> SourceFile:
    return parse_yaml(text, "spec/f.yaml")


def messages(source: SourceFile) -> list[str]:
    return [str(d) for d in source.diagnostics]


def at(line: int, column: int) -> Location:
    return Location("spec/f.yaml", line, column)


# locations ---------------------------------------------------------------------------------


def test_keys_and_values_are_located_from_one() -> None:
    source = parse("a:\n  b: 1\n  c: [x, {d: 2}]\n")

    assert source.data == {"a": {"b": 1, "c": ["x", {"d": 2}]}}
    assert source.diagnostics == []
    assert source.keys == {
        ("a",): at(1, 1),
        ("a", "b"): at(2, 3),
        ("a", "c"): at(3, 3),
        ("a", "c", 1, "d"): at(3, 11),
    }
    assert source.values == {
        (): at(1, 1),
        ("a",): at(2, 3),
        ("a", "b"): at(2, 6),
        ("a", "c"): at(3, 6),
        ("a", "c", 0): at(3, 7),
        ("a", "c", 1): at(3, 10),
        ("a", "c", 1, "d"): at(3, 14),
    }


def test_block_sequence_items_are_located() -> None:
    source = parse("seed:\n  Tea:\n    - name: green\n    - name: black\n")

    assert source.values[("seed", "Tea", 0)] == at(3, 7)
    assert source.keys[("seed", "Tea", 1, "name")] == at(4, 7)
    assert source.values[("seed", "Tea", 1, "name")] == at(4, 13)


def test_location_lookups_fall_back_to_the_file_start() -> None:
    source = parse("a: 1\n")

    assert source.key_location(("a",)) == at(1, 1)
    assert source.value_location(("a",)) == at(1, 4)
    assert source.value_location(("nowhere",)) == at(1, 1)
    assert source.key_location(("nowhere",)) == at(1, 1)


def test_location_prints_as_file_line_column() -> None:
    assert str(at(12, 7)) == "spec/f.yaml:12:7"


def test_multibyte_text_counts_columns_in_characters() -> None:
    source = parse("title: Северный квартал\nname: x\n")

    assert source.values[("name",)] == at(2, 7)
    assert source.data == {"title": "Северный квартал", "name": "x"}


# duplicate keys ----------------------------------------------------------------------------


def test_duplicate_key_names_both_places_and_keeps_the_first() -> None:
    source = parse("a: 1\nb: 2\na: 3\n")

    assert source.data == {"a": 1, "b": 2}
    assert messages(source) == [
        "spec/f.yaml:3:1: a: duplicate key 'a' (first defined at spec/f.yaml:1:1)"
    ]
    assert source.diagnostics[0].related == (at(1, 1),)


def test_nested_duplicate_key_has_its_key_path() -> None:
    source = parse("entities:\n  Tea:\n    title: a\n    title: b\n")

    assert messages(source) == [
        "spec/f.yaml:4:5: entities.Tea.title: duplicate key 'title' (first defined at spec/f.yaml:3:5)"
    ]


def test_duplicate_key_in_flow_mapping() -> None:
    source = parse("f: {type: int, type: money}\n")

    assert messages(source) == [
        "spec/f.yaml:1:16: f.type: duplicate key 'type' (first defined at spec/f.yaml:1:5)"
    ]
    assert source.data == {"f": {"type": "int"}}


# syntax errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: [1, 2\n",
            "spec/f.yaml:2:1: YAML syntax: while parsing a flow sequence, did not find expected ',' or ']'",
        ),
        (
            "a:\n  b: 1\n c: 2\n",
            "spec/f.yaml:3:2: YAML syntax: while parsing a block mapping, did not find expected key",
        ),
        (
            "key: value\n  bad: 1\n",
            "spec/f.yaml:2:6: YAML syntax: mapping values are not allowed in this context",
        ),
        (
            'a: "x\n',
            "spec/f.yaml:2:1: YAML syntax: while scanning a quoted scalar, found unexpected end of stream",
        ),
        (
            "a: @x\n",
            "spec/f.yaml:1:4: YAML syntax: while scanning for the next token, "
            "found character that cannot start any token",
        ),
        (
            "a: *nope\n",
            "spec/f.yaml:1:4: YAML syntax: found undefined alias",
        ),
        (
            "---\na: 1\n---\nb: 2\n",
            "spec/f.yaml:3:1: YAML syntax: expected a single document in the stream, "
            "but found another document",
        ),
    ],
)
def test_syntax_error_is_located(text: str, message: str) -> None:
    source = parse(text)

    assert source.data is None
    assert messages(source) == [message]


def test_control_character_is_located_on_one_line() -> None:
    source = parse("a: 1\n\x00")

    assert len(source.diagnostics) == 1
    diagnostic = source.diagnostics[0]
    assert diagnostic.location == at(2, 1)
    assert "\n" not in diagnostic.message
    assert "<unicode string>" not in diagnostic.message


def test_deep_nesting_is_a_diagnostic_not_a_recursion_error() -> None:
    depth = 1000
    source = parse("a: " + "[" * depth + "]" * depth + "\n")

    assert source.diagnostics


def test_empty_and_comment_only_files_hold_nothing() -> None:
    for text in ("", "# only a comment\n", "---\n"):
        source = parse(text)
        assert source.data is None
        assert source.diagnostics == []


# scalars: YAML 1.2 flavour -----------------------------------------------------------------


def test_yes_no_on_off_stay_strings() -> None:
    source = parse("a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\ng: Yes\nh: NO\n")

    assert source.data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "off",
        "e": "y",
        "f": "n",
        "g": "Yes",
        "h": "NO",
    }


def test_true_and_false_are_booleans() -> None:
    source = parse("a: true\nb: False\nc: TRUE\nd: false\n")

    assert source.data == {"a": True, "b": False, "c": True, "d": False}


def test_dates_and_times_stay_strings() -> None:
    source = parse("a: 2026-05-01\nb: 2026-05-01T10:00:00Z\nc: 2026-05-01 10:00:00\n")

    assert source.data == {
        "a": "2026-05-01",
        "b": "2026-05-01T10:00:00Z",
        "c": "2026-05-01 10:00:00",
    }


def test_numbers_and_nulls() -> None:
    source = parse("a: 12\nb: 12.50\nc: -3\nd: null\ne: ~\nf:\ng: '12'\n")

    assert source.data == {"a": 12, "b": 12.5, "c": -3, "d": None, "e": None, "f": None, "g": "12"}


def test_keys_are_always_text() -> None:
    source = parse("1: a\ntrue: b\nnull: c\n")

    assert source.data == {"1": "a", "true": "b", "null": "c"}


def test_python_tags_are_refused_with_a_location() -> None:
    source = parse("a: !!python/name:os.system ''\n")

    assert source.data == {"a": None}
    assert messages(source) == [
        "spec/f.yaml:1:4: a: YAML value: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'"
    ]


def test_tags_on_collections_never_construct_objects() -> None:
    source = parse("a: !!python/object/apply:os.system [echo]\nb: !custom {x: 1}\n")

    assert source.data == {"a": ["echo"], "b": {"x": 1}}


def test_unknown_local_tag_is_refused() -> None:
    source = parse("a: !custom x\n")

    assert messages(source) == [
        "spec/f.yaml:1:4: a: YAML value: could not determine a constructor for the tag '!custom'"
    ]


def test_complex_key_is_refused() -> None:
    source = parse("? [a, b]\n: 1\nc: 2\n")

    assert source.data == {"c": 2}
    assert messages(source) == [
        "spec/f.yaml:1:3: a key must be a plain scalar, not a mapping or list"
    ]


# aliases and merge keys --------------------------------------------------------------------


def test_aliases_copy_data() -> None:
    source = parse("a: &x {b: 1}\nc: *x\n")

    assert source.data == {"a": {"b": 1}, "c": {"b": 1}}
    assert source.diagnostics == []


@pytest.mark.parametrize(
    ("text", "message", "data"),
    [
        (
            "a: &x [*x]\n",
            "spec/f.yaml:1:4: a[0]: an alias refers to a node that contains it",
            {"a": [None]},
        ),
        (
            "a: &x {b: *x}\n",
            "spec/f.yaml:1:4: a.b: an alias refers to a node that contains it",
            {"a": {"b": None}},
        ),
    ],
)
def test_recursive_alias_is_reported(text: str, message: str, data: object) -> None:
    source = parse(text)

    assert messages(source) == [message]
    assert source.data == data


def test_merge_key_copies_a_mapping_and_explicit_keys_win() -> None:
    source = parse("base: &b {type: string, required: true}\nname:\n  <<: *b\n  required: false\n")

    assert source.diagnostics == []
    assert source.data["name"] == {"type": "string", "required": False}


def test_merge_key_takes_a_list_of_mappings_first_one_wins() -> None:
    source = parse("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  w: 3\n")

    assert source.data["c"] == {"w": 3, "x": 1, "y": 1, "z": 2}


def test_merge_key_refuses_a_scalar() -> None:
    source = parse("a:\n  <<: [1]\n")

    assert source.data == {"a": {}}
    assert messages(source) == ["spec/f.yaml:2:8: a: '<<' merges only mappings"]


def test_merged_key_without_override_is_located_at_the_anchor() -> None:
    source = parse("base: &b {type: string}\nname:\n  <<: *b\n")

    assert source.values[("name", "type")] == at(1, 17)


def test_value_written_after_a_merge_is_located_where_written() -> None:
    source = parse("base: &b {type: string, required: true}\nname:\n  <<: *b\n  required: false\n")

    assert source.keys[("name", "required")] == at(4, 3)
    assert source.values[("name", "required")] == at(4, 13)


def test_key_written_before_a_merge_is_located_where_written() -> None:
    source = parse("base: &b {type: string, required: true}\nname:\n  required: false\n  <<: *b\n")

    assert source.keys[("name", "required")] == at(3, 3)
    assert source.values[("name", "required")] == at(3, 13)


# files -------------------------------------------------------------------------------------


def test_read_yaml_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text("roles:\n  public: {}\n", encoding="utf-8")

    source = read_yaml(path, "spec/roles.yaml")

    assert source.name == "spec/roles.yaml"
    assert source.data == {"roles": {"public": {}}}
    assert source.keys[("roles", "public")] == Location("spec/roles.yaml", 2, 3)


def test_non_utf8_file_is_a_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: café\n".encode("latin-1"))

    source = read_yaml(path, "spec/latin.yaml")

    assert source.data is None
    assert [str(d) for d in source.diagnostics] == [
        "spec/latin.yaml:1:1: not UTF-8 text: invalid continuation byte"
    ]


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")

    source = read_yaml(path, "spec/bom.yaml")

    assert source.diagnostics == []
    assert source.data == {"a": 1}


def test_unreadable_file_is_a_diagnostic(tmp_path: Path) -> None:
    source = read_yaml(tmp_path / "missing.yaml", "spec/missing.yaml")

    assert [str(d) for d in source.diagnostics] == [
        "spec/missing.yaml:1:1: cannot read: No such file or directory"
    ]
