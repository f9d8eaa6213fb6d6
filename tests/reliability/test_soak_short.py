"""The short soak inside ``make test``: 40 jobs per transport, 20 at once, at a 20% fault rate
(``make soak`` runs 500 per transport, 200 at once). Every job ends as its prompt asks, and no
generation is created twice."""

from __future__ import annotations

import pytest

from bench.soak import soak


@pytest.mark.parametrize("transport", ["requests", "aiohttp", "trio", "trio-on-asyncio"])
def test_a_short_soak_under_faults_ends_every_job_right(transport: str) -> None:
    result = soak(
        transport,
        jobs=40,
        concurrency=20,
        fault_rate=0.2,
        seed=7,
        timeout=60.0,
        retry_after=0,
        slow_seconds=0.2,
        queue_time=0.05,
        run_time=0.1,
    )
    assert result.violations == []
    assert sum(result.outcomes.values()) == 40
    assert result.outcomes["failed"] == result.outcomes["nsfw"] == 4
    assert result.jobs_created == result.distinct_submits == 40
    assert sum(result.faults.values()) > 0  # the run really met faults...
    assert result.retries > 0  # ...and retried through them
