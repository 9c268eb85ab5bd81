"""A migration plan: its changes, each with where in the spec it comes from, and told in short."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecospec.generator.errors import Location

PAST = {"create": "created", "drop": "dropped", "add": "added", "alter": "altered"}


@dataclass(frozen=True)
class Change:
    """One step of a migration, with where in the spec it comes from, and how a summary counts
    it: what it changes and what it does to it (`("index", "created")`), and how many."""

    description: str
    location: Location | None = None
    data_loss: bool = False
    blocked: str | None = None  # why it cannot be applied even with --allow-data-loss
    kind: tuple[str, str] = field(kw_only=True)
    count: int = field(default=1, kw_only=True)

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        tail = f" — {self.blocked}" if self.blocked else ""
        return f"{where}{self.description}{tail}"


@dataclass
class MigrationPlan:
    changes: list[Change] = field(default_factory=list)
    backup: Path | None = None

    @property
    def data_loss(self) -> list[Change]:
        return [c for c in self.changes if c.data_loss]

    @property
    def blocked(self) -> list[Change]:
        return [c for c in self.changes if c.blocked]

    @property
    def additive(self) -> bool:
        return not self.data_loss and not self.blocked


def op_change(item: Any, location: Location | None) -> Change:
    """A change Alembic plans as it is: "create index ix_…", counted as an index created."""
    name = type(item).__name__.removesuffix("Op")
    verb, _, what = (
        "".join(f" {ch.lower()}" if ch.isupper() else ch for ch in name).strip().partition(" ")
    )
    target = getattr(item, "index_name", None) or getattr(item, "constraint_name", None) or ""
    done = PAST.get(verb, f"{verb}ed")
    return Change(f"{verb} {what} {target}".strip(), location, kind=(what or "item", done))


def summary(changes: Sequence[Change]) -> str:
    """How many of each kind, in the order they come: "16 tables and 46 indexes created; 1 column
    added"."""
    counts: dict[str, dict[str, int]] = {}
    for change in changes:
        what, done = change.kind
        tally = counts.setdefault(done, {})
        tally[what] = tally.get(what, 0) + change.count
    parts = []
    for done, tally in counts.items():
        items = [f"{n} {what if n == 1 else _plural(what)}" for what, n in tally.items()]
        listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        parts.append(f"{listed} {done}")
    return "; ".join(parts)


def _plural(word: str) -> str:
    return f"{word}es" if word.endswith(("x", "s", "sh", "ch")) else f"{word}s"
