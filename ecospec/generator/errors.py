"""The exception tree and the diagnostics a spec check reports."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

KeyPath = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A place in a spec file; line and column count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec: where it is, the key path, and what is wrong."""

    location: Location | None
    path: KeyPath
    message: str
    severity: Severity = Severity.ERROR
    related: tuple[Location, ...] = field(default=())

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f"{self.dotted_path}: " if self.path else ""
        tag = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}{tag}{what}{self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.message) if loc else ("", 0, 0, self.message)

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "severity": self.severity.value,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
            "path": self.dotted_path,
            "message": self.message,
            "related": [str(r) for r in self.related],
        }


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix when a candidate is close to `word`, else ''."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f" (did you mean '{matches[0]}'?)" if matches else ""


class EcospecError(Exception):
    """The root of every error Ecospec reports to a user; the CLI prints it without a traceback."""

    exit_code = 1


class UsageError(EcospecError):
    """The command was called in a way that cannot work (a missing folder, a bad option)."""

    exit_code = 2


class SpecError(EcospecError):
    """The spec is invalid; carries every diagnostic found, not just the first."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR] or list(
            self.diagnostics
        )
        super().__init__("\n".join(str(d) for d in errors) or "invalid spec")

    def to_json(self) -> str:
        return json.dumps([d.to_json() for d in self.diagnostics], ensure_ascii=False, indent=2)


def relative_name(path: Path, root: Path) -> str:
    """The name a diagnostic shows for a file: relative to the project when possible."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


class MigrationError(EcospecError):
    """The database cannot follow the spec without losing data (or at all)."""


class BuildError(EcospecError):
    """A site or artefact could not be built."""
