"""The capabilities' run-time halves, registered in one list.

Each module makes one `Capability` (ecospec.runtime.capability): its tables, the root fields it
answers, its subscribers on the bus and its HTTP routes. Adding one is a module beside these and a
line below (and, when it adds API fields, its compile-time half in ecospec.generator.capabilities);
the executor, the write path, the bus and the app find it here and name none of them."""

from __future__ import annotations

from ecospec.runtime.capabilities import audit, forms, sites, webhooks
from ecospec.runtime.capability import Capability

CAPABILITIES: tuple[Capability, ...] = (
    audit.CAPABILITY,
    sites.CAPABILITY,
    webhooks.CAPABILITY,
    forms.CAPABILITY,
)
