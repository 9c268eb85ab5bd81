"""Checks of the ecosystem's settings: its name and who is asking (auth)."""

from __future__ import annotations

import re

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.errors import Diagnostic, Location
from ecospec.generator.model import NAME_RE

SLUG_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def check_settings(ctx: CheckContext) -> None:
    spec = ctx.spec
    if spec.ecosystem is None:
        ctx.diagnostics.append(
            Diagnostic(
                Location(ctx.root, 1, 1),
                ("ecosystem",),
                "no ecosystem name: one file (spec/ecosystem.yaml) needs 'ecosystem: <name>'",
            )
        )
    elif not SLUG_NAME_RE.match(spec.ecosystem):
        ctx.error(
            ("ecosystem",),
            f"'{spec.ecosystem}' is not a name of lowercase latin letters, digits and dashes",
        )
    anonymous = spec.auth.anonymous_role
    if not ctx.known("roles", anonymous):
        ctx.unknown(("auth", "anonymous_role"), "role", anonymous, spec.roles)
    for key in spec.auth.jwt.claims:
        if not NAME_RE.match(key):
            ctx.error(
                ("auth", "jwt", "claims", key), f"'{key}' is not a variable name", at_key=True
            )
