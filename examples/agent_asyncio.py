"""A conversation with the Higgsfield agent under asyncio: a turn, a question answered, media.

``on_question`` may be a coroutine function (awaited) or a plain function: a plain one runs in a
worker thread, so a blocking answer (``input()``, a database) never stalls the event loop.
Credentials come from HF_KEY, the API root from HIGGSFIELD_BASE_URL. Try it with the emulator:

    higgsfield-sansio emulator --port 8000     # prints the two export lines to paste
    python examples/agent_asyncio.py
"""

from __future__ import annotations

import asyncio

import higgsfield_client

PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(64)  # stands in for a real image file


async def choose(question: str) -> str:
    print(f"agent asks: {question}")
    return "warm colours, please"


async def converse() -> None:
    async with higgsfield_client.AsyncClient() as client:
        session = await client.agents.sessions.create()
        print(f"session {session.session_id}")
        reference = await client.agents.media.upload(PICTURE, "png")  # the bytes go to storage
        result = await client.agents.sessions.run(
            session.session_id,
            f"Use {reference} as a reference [question]",  # the emulator's marker for a question
            on_question=choose,
            timeout=120,
        )
        print(f"{result.status}: {result.text}")
        print(f"cost: {result.cost_usd} USD")
        try:
            await client.agents.sessions.run(session.session_id, "Take your time [hang]", timeout=1)
        except higgsfield_client.AgentTimeoutError as late:
            # The turn keeps running server-side: stop it (or wait for it again).
            await client.agents.sessions.interrupt(late.session_id)
            ended = await client.agents.sessions.wait(late.session_id, late.message_id, timeout=60)
            print(f"interrupted: the turn ended {ended.status}")


def main() -> None:
    asyncio.run(converse())


if __name__ == "__main__":
    main()
