"""The live sites: when a record changes, the pages that show it are rebuilt (the sites subscriber,
ecospec.runtime.livesites). Its deliveries wait while the pages are kept by someone else (the dev
server builds its own); `ecospec serve` catches up with them."""

from __future__ import annotations

from collections.abc import Sequence

from ecospec.runtime.capability import Capability, Parts
from ecospec.runtime.livesites import SitesSubscriber
from ecospec.runtime.types import Subscriber


def _subscribers(parts: Parts) -> Sequence[Subscriber]:
    if not parts.spec.landings:
        return []
    subscriber = SitesSubscriber(
        parts.spec,
        parts.catalog,
        parts.engine,
        parts.source,
        parts.project,
        parts.sites,
    )
    subscriber.held = not parts.live_sites
    return [subscriber]


CAPABILITY = Capability("sites", subscribers=_subscribers)
