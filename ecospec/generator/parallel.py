"""Rendering a build's pages on several cores: forked processes that inherit the planned pages
and the prefetched data, render a share each and send back what the build writes.

A forked process has no database: a page that needs a read of its own (a query nothing
prefetched), or that fails, is sent back unrendered, and the build renders it itself, as it
would have without helpers, so errors read the same either way. Used by `ecospec build` only:
the dev server and the live sites run threads beside the event loop, and forking those is
not safe."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ecospec.generator.sitedata import Reads

if TYPE_CHECKING:
    from ecospec.generator.build import Page, SiteBuilder

T = TypeVar("T")

# Below this many pages to render, forking costs more than it saves.
MIN_PAGES = 400
CHUNKS_PER_WORKER = 4


@dataclass
class Rendered:
    """A page a helper rendered: what `SiteBuilder.render` leaves on the page."""

    changed: bool  # False: its inputs are as they were, the file on disk stands
    html: bytes
    inputs: str
    scripts: list[str]
    reads: Reads

    def apply(self, page: Page) -> bool:
        page.html, page.inputs, page.scripts, page.reads = (
            self.html,
            self.inputs,
            self.scripts,
            self.reads,
        )
        return self.changed


class _Elsewhere(Exception):
    """A read a forked helper cannot make: the page is rendered by the build itself."""


class _NoSource:
    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        raise _Elsewhere


# What the helpers inherit: set just before they are forked, cleared after.
_JOB: tuple[SiteBuilder, list[tuple[Page, str | None]]] | None = None


def default_workers() -> int:
    """As many helpers as the machine has cores for this process, where forking exists."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


async def render_ahead(
    builder: SiteBuilder,
    todo: list[tuple[Page, str | None]],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
    min_pages: int = MIN_PAGES,
    arrived: Callable[[dict[int, Rendered]], None] | None = None,
) -> dict[int, Rendered]:
    """Render `todo` (pages with their previous inputs) in `workers` forked processes, when
    there are at least `min_pages`; the results by index into `todo`, for the pages a helper
    could render. `arrived` is given each share as it comes back, while the others render."""
    global _JOB
    if workers < 2 or len(todo) < max(min_pages, workers) or _JOB is not None:
        return {}
    size = max(1, -(-len(todo) // (workers * CHUNKS_PER_WORKER)))
    _JOB = (builder, todo)
    done: dict[int, Rendered] = {}
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [
                asyncio.wrap_future(pool.submit(_render_chunk, start, min(start + size, len(todo))))
                for start in range(0, len(todo), size)
            ]
            finished = 0
            for future in asyncio.as_completed(futures):
                results = await future
                done.update(results)
                if arrived is not None:
                    arrived(results)
                finished += size
                if progress:
                    progress(min(finished, len(todo)), len(todo))
    finally:
        _JOB = None
    return done


def _render_chunk(start: int, stop: int) -> dict[int, Rendered]:
    """In a helper: render `todo[start:stop]`; the pages it could render."""
    assert _JOB is not None, "a helper runs only forked from render_ahead"
    builder, todo = _JOB
    builder.data.source = _NoSource()
    found: dict[int, Rendered] = {}
    for index in range(start, stop):
        page, previous_inputs = todo[index]
        try:
            changed = _run_now(builder.render(page, previous_inputs))
        except Exception:  # the build renders it again and reports what went wrong
            continue
        found[index] = Rendered(changed, page.html, page.inputs, page.scripts, page.reads)
    return found


def _run_now(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (all its data is at hand) to its end, without an event
    loop; one that would wait is a read a helper cannot make."""
    try:
        work.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    work.close()
    raise _Elsewhere
