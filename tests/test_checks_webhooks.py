"""The checks of the webhooks section: every diagnostic a webhook can earn, pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
from specs import WriteSpec, check, load

HOOK = """\
webhooks:
  crm:
    url: https://crm.example/hooks
    secret_env: CRM_SECRET
    events: {Lead: [create, update]}
    schedule: [100ms, 5s, 1.5m, 2h, 1d]
"""


def hooks(old: str = "", new: str = "") -> dict[str, str | None]:
    """The base project with spec/webhooks.yaml, `old` replaced by `new` in it."""
    if old:
        assert HOOK.count(old) == 1, f"{old!r} is not once in the webhook"
    return {"spec/webhooks.yaml": HOOK.replace(old, new) if old else HOOK}


def test_a_valid_webhook_loads_without_diagnostics(write_spec: WriteSpec, tmp_path: Path) -> None:
    result = load(write_spec, tmp_path, hooks())
    assert result.diagnostics == []
    assert result.spec is not None
    hook = result.spec.webhooks["crm"]
    assert [str(wait) for wait in hook.schedule] == ["100ms", "5s", "1.5m", "2h", "1d"]
    assert [wait.seconds for wait in hook.schedule] == [0.1, 5.0, 90.0, 7200.0, 86400.0]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  crm:",
            "  Crm:",
            "spec/webhooks.yaml:2:3: webhooks.Crm: "
            "webhook names are lowercase latin with underscores, not 'Crm'",
        ),
        (
            "https://crm.example/hooks",
            "ftp://crm.example/hooks",
            "spec/webhooks.yaml:3:10: webhooks.crm.url: "
            "'ftp://crm.example/hooks' is not an http or https address",
        ),
        (
            "{Lead: [create, update]}",
            "{Leed: [create]}",
            "spec/webhooks.yaml:5:14: webhooks.crm.events.Leed: "
            "unknown entity 'Leed' (did you mean 'Lead'?)",
        ),
        (
            "{Lead: [create, update]}",
            "{}",
            "spec/webhooks.yaml:5:13: webhooks.crm.events: "
            "a webhook needs at least one entity to send",
        ),
        (
            "1.5m",
            "1.5 min",
            "spec/webhooks.yaml:6:27: webhooks.crm.schedule[2]: "
            "'1.5 min' is not a duration such as 30s, 5m or 2h",
        ),
        (
            "[100ms, 5s, 1.5m, 2h, 1d]",
            "[5x, 5s, 2 weeks]",
            "spec/webhooks.yaml:6:16: webhooks.crm.schedule[0]: "
            "'5x' is not a duration such as 30s, 5m or 2h",
        ),
        (
            "events: {Lead: [create, update]}",
            "events: {Lead: [create, upsert]}",
            "spec/webhooks.yaml:5:29: webhooks.crm.events.Lead[1]: "
            "'upsert' is not one of: 'create', 'update' or 'delete'",
        ),
    ],
)
def test_webhook_problems(
    write_spec: WriteSpec, tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert message in check(write_spec, tmp_path, hooks(old, new))


def test_every_bad_wait_of_a_schedule_is_reported(write_spec: WriteSpec, tmp_path: Path) -> None:
    found = check(write_spec, tmp_path, hooks("[100ms, 5s, 1.5m, 2h, 1d]", "[5x, 5s, 2 weeks]"))
    assert found == [
        "spec/webhooks.yaml:6:16: webhooks.crm.schedule[0]: "
        "'5x' is not a duration such as 30s, 5m or 2h",
        "spec/webhooks.yaml:6:24: webhooks.crm.schedule[2]: "
        "'2 weeks' is not a duration such as 30s, 5m or 2h",
    ]


def test_a_bad_wait_hides_no_other_problem_of_its_webhook(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    text = (
        HOOK.replace("https://crm.example/hooks", "crm.example")
        .replace("{Lead: [create, update]}", "{Leed: [create]}")
        .replace("1.5m", "soon")
    )
    assert check(write_spec, tmp_path, {"spec/webhooks.yaml": text}) == [
        "spec/webhooks.yaml:3:10: webhooks.crm.url: 'crm.example' is not an http or https address",
        "spec/webhooks.yaml:5:14: webhooks.crm.events.Leed: "
        "unknown entity 'Leed' (did you mean 'Lead'?)",
        "spec/webhooks.yaml:6:27: webhooks.crm.schedule[2]: "
        "'soon' is not a duration such as 30s, 5m or 2h",
    ]


def test_a_wait_that_is_not_text_is_reported_with_its_kind(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    found = check(write_spec, tmp_path, hooks("1.5m", "90"))
    assert found == [
        "spec/webhooks.yaml:6:27: webhooks.crm.schedule[2]: expected text, got a number"
    ]
    found = check(write_spec, tmp_path, hooks("[100ms, 5s, 1.5m, 2h, 1d]", "[5s, [1m]]"))
    assert found == ["spec/webhooks.yaml:6:20: webhooks.crm.schedule[1]: expected text, got a list"]


def test_a_bad_wait_is_reported_beside_the_problems_of_validation(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    text = HOOK.replace("    url: https://crm.example/hooks\n", "").replace("1.5m", "soon")
    assert check(write_spec, tmp_path, {"spec/webhooks.yaml": text}) == [
        "spec/webhooks.yaml:2:3: webhooks.crm: missing required key 'url'",
        "spec/webhooks.yaml:5:27: webhooks.crm.schedule[2]: "
        "'soon' is not a duration such as 30s, 5m or 2h",
    ]
