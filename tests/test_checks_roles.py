"""The checks of the roles section: every diagnostic a role or a grant can earn, pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import WriteSpec, check, edit


def test_inherits_cycle(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/roles.yaml", "  public:\n", "  public:\n    inherits: [manager]\n")

    assert check(write_spec, tmp_path, files) == [
        "spec/roles.yaml:3:15: roles.public.inherits: roles inherit in a cycle: "
        "public → manager → public"
    ]


def test_role_inheriting_itself(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/roles.yaml", "  partner:\n", "  partner:\n    inherits: [partner]\n")

    assert check(write_spec, tmp_path, files) == [
        "spec/roles.yaml:10:15: roles.partner.inherits: roles inherit in a cycle: partner → partner"
    ]


def test_unknown_inherited_role(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/roles.yaml", "inherits: [public]", "inherits: [publc]")

    assert check(write_spec, tmp_path, files) == [
        "spec/roles.yaml:7:16: roles.manager.inherits[0]: unknown role 'publc' (did you mean 'public'?)"
    ]


def test_unknown_entity_in_a_grant(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit(
        "spec/roles.yaml", "    Lead: {read: {where: {manager", "    Leed: {read: {where: {manager"
    )

    assert check(write_spec, tmp_path, files) == [
        "spec/roles.yaml:8:5: roles.manager.Leed: unknown entity 'Leed' (did you mean 'Lead'?)"
    ]


def test_grant_that_is_not_a_mapping(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit(
        "spec/roles.yaml",
        "Lead: {read: {where: {partner: {eq: $user.partner_id}}, fields: [name, phone]}}",
        "Lead: true",
    )

    assert check(write_spec, tmp_path, files) == [
        "spec/roles.yaml:10:11: roles.partner.Lead: expected a mapping, got a boolean"
    ]


def test_unknown_field_in_grant_field_lists(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/roles.yaml", "fields: [name, phone, complex]", "fields: [name, phnoe, id]")

    assert check(write_spec, tmp_path, files) == [
        "spec/roles.yaml:5:36: roles.public.Lead.create.fields[1]: "
        "unknown field of Lead 'phnoe' (did you mean 'phone'?)",
        "spec/roles.yaml:5:43: roles.public.Lead.create.fields[2]: 'id' cannot be written",
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "messages"),
    [
        (
            "spec/roles.yaml",
            "fields: [name, phone, complex]",
            "fields: [phone, complex, source]",
            [
                "spec/roles.yaml:5:29: roles.public.Lead.create.fields: role 'public' can never create Lead: required field 'name' is neither in fields nor in set",
                "spec/roles.yaml:5:46: warning: roles.public.Lead.create.fields[2]: 'source' is also preset by set, which wins",
            ],
        ),
        (
            "spec/roles.yaml",
            "fields: [name, phone]}}",
            "fields: [name, phone, nmae]}}",
            [
                "spec/roles.yaml:10:83: roles.partner.Lead.read.fields[2]: unknown field of Lead 'nmae' (did you mean 'name'?)"
            ],
        ),
        (
            "spec/roles.yaml",
            "update: {fields: [manager]}",
            "update: {fields: [manager, id], where: {manager: {eq: $user.nobody}}, set: {source: phon}, check: {statsu: {eq: x}}}",
            [
                "spec/roles.yaml:8:81: roles.manager.Lead.update.fields[1]: 'id' cannot be written",
                "spec/roles.yaml:8:108: roles.manager.Lead.update.where.manager.eq: unknown session variable '$user.nobody'; auth.jwt.claims defines $user.id, $user.partner_id",
                "spec/roles.yaml:8:138: roles.manager.Lead.update.set.source: 'phon' is not one of: landing, phone",
                "spec/roles.yaml:8:153: roles.manager.Lead.update.check.statsu: Lead has no field 'statsu'",
            ],
        ),
        (
            "spec/roles.yaml",
            "update: {fields: [manager]}",
            "delete: {where: {rooms: {eq: 1}}}",
            [
                "spec/roles.yaml:8:71: roles.manager.Lead.delete.where.rooms: Lead has no field 'rooms'"
            ],
        ),
        (
            "spec/roles.yaml",
            "set: {source: landing}}",
            "set: {source: landing}, check: {phone: {startsWith: 7}}}",
            [
                "spec/roles.yaml:5:105: roles.public.Lead.create.check.phone.startsWith: 'startsWith' takes text"
            ],
        ),
    ],
)
def test_grant_rule_problems(
    write_spec: WriteSpec, tmp_path: Path, name: str, old: str, new: str, messages: list[str]
) -> None:
    assert check(write_spec, tmp_path, edit(name, old, new)) == messages
