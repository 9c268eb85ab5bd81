"""The checks of every spec section, run in order on one context.

A section's checks are one function of the `CheckContext` (`checks.context`), in the section's
own module; registering them is one line in `SECTION_CHECKS`."""

from __future__ import annotations

from collections.abc import Sequence

from ecospec.generator.blocks import BlockLibrary
from ecospec.generator.checks.context import CheckContext, SectionCheck
from ecospec.generator.checks.entities import check_entities
from ecospec.generator.checks.landings import check_landings
from ecospec.generator.checks.roles import check_roles
from ecospec.generator.checks.seed import check_seed
from ecospec.generator.checks.settings import check_settings
from ecospec.generator.checks.webhooks import check_webhooks
from ecospec.generator.errors import Diagnostic, KeyPath
from ecospec.generator.model import Spec
from ecospec.generator.source import Index

SECTION_CHECKS: tuple[SectionCheck, ...] = (
    check_settings,
    check_entities,
    check_roles,
    check_landings,
    check_seed,
    check_webhooks,
)


def check_spec(
    spec: Spec,
    index: Index,
    dropped: set[KeyPath],
    root: str,
    blocks: BlockLibrary | None = None,
    checks: Sequence[SectionCheck] = SECTION_CHECKS,
) -> list[Diagnostic]:
    """What a single model cannot see: references across the spec, filters, paths, seeds.
    `dropped` names the parts validation took out; `blocks`, when given, checks landing blocks;
    `checks` are the section checks to run, in order (default: every section's)."""
    ctx = CheckContext(spec, index, dropped, root, blocks)
    for check in checks:
        check(ctx)
    return ctx.diagnostics
