"""generator.parallel on its own: how a helper runs a page's coroutine without an event loop,
and which reads it leaves to the build. Whole builds with several processes are in
test_build.py (the same bytes, the same failures)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from conftest import ecospec_executable

from ecospec.generator.parallel import _Elsewhere, _NoSource, _run_now, default_workers


async def _answer() -> bool:
    await asyncio.sleep(0)  # a bare yield to no loop would be a read: not this one
    return True


def test_a_coroutine_that_never_waits_runs_to_its_end() -> None:
    async def at_hand() -> bool:
        return True

    assert _run_now(at_hand()) is True


def test_a_coroutine_that_would_wait_is_left_to_the_build() -> None:
    with pytest.raises(_Elsewhere):
        _run_now(_answer())


def test_a_helper_has_no_data_source() -> None:
    with pytest.raises(_Elsewhere):
        _run_now(_NoSource().execute("{ complexes { id } }", {}))


def test_there_is_a_helper_per_core_at_least_one() -> None:
    assert default_workers() >= 1


@pytest.mark.parametrize("jobs", ["0", "two"])
def test_jobs_must_be_a_positive_whole_number(jobs: str) -> None:
    done = subprocess.run(
        [str(ecospec_executable()), "build", "--jobs", jobs],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--jobs" in done.stderr
