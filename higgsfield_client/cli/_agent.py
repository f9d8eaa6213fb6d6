"""``higgsfield agent ask`` and ``higgsfield agent chat``: the Agent API from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

from higgsfield_proto import AgentTimeoutError, SessionState, TurnResult

from .._download import file_name_from_url, refuse_existing, unique_names
from .._sync import SyncClient
from ._commands import UsageError
from ._output import Console, StatusLine, write_json

AGENT_EPILOG = """\
examples:
  higgsfield agent ask "Draw a lighthouse at dusk, then describe it"
  higgsfield agent ask --session ID "Now make it night" --download out/
  higgsfield agent chat                      # one session, a turn per line; Ctrl-D ends it

A question of the agent is answered from the terminal (ask: only when stdin is one). Exit codes
as for the other commands: 4 when the turn failed, 7 when --timeout passed (the turn goes on;
its session and message ids are printed), 3 for credentials or a 403 of the Agent API.
"""


def add_agent_parser(
    add: Callable[..., argparse.ArgumentParser], common: List[argparse.ArgumentParser]
) -> None:
    """Add ``agent ask`` and ``agent chat`` through the main parser's ``add``; both also take
    the ``common`` options after the subcommand."""
    agent = add("agent", "talk to the Higgsfield agent (the Agent API)")
    agent.epilog = AGENT_EPILOG
    commands = agent.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help,
            description=description,
            parents=common,
            epilog=AGENT_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    ask = command("ask", "one turn: send a message, print the answer", "Send a message, print the answer.")
    ask.add_argument("content", help="the message (1 to 20,000 characters; '-' reads stdin)")
    _turn_options(ask)
    ask.add_argument("--download", metavar="DIR", help="download the assets the answer links into DIR")
    ask.add_argument("--overwrite", action="store_true", help="replace files that exist in DIR")
    chat = command("chat", "an interactive session, a turn per line", "Talk to the agent, a turn per line.")
    _turn_options(chat)


def _turn_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", metavar="ID", help="continue this session instead of opening one")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="SECONDS", help="give up on a turn after this"
    )


def run_agent(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Run ``agent ask`` or ``agent chat``; returns the exit code."""
    if options.agent_command == "ask":
        return _ask(client, options, console)
    return _chat(client, options, console)


def _question_from_terminal(console: Console, reader: Callable[[], str]) -> Callable[[str], str]:
    def answer(question: str) -> str:
        console.note(f"agent asks: {question or '(no text)'}")
        console.err.write("you> ")
        console.err.flush()
        reply = reader().strip()
        return reply or "(no answer)"

    return answer


def _read_line() -> str:
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _session(client: SyncClient, options: argparse.Namespace, console: Console) -> str:
    if options.session:
        return str(options.session)
    session = client.agents.sessions.create()
    console.note(f"session {session.session_id}")
    return session.session_id


def _turn(
    client: SyncClient,
    session_id: str,
    content: str,
    options: argparse.Namespace,
    console: Console,
    on_question: Optional[Callable[[str], str]],
) -> TurnResult:
    # The session's state while the turn runs, on a terminal only; gone once the answer is in.
    status = StatusLine(console, "agent", plain=False, transient=True)

    def on_update(state: SessionState) -> None:
        status.show(str(getattr(state.status, "value", state.status)))

    def pausing(answer: Callable[[str], str]) -> Callable[[str], str]:
        def ask(question: str) -> str:
            status.close()  # the prompt needs the line; the next update draws the state again
            return answer(question)

        return ask

    try:
        return client.agents.sessions.run(
            session_id,
            content,
            on_question=pausing(on_question) if on_question is not None else None,
            timeout=options.timeout,
            on_update=on_update,
        )
    except AgentTimeoutError as exc:
        console.note(
            f"the turn goes on: session {exc.session_id}, message {exc.message_id}; "
            f"continue with: higgsfield agent ask --session {exc.session_id} ..."
        )
        raise
    finally:
        status.close()


def _ask(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    content = sys.stdin.read() if options.content == "-" else options.content
    if not content.strip():
        raise UsageError("the message is empty")
    folder = Path(options.download) if options.download is not None else None
    session_id = _session(client, options, console)
    on_question = _question_from_terminal(console, _read_line) if sys.stdin.isatty() else None
    result = _turn(client, session_id, content, options, console, on_question)
    files = _download_assets(client, result, folder, options.overwrite) if folder is not None else []
    if console.json:
        document: Dict[str, object] = {
            "session_id": result.session_id,
            "message_id": result.message_id,
            "status": result.status,
            "text": result.text,
            "asset_urls": result.asset_urls,
            "cost_usd": str(result.cost_usd) if result.cost_usd is not None else None,
        }
        if folder is not None:
            document["files"] = [str(path) for path in files]
        write_json(console.out, document)
    else:
        if result.text:
            console.line(result.text)
        for item in files or result.asset_urls:
            console.line(str(item))
        if result.status == "awaiting_input":
            console.note(f"the agent asks: answer with higgsfield agent ask --session {session_id} ...")
    return 4 if result.failed else 0


def _download_assets(client: SyncClient, result: TurnResult, folder: Path, overwrite: bool) -> List[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / name for name in unique_names(file_name_from_url(url) for url in result.asset_urls)]
    if not overwrite:
        for target in targets:
            refuse_existing(target)
    return [
        client.download(url, target, overwrite=overwrite)
        for url, target in zip(result.asset_urls, targets, strict=True)
    ]


def _chat(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    session_id = _session(client, options, console)
    answer = _question_from_terminal(console, _read_line)
    console.note("a turn per line; an empty line or Ctrl-D ends the chat; Ctrl-C stops a turn")
    while True:
        console.err.write("you> ")
        console.err.flush()
        try:
            content = _read_line().strip()
        except EOFError:
            content = ""
        if not content:
            console.note(f"bye (session {session_id})")
            return 0
        try:
            result = _turn(client, session_id, content, options, console, answer)
        except KeyboardInterrupt:
            client.agents.sessions.interrupt(session_id)
            console.note("turn interrupted")
            continue
        _show_answer(console, result.text or f"({result.status})")
        for url in result.asset_urls:
            console.note(f"  asset: {url}")


def _show_answer(console: Console, text: str) -> None:
    """An answer on stdout: rendered as Markdown on a terminal, as it came elsewhere."""
    if console.out_screen is None:
        console.line(text)
        return
    from rich.markdown import Markdown

    console.out_screen.print(Markdown(text))
