"""What every section check shares: the spec, where its keys were written, and the diagnostics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ecospec.generator.blocks import BlockLibrary
from ecospec.generator.errors import Diagnostic, KeyPath, Location, Severity, did_you_mean
from ecospec.generator.model import Spec, field_type_of
from ecospec.generator.source import Index


@dataclass
class CheckContext:
    """The validated spec under check, and what the checks found so far.

    `dropped` holds the parts validation took out for errors already reported: a name among
    them still counts as known, so one mistake is not reported again wherever it is used."""

    spec: Spec
    index: Index
    dropped: set[KeyPath]
    root: str  # the spec folder: where a problem of no written place is reported
    blocks: BlockLibrary | None = None  # the landing blocks, when they are checked too
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(
        self,
        path: KeyPath,
        message: str,
        *,
        at_key: bool = False,
        related: Iterable[Location | None] = (),
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Report a problem at the value of `path` (or at its key), where it was written."""
        loc = self.index.key(path) if at_key else self.index.value(path)
        if loc is None:
            loc = Location(self.root, 1, 1)
        rel = tuple(r for r in related if r is not None)
        self.diagnostics.append(Diagnostic(loc, path, message, severity, rel))

    def warn(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        self.error(path, message, at_key=at_key, severity=Severity.WARNING)

    def unknown(self, path: KeyPath, what: str, name: str, pool: Iterable[str]) -> None:
        """Report a name that names nothing, with the closest of `pool` as a suggestion."""
        self.error(path, f"unknown {what} '{name}'{did_you_mean(name, pool)}")

    def known(self, section: str, name: str) -> bool:
        """Whether a name exists, counting members dropped for errors already reported."""
        members: dict[str, Any] = getattr(self.spec, section)
        return name in members or (section, name) in self.dropped

    def has_field(self, ename: str, fname: str) -> bool:
        """Whether an entity has a field, counting fields dropped for errors already reported."""
        entity = self.spec.entities.get(ename)
        if entity is None:
            return ("entities", ename) in self.dropped
        return field_type_of(entity, fname) is not None or (
            ("entities", ename, "fields", fname) in self.dropped
        )


# A section's checks: a function reading the context's spec and reporting into it.
SectionCheck = Callable[[CheckContext], None]
