"""The checks of filters, wherever a spec writes them: every diagnostic a filter can earn,
pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import WriteSpec, check, edit


def roles_where(where: str) -> dict[str, str | None]:
    return edit("spec/roles.yaml", "{status: {in: [free, booked]}}", where)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "{statsu: {eq: free}}",
            "spec/roles.yaml:4:32: roles.public.Apartment.read.where.statsu: "
            "Apartment has no field 'statsu' (did you mean 'status'?)",
        ),
        (
            "{balcony: {gt: true}}",
            "spec/roles.yaml:4:42: roles.public.Apartment.read.where.balcony.gt: "
            "operator 'gt' does not fit bool field 'balcony' (it takes eq, ne, isNull)",
        ),
        (
            "{rooms: {contains: '2'}}",
            "spec/roles.yaml:4:40: roles.public.Apartment.read.where.rooms.contains: "
            "operator 'contains' does not fit int field 'rooms' "
            "(it takes eq, ne, in, nin, isNull, gt, gte, lt, lte)",
        ),
        (
            "{rooms: {eqq: 2}}",
            "spec/roles.yaml:4:40: roles.public.Apartment.read.where.rooms.eqq: "
            "unknown operator 'eqq' (did you mean 'eq'?)",
        ),
        (
            "{rooms: {eq: two}}",
            "spec/roles.yaml:4:44: roles.public.Apartment.read.where.rooms.eq: "
            "expected a whole number, got text 'two'",
        ),
        (
            "{status: {in: [free, gone]}}",
            "spec/roles.yaml:4:52: roles.public.Apartment.read.where.status.in[1]: "
            "'gone' is not one of: free, booked, sold",
        ),
        (
            "{status: {in: free}}",
            "spec/roles.yaml:4:45: roles.public.Apartment.read.where.status.in: "
            "'in' takes a list of values",
        ),
        (
            "{status: free}",
            "spec/roles.yaml:4:40: roles.public.Apartment.read.where.status: "
            "expected a condition such as {eq: …}, got 'free'",
        ),
        (
            "{or: {status: {eq: free}}}",
            "spec/roles.yaml:4:36: roles.public.Apartment.read.where.or: "
            "'or' takes a list of filters",
        ),
        (
            "{not: {statsu: {eq: free}}}",
            "spec/roles.yaml:4:38: roles.public.Apartment.read.where.not.statsu: "
            "Apartment has no field 'statsu' (did you mean 'status'?)",
        ),
        (
            "{complex: {slugg: {eq: a}}}",
            "spec/roles.yaml:4:42: roles.public.Apartment.read.where.complex.slugg: "
            "Complex has no field 'slugg' (did you mean 'slug'?)",
        ),
        (
            "{balcony: {isNull: 1}}",
            "spec/roles.yaml:4:50: roles.public.Apartment.read.where.balcony.isNull: "
            "isNull takes true or false",
        ),
    ],
)
def test_filter_problems(write_spec: WriteSpec, tmp_path: Path, where: str, message: str) -> None:
    assert check(write_spec, tmp_path, roles_where(where)) == [message]


def test_filters_through_refs_and_system_fields_pass(write_spec: WriteSpec, tmp_path: Path) -> None:
    where = (
        "{complex: {status: {eq: ready}}, id: {in: [1, 2]}, created_at: {gte: '2026-01-01T00:00:00Z'}, "
        "or: [{rooms: {lte: 2}}, {price: {lt: 1000000}}], not: {balcony: {eq: false}}}"
    )

    assert check(write_spec, tmp_path, roles_where(where)) == []


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        (
            "$user.idd",
            "spec/roles.yaml:8:41: roles.manager.Lead.read.where.manager.eq: unknown session "
            "variable '$user.idd' (did you mean 'id'?); auth.jwt.claims defines $user.id, "
            "$user.partner_id",
        ),
        (
            "$usr.id",
            "spec/roles.yaml:8:41: roles.manager.Lead.read.where.manager.eq: "
            "'$usr.id' is not a session variable; write $user.<name>",
        ),
    ],
)
def test_session_variable_in_a_role(
    write_spec: WriteSpec, tmp_path: Path, variable: str, message: str
) -> None:
    files = edit(
        "spec/roles.yaml", "{manager: {eq: $user.id}}", "{manager: {eq: " + variable + "}}"
    )

    assert check(write_spec, tmp_path, files) == [message]


def test_session_variable_outside_roles(write_spec: WriteSpec, tmp_path: Path) -> None:
    files = edit("spec/landings/complex.yaml", "{status: {ne: planned}}", "{name: {eq: $user.id}}")

    assert check(write_spec, tmp_path, files) == [
        "spec/landings/complex.yaml:2:48: landings.complex.for_each.where.name.eq: "
        "session variables like '$user.id' are only allowed in roles"
    ]
