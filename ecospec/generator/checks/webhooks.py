"""Checks of the webhooks: names, addresses and the entities they send (their schedules are
durations, parsed and checked as the spec is validated)."""

from __future__ import annotations

import re

from ecospec.generator.checks.context import CheckContext
from ecospec.generator.errors import KeyPath, did_you_mean
from ecospec.generator.model import NAME_RE

HTTP_URL_RE = re.compile(r"^https?://[^\s/]+")


def check_webhooks(ctx: CheckContext) -> None:
    for name, hook in ctx.spec.webhooks.items():
        path: KeyPath = ("webhooks", name)
        if not NAME_RE.match(name):
            ctx.error(
                path,
                f"webhook names are lowercase latin with underscores, not '{name}'",
                at_key=True,
            )
        if not HTTP_URL_RE.match(hook.url):
            ctx.error((*path, "url"), f"'{hook.url}' is not an http or https address")
        for entity in hook.events:
            if not ctx.known("entities", entity):
                ctx.error(
                    (*path, "events", entity),
                    f"unknown entity '{entity}'{did_you_mean(entity, ctx.spec.entities)}",
                    at_key=True,
                )
        if not hook.events:
            ctx.error((*path, "events"), "a webhook needs at least one entity to send")
