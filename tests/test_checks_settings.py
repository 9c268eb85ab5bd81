"""The checks of the ecosystem's settings: every diagnostic its name and auth can earn, pinned."""

from __future__ import annotations

from pathlib import Path

from specs import WriteSpec, check, edit


def test_missing_ecosystem_name(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/ecosystem.yaml", "ecosystem: north-quarter\n", "")

    assert check(write_spec, tmp_path, files) == [
        "spec:1:1: ecosystem: no ecosystem name: one file (spec/ecosystem.yaml) needs "
        "'ecosystem: <name>'"
    ]


def test_ecosystem_name_that_is_not_a_slug(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/ecosystem.yaml", "ecosystem: north-quarter", "ecosystem: North Quarter")

    assert check(write_spec, tmp_path, files) == [
        "spec/ecosystem.yaml:1:12: ecosystem: "
        "'North Quarter' is not a name of lowercase latin letters, digits and dashes"
    ]


def test_unknown_role_in_anonymous_role(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/ecosystem.yaml", "anonymous_role: public", "anonymous_role: pubic")

    assert check(write_spec, tmp_path, files) == [
        "spec/ecosystem.yaml:5:19: auth.anonymous_role: unknown role 'pubic' (did you mean 'public'?)"
    ]


def test_claims_are_variable_names(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit(
        "spec/ecosystem.yaml", "partner_id: partner_id}", "partner_id: partner_id, 2fa: amr}"
    )

    assert check(write_spec, tmp_path, files) == [
        "spec/ecosystem.yaml:7:47: auth.jwt.claims.2fa: '2fa' is not a variable name"
    ]
