"""The manifest's index (generator.manifest): the pages a changed record touches, found through
the index, are exactly those a look at every page finds; an index carried over to the next
manifest is the index made afresh; the manifest as written reads back the same."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from dbs import demo_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from ecospec.generator.manifest import (
    MANIFEST,
    PARTS,
    Changed,
    PageIndex,
    frozen,
    page_index,
    read_manifest,
    write_manifest,
)
from ecospec.generator.matching import matches, precedes
from ecospec.generator.model import Spec

spec = functools.cache(demo_spec)

# -- what a change touches, the long way -------------------------------------------------------


def every_page(spec: Spec, manifest: dict[str, Any], changes: list[Changed]) -> set[str]:
    """Each page of the manifest looked at in turn: the rule `PageIndex.touched` keeps to."""
    found: set[str] = set()
    for part in PARTS:
        for path, entry in (manifest.get(part) or {}).items():
            reads = entry["reads"]
            for change in changes:
                if change.record_id in reads["records"].get(change.entity, ()):
                    found.add(path)
                for read in reads["filters"]:
                    if read["entity"] != change.entity:
                        continue
                    last = read.get("last")
                    for row in (change.new,) if last is not None else (change.old, change.new):
                        if (
                            row is not None
                            and matches(spec, change.entity, read["where"], row) is not False
                            and (
                                last is None
                                or precedes(spec, change.entity, row, read["order_by"], last)
                                is not False
                            )
                        ):
                            found.add(path)
    return found


# -- generated manifests and changes -------------------------------------------------------------

COMPLEXES = ["1", "2", "3"]
STATUSES = ["free", "booked", "sold"]

conditions = st.one_of(
    st.sampled_from(COMPLEXES).map(lambda c: {"complex": {"eq": c}}),
    st.sampled_from(COMPLEXES).map(lambda c: {"building": {"eq": c}}),
    st.sampled_from(STATUSES).map(lambda s: {"status": {"eq": s}}),
    st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2).map(
        lambda s: {"status": {"in": s}}
    ),
    st.integers(1, 9).map(lambda n: {"price": {"gte": str(n * 1_000_000)}}),
    st.integers(1, 30).map(lambda n: {"id": {"ne": str(n)}}),
    st.integers(1, 30).map(lambda n: {"id": {"eq": str(n)}}),
    st.sampled_from(COMPLEXES).map(lambda c: {"complex": {"ne": c}}),
)


@st.composite
def wheres(draw: st.DrawFn) -> dict[str, Any]:
    where: dict[str, Any] = {}
    for cond in draw(st.lists(conditions, max_size=3)):
        where.update(cond)
    if draw(st.booleans()):
        where["or"] = draw(st.lists(conditions, min_size=1, max_size=2))
    return where


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    read: dict[str, Any] = {"entity": draw(st.sampled_from(["Apartment", "Complex"]))}
    read["where"] = draw(wheres())
    if read["entity"] == "Apartment" and draw(st.booleans()):
        read["order_by"] = ["price"]
        read["last"] = [str(draw(st.integers(1, 9)) * 1_000_000)]
    return read


@st.composite
def entries(draw: st.DrawFn, landing: str, item: int) -> dict[str, Any]:
    return {
        "file": f"{landing}/{item}/index.html",
        "landing": landing,
        "item": str(item),
        "inputs": draw(st.sampled_from(["a", "b"])),
        "reads": {
            "entities": ["Apartment"],
            "records": {
                "Apartment": sorted(
                    {str(i) for i in draw(st.lists(st.integers(1, 30), max_size=4))}, key=int
                ),
            },
            "queries": [],
            "filters": draw(st.lists(filters(), max_size=3)),
        },
    }


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    manifest: dict[str, Any] = {"pages": {}, "failed": {}, "files": []}
    for landing in ("apartment", "complex"):
        for item in draw(st.sets(st.integers(1, 12), max_size=8)):
            part = "failed" if draw(st.integers(0, 5)) == 0 else "pages"
            manifest[part][f"/{landing}/{item}/"] = draw(entries(landing, item))
    read_back: dict[str, Any] = json.loads(json.dumps(manifest))  # as from the file
    return read_back


@st.composite
def rows(draw: st.DrawFn, record_id: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": record_id,
        "complex": int(draw(st.sampled_from(COMPLEXES))),
        "building": int(draw(st.sampled_from(COMPLEXES))),
        "status": draw(st.sampled_from(STATUSES)),
        "price": Decimal(draw(st.integers(1, 10)) * 1_000_000),
    }
    for name in draw(st.sets(st.sampled_from(["complex", "status", "price"]), max_size=1)):
        del row[name]  # a row that does not say (an event that changed fewer fields)
    return row


@st.composite
def changes(draw: st.DrawFn) -> Changed:
    record_id = draw(st.integers(1, 30))
    kind = draw(st.sampled_from(["create", "update", "delete"]))
    old = None if kind == "create" else draw(rows(record_id))
    new = None if kind == "delete" else draw(rows(record_id))
    return Changed("Apartment", str(record_id), old, new)


@settings(max_examples=300, deadline=None)
@given(manifests(), st.lists(changes(), min_size=1, max_size=3))
def test_the_index_finds_what_a_look_at_every_page_finds(
    manifest: dict[str, Any], found: list[Changed]
) -> None:
    index = PageIndex.of(spec(), manifest)
    assert index.touched(spec(), found) == every_page(spec(), manifest, found)


def plain(index: PageIndex) -> dict[str, Any]:
    """What an index holds, without the empty containers a removal may leave."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            kept = {k: clean(v) for k, v in value.items()}
            return {k: v for k, v in kept.items() if v not in ({}, set())}
        return value

    return {
        "entries": index.entries,
        "records": clean(index.records),
        "anchored": clean(index.anchored),
        "loose": clean(index.loose),
        "items": clean(index.items),
        "landings": clean(index.landings),
    }


@settings(max_examples=200, deadline=None)
@given(manifests(), manifests(), st.data())
def test_an_index_carried_over_is_the_index_made_afresh(
    before: dict[str, Any], other: dict[str, Any], data: st.DataObject
) -> None:
    # the next manifest keeps some entries (the very same objects), drops some and adds some
    after: dict[str, Any] = {"files": []}
    for part in PARTS:
        kept = {
            path: entry
            for path, entry in before[part].items()
            if data.draw(st.booleans(), label=f"keep {path}")
        }
        after[part] = {**other[part], **kept}
    index = PageIndex.of(spec(), before)
    index.follow(spec(), after)
    assert plain(index) == plain(PageIndex.of(spec(), after))


def test_a_written_manifest_reads_back_the_same_and_keeps_its_index(tmp_path: Path) -> None:
    entry = {
        "file": "apartments/a-1/index.html",
        "landing": "apartment",
        "item": "1",
        "inputs": "x",
        "reads": frozen(
            {
                "entities": ["Apartment"],
                "records": {"Apartment": ["1"]},
                "queries": ["Apartment where {…}"],
                "filters": [{"entity": "Apartment", "where": {"complex": {"eq": "3"}}}],
            }
        ),
    }
    first = {"pages": {"/apartments/a-1/": entry}, "files": ["apartments/a-1/index.html"]}
    write_manifest(tmp_path, first, spec())
    text = (tmp_path / MANIFEST).read_text(encoding="utf-8")
    # sorted keys, no spaces: the same bytes for the same manifest
    assert (
        text == json.dumps(first, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
    )
    assert read_manifest(tmp_path) is first  # kept in memory, not read again
    index = page_index(spec(), tmp_path)
    change = Changed("Apartment", "9", None, {"id": 9, "complex": 3})
    assert index.touched(spec(), [change]) == {"/apartments/a-1/"}

    # the next manifest: the index is carried over, and answers for the new pages
    other = {**entry, "file": "apartments/a-2/index.html", "item": "2"}
    other["reads"] = frozen({**entry["reads"], "filters": [], "records": {"Apartment": ["2"]}})
    second = {"pages": {"/apartments/a-2/": other}, "files": ["apartments/a-2/index.html"]}
    write_manifest(tmp_path, second, spec())
    assert page_index(spec(), tmp_path) is index
    assert index.touched(spec(), [change]) == set()
    assert index.touched(spec(), [Changed("Apartment", "2", None, None)]) == {"/apartments/a-2/"}

    # written by another process: read again, with tuples where the file has lists
    (tmp_path / MANIFEST).write_text(json.dumps(first), encoding="utf-8")
    again = read_manifest(tmp_path)
    assert again == json.loads(json.dumps(first)) | {"pages": {"/apartments/a-1/": entry}}
    assert page_index(spec(), tmp_path) is not index
