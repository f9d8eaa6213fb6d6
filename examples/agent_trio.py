"""The Higgsfield agent under trio: one turn, asked while a progress line ticks alongside.

The same ``AsyncClient`` runs under trio; a blocking ``on_question`` runs in a worker thread.
Credentials come from HF_KEY, the API root from HIGGSFIELD_BASE_URL. Try it with the emulator:

    higgsfield-sansio emulator --port 8000     # prints the two export lines to paste
    python examples/agent_trio.py
"""

from __future__ import annotations

import trio

import higgsfield_client


def answer_from_a_slow_source(question: str) -> str:
    # Anything blocking may go here (a database, input()): trio keeps running meanwhile.
    return "a lighthouse"


async def converse() -> None:
    async with higgsfield_client.AsyncClient() as client:
        session = await client.agents.sessions.create()
        result = await client.agents.sessions.run(
            session.session_id,
            "Draw something for me [question]",
            on_question=answer_from_a_slow_source,
            on_update=lambda state: print(f"  {getattr(state.status, 'value', state.status)}"),
            timeout=120,
        )
        print(f"{result.status}: {result.text}")
        for url in result.asset_urls:
            print(f"asset: {url}")


def main() -> None:
    trio.run(converse)


if __name__ == "__main__":
    main()
