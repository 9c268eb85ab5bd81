"""The capabilities' compile-time halves, in the order their root fields appear in the API.

A capability (the audit log, webhook deliveries, …) adds root fields to the GraphQL schema here,
and answers them at run time through its half in ecospec.runtime.capabilities, under the same
names. Adding one is a module beside these and a line below; nothing else names it."""

from __future__ import annotations

from ecospec.generator.capabilities import audit, webhooks
from ecospec.generator.types import ApiPart

API_PARTS: tuple[ApiPart, ...] = (audit.API, webhooks.API)
