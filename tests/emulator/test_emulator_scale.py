"""Scale: 2,000 jobs in flight and 1,000 concurrent clients polling, without errors."""

from __future__ import annotations

import asyncio
import resource
from typing import Dict, List

import aiohttp

from higgsfield_client.testing import Emulator

JOBS = 2000
CLIENTS = 1000
POLLS_PER_CLIENT = 2


def _enough_file_descriptors() -> None:
    # Client and server sockets live in this one process: two descriptors per client.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 3 * CLIENTS + 512
    if soft < wanted and (hard == resource.RLIM_INFINITY or hard >= wanted):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _load(emu: Emulator) -> Dict[str, int]:
    headers = {"Authorization": f"Key {emu.api_key}"}
    outcomes: Dict[str, int] = {}

    def count(what: str) -> None:
        outcomes[what] = outcomes.get(what, 0) + 1

    async with aiohttp.ClientSession(
        emu.base_url, headers=headers, connector=aiohttp.TCPConnector(limit=100)
    ) as session:

        async def create(index: int) -> str:
            async with session.post(
                "/higgsfield-ai/soul/standard", json={"prompt": f"job {index}"}
            ) as response:
                assert response.status == 200
                return str((await response.json())["request_id"])

        ids: List[str] = list(await asyncio.gather(*(create(i) for i in range(JOBS))))

    async def client(index: int) -> None:
        async with aiohttp.ClientSession(
            emu.base_url,
            headers=headers,
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=60),
        ) as own:
            for turn in range(POLLS_PER_CLIENT):
                request_id = ids[(index * 2 + turn) % JOBS]
                try:
                    async with own.get(f"/requests/{request_id}/status") as response:
                        payload = await response.json()
                        count(f"{response.status} {payload.get('status')}")
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    count(type(exc).__name__)

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return outcomes


def test_thousand_concurrent_pollers_over_two_thousand_jobs_in_flight() -> None:
    _enough_file_descriptors()
    with Emulator(queue_time=0.5, run_time=3600, concurrency_limit=50,
                  journal_limit=0) as emu:
        outcomes = asyncio.run(_load(emu))
        assert sum(outcomes.values()) == CLIENTS * POLLS_PER_CLIENT
        assert set(outcomes) <= {"200 queued", "200 in_progress"}, outcomes
        states = [info.status for info in emu.jobs()]
        assert len(states) == JOBS
        assert states.count("in_progress") <= 50
        assert emu.connection_count >= CLIENTS
