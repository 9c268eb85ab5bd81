"""The build's manifest: what every page read, kept beside the built site, and an index over it
that finds the pages a changed record can touch without going through every page.

A live site reads its manifest after every change, and it is large (a few KB a page), so the
manifest this process read or wrote last is kept in memory with its index, and the index is
carried over to the next manifest page by page: the work a change costs grows with the pages it
touches, not with the site."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ecospec.generator.matching import matches, precedes
from ecospec.generator.model import Spec

MANIFEST = ".ecospec-manifest.json"
# the two parts of a manifest that hold pages: those built, and those that failed
PARTS = ("pages", "failed")

# (part, page path, position of the filter in the entry's reads)
Slot = tuple[str, str, int]


@dataclass
class Changed:
    """A record as it was and as it is now (spec field names, refs as ids); None where it did
    not exist."""

    entity: str
    record_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass
class PageIndex:
    """Where each record and each filter of a manifest's pages is, by entity.

    A filter with an `eq` on a ref (`complex: {eq: "3"}`, the usual shape of "the apartments of
    this complex") is filed under that ref's value, so a change looks only at the filters its
    record's values can pass; the others are looked at for every change to their entity."""

    entries: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {part: {} for part in PARTS}
    )
    records: dict[str, dict[str, set[tuple[str, str]]]] = field(default_factory=dict)
    # (entity, ref field) -> the ref's id -> filters
    anchored: dict[tuple[str, str], dict[str, set[Slot]]] = field(default_factory=dict)
    loose: dict[str, set[Slot]] = field(default_factory=dict)  # filters without such an eq
    # (landing, record id) -> the record's page: (part, path)
    items: dict[tuple[Any, str], set[tuple[str, str]]] = field(default_factory=dict)
    # part -> landing -> page path -> entry
    landings: dict[str, dict[Any, dict[str, dict[str, Any]]]] = field(
        default_factory=lambda: {part: {} for part in PARTS}
    )

    @classmethod
    def of(cls, spec: Spec, manifest: dict[str, Any]) -> PageIndex:
        index = cls()
        for part in PARTS:
            for path, entry in _part(manifest, part).items():
                index._add(spec, part, path, entry)
        return index

    def follow(self, spec: Spec, manifest: dict[str, Any]) -> None:
        """Make this the index of `manifest`, a manifest made from the indexed one: entries that
        are the very same objects are left as they are, the others filed again."""
        for part in PARTS:
            now = _part(manifest, part)
            had = self.entries[part]
            for path in [p for p, entry in had.items() if now.get(p) is not entry]:
                self._remove(spec, part, path)
            for path, entry in now.items():
                if path not in had:
                    self._add(spec, part, path, entry)

    def pages_of(self, landing: str, part: str = "pages") -> dict[str, dict[str, Any]]:
        """The entries of a landing's pages (or of those that failed), by path: not to be
        changed."""
        return self.landings[part].get(landing, {})

    def touched(self, spec: Spec, changes: Iterable[Changed]) -> set[str]:
        """The paths of the pages that read a changed record, or whose filters its row passes as
        it was or as it is now (for a list cut short by its limit, as it is now and only if it
        sorts before the list's last record)."""
        found: set[str] = set()
        for change in changes:
            for _, path in self.records.get(change.entity, {}).get(change.record_id, ()):
                found.add(path)
            for row, was in ((change.old, True), (change.new, False)):
                if row is None:
                    continue
                for part, path, position in self._filters_for(change.entity, row):
                    if path in found:
                        continue
                    read = self.entries[part][path]["reads"]["filters"][position]
                    last = read.get("last")
                    if was and last is not None:
                        # the list did not show the record (else it would be in its records):
                        # as it was, it was not in it
                        continue
                    if matches(spec, change.entity, read.get("where"), row) is False:
                        continue
                    if (
                        last is not None
                        and precedes(spec, change.entity, row, read.get("order_by") or [], last)
                        is False
                    ):
                        continue
                    found.add(path)
        return found

    # filing -------------------------------------------------------------------------------------

    def _filters_for(self, entity: str, row: dict[str, Any]) -> Iterator[Slot]:
        yield from self.loose.get(entity, ())
        for (on, name), by_value in self.anchored.items():
            if on != entity:
                continue
            if name not in row and name != "id":
                # a row without the field: its filters cannot be told apart
                for slots in by_value.values():
                    yield from slots
                continue
            value = row.get(name)
            if isinstance(value, dict):
                value = value.get("id")
            if value is not None:
                yield from by_value.get(str(value), ())

    def _add(self, spec: Spec, part: str, path: str, entry: Any) -> None:
        if not isinstance(entry, dict):
            return
        self.entries[part][path] = entry
        self.landings[part].setdefault(entry.get("landing"), {})[path] = entry
        for holders, key, member in self._places(spec, part, path, entry):
            holders.setdefault(key, set()).add(member)

    def _remove(self, spec: Spec, part: str, path: str) -> None:
        entry = self.entries[part].pop(path)
        self.landings[part].get(entry.get("landing"), {}).pop(path, None)
        for holders, key, member in self._places(spec, part, path, entry):
            found = holders.get(key)
            if found is not None:
                found.discard(member)
                if not found:
                    del holders[key]

    def _places(
        self, spec: Spec, part: str, path: str, entry: dict[str, Any]
    ) -> Iterator[tuple[dict[Any, set[Any]], Any, Any]]:
        """Where an entry is filed: (the mapping, its key, what is filed there)."""
        yield self.items, (entry.get("landing"), str(entry.get("item"))), (part, path)
        reads = entry.get("reads") or {}
        for entity, ids in (reads.get("records") or {}).items():
            by_id = self.records.setdefault(entity, {})
            for rid in ids:
                yield by_id, str(rid), (part, path)
        for position, read in enumerate(reads.get("filters") or []):
            slot = (part, path, position)
            anchor = _anchor(spec, read)
            if anchor is None:
                yield self.loose, str(read.get("entity")), slot
            else:
                key, value = anchor
                yield self.anchored.setdefault(key, {}), value, slot


def _anchor(spec: Spec, read: dict[str, Any]) -> tuple[tuple[str, str], str] | None:
    """The first `eq` on a ref (or on id) at the top of a filter, as ((entity, field), id): a
    record passes the filter only if that field holds that id."""
    entity = str(read.get("entity"))
    where = read.get("where")
    known = spec.entities.get(entity)
    if not isinstance(where, dict) or known is None:
        return None
    for name, cond in sorted(where.items()):
        if name in ("and", "or", "not") or not isinstance(cond, dict):
            continue
        is_ref = name == "id" or (name in known.fields and known.fields[name].type == "ref")
        if is_ref and set(cond) == {"eq"} and cond["eq"] is not None:
            return (entity, name), str(cond["eq"])
    return None


def _part(manifest: dict[str, Any], part: str) -> dict[str, Any]:
    found = manifest.get(part)
    return found if isinstance(found, dict) else {}


# -- reading and writing ------------------------------------------------------------------------


@dataclass
class _Kept:
    stamp: tuple[int, int, int]  # the file's inode, modification time and size
    manifest: dict[str, Any]  # never changed in place: a build makes a new one
    index: PageIndex | None = None
    indexed_for: Spec | None = None


_KEPT: dict[str, _Kept] = {}
_KEEP = 2  # `ecospec dev` builds into two folders by turns


def frozen(value: Any) -> Any:
    """A manifest entry with tuples for lists. The same JSON, but the garbage collector stops
    looking into a tuple of strings, and a live site keeps a few hundred thousand of them: with
    lists, each of its full collections went through them all (about 0.3 s at 10,000 pages)."""
    if isinstance(value, dict):
        return {k: frozen(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    return value


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of the site in `out`; empty when there is none (or it cannot be read)."""
    kept = _current(out / MANIFEST)
    if kept is not None:
        return kept.manifest
    path = out / MANIFEST
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    for part in PARTS:
        if isinstance(data.get(part), dict):
            data[part] = {p: frozen(entry) for p, entry in data[part].items()}
    _remember(path, data)
    return data


def page_index(spec: Spec, out: Path) -> PageIndex:
    """The index of the manifest in `out`, made once per manifest and spec."""
    manifest = read_manifest(out)
    kept = _current(out / MANIFEST)
    if kept is None:  # no manifest, or one that could not be kept
        return PageIndex.of(spec, manifest)
    if kept.index is None or kept.indexed_for is not spec:
        kept.index, kept.indexed_for = PageIndex.of(spec, manifest), spec
    return kept.index


def write_manifest(out: Path, manifest: dict[str, Any], spec: Spec) -> None:
    """Write the manifest at once (a new file put in place)."""
    path = out / MANIFEST
    before = _current(path)
    data = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS) + b"\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    kept = _remember(path, manifest)
    if kept is not None and before is not None and before.index is not None:
        if before.indexed_for is spec:
            before.index.follow(spec, manifest)
            kept.index, kept.indexed_for = before.index, spec
        before.index = None


def _current(path: Path) -> _Kept | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    kept = _KEPT.get(str(path.resolve()))
    if kept is not None and kept.stamp == (stat.st_ino, stat.st_mtime_ns, stat.st_size):
        return kept
    return None


def _remember(path: Path, data: dict[str, Any]) -> _Kept | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = str(path.resolve())
    _KEPT.pop(key, None)
    kept = _KEPT[key] = _Kept((stat.st_ino, stat.st_mtime_ns, stat.st_size), data)
    while len(_KEPT) > _KEEP:
        del _KEPT[next(iter(_KEPT))]
    return kept
