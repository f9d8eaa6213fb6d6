"""``higgsfield agent``: the Agent API from the command line (ask, chat, wait, interrupt)."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from higgsfield_proto import (
    AgentMessage,
    AgentTimeoutError,
    HiggsfieldError,
    InvalidArgumentError,
    SessionBusyError,
    SessionState,
    SessionStatus,
    TurnResult,
    check_content,
)

from .._download import file_name_from_url, refuse_existing, unique_names
from .._sync import SyncClient
from ._commands import UsageError, fetch, positive_seconds
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TIMEOUT, TurnInterrupted, describe
from ._lines import ReadLine, editing, line_reader
from ._output import Console, StatusLine, printable, write_json

if TYPE_CHECKING:
    from markdown_it.token import Token
    from rich.markdown import Markdown

AGENT_EPILOG = """\
examples:
  higgsfield agent ask "Draw a lighthouse at dusk, then describe it"
  higgsfield agent ask --session ID "Now make it night" --download out/
  higgsfield agent chat                      # one session, a turn per line; Ctrl-D ends it
  higgsfield agent wait --session ID         # the answer of a turn that is still running
  higgsfield agent interrupt --session ID    # stop a running turn

A question of the agent is answered from the terminal (ask and wait: only when stdin is one).
Ctrl-C stops the running turn through the API and prints the session id. Exit codes as for the
other commands: 4 when the turn failed, 7 when --timeout passed (the turn goes on: agent wait
waits for it, agent interrupt stops it), 3 for credentials or a 403 of the Agent API, 130 after
Ctrl-C.
"""
# What `agent chat` takes besides messages.
WAIT_COMMAND = "/wait"
INTERRUPT_COMMAND = "/interrupt"

Start = Callable[[Optional[Callable[[str], str]], Callable[[SessionState], None]], TurnResult]
"""Starts a turn's wait (``sessions.run`` or ``sessions.wait``) with a question handler and an
update handler."""


def add_agent_parser(
    add: Callable[..., argparse.ArgumentParser], common: List[argparse.ArgumentParser]
) -> None:
    """Add ``agent ask``, ``chat``, ``wait`` and ``interrupt`` through the main parser's ``add``;
    each also takes the ``common`` options after the subcommand."""
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
    ask.add_argument("--session", metavar="ID", help="continue this session instead of opening one")
    _timeout(ask)
    _downloads(ask)
    chat = command("chat", "an interactive session, a turn per line", "Talk to the agent, a turn per line.")
    chat.add_argument("--session", metavar="ID", help="continue this session instead of opening one")
    _timeout(chat)
    wait = command(
        "wait",
        "wait for the running turn of a session and print its answer",
        "Wait for a session's turn (one still running after --timeout, say) and print its answer.",
    )
    wait.add_argument("--session", metavar="ID", required=True, help="the session")
    wait.add_argument(
        "--message", metavar="ID", help="the turn's last message (default: the session's last one)"
    )
    _timeout(wait)
    _downloads(wait)
    interrupt = command("interrupt", "stop the running turn of a session", "Stop a session's running turn.")
    interrupt.add_argument("--session", metavar="ID", required=True, help="the session")


def _timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="give up waiting for a turn after this (it goes on; default 1800)",
    )


def _downloads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--download", metavar="DIR", help="download the assets the answer links into DIR")
    parser.add_argument("--overwrite", action="store_true", help="replace files that exist in DIR")


def run_agent(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Run ``agent ask``, ``chat``, ``wait`` or ``interrupt``; returns the exit code."""
    commands = {"ask": _ask, "chat": _chat, "wait": _wait, "interrupt": _interrupt}
    return commands[options.agent_command](client, options, console)


def _answering(console: Console, read: ReadLine) -> Callable[[str], str]:
    """A question handler that shows the agent's question and reads the answer with ``read``."""

    def answer(question: str) -> str:
        console.note(f"agent asks: {printable(question) or '(no text)'}")
        return read("you> ").strip() or "(no answer)"

    return answer


def _session(client: SyncClient, options: argparse.Namespace, console: Console) -> str:
    if options.session:
        return str(options.session)
    session = client.agents.sessions.create()
    console.note(f"session {session.session_id}")
    return session.session_id


def _last_message_id(rows: Sequence[AgentMessage]) -> Optional[str]:
    """The id of the last message a user sent: the one whose turn a wait follows."""
    return next((row.message_id for row in reversed(rows) if row.role == "user"), None)


def _turn(
    client: SyncClient,
    session_id: str,
    start: Start,
    console: Console,
    on_question: Optional[Callable[[str], str]],
    state: str,
) -> TurnResult:
    """Wait for a turn with the session's state on a terminal, shown at once as ``state``.

    Ctrl-C stops the turn through the API (`TurnInterrupted`); input that ends at the agent's
    question (Ctrl-D) ends the turn as ``awaiting_input``, as when nobody could answer.
    """
    status = StatusLine(console, "agent", state=state, plain=False, transient=True)

    def on_update(session: SessionState) -> None:
        status.show(str(getattr(session.status, "value", session.status)))

    def ask(question: str) -> str:
        assert on_question is not None
        status.close()  # the prompt needs the line; the next update draws the state again
        return on_question(question)

    try:
        return start(ask if on_question is not None else None, on_update)
    except KeyboardInterrupt:
        status.close()
        raise _interrupted(client, session_id) from None
    except EOFError:
        status.close()
        return _unanswered(client, session_id)
    finally:
        status.close()


def _interrupted(client: SyncClient, session_id: str) -> TurnInterrupted:
    try:
        client.agents.sessions.interrupt(session_id)
    except HiggsfieldError as exc:
        return TurnInterrupted(session_id, failure=f"{type(exc).__name__}: {exc}")
    return TurnInterrupted(session_id)


def _unanswered(client: SyncClient, session_id: str) -> TurnResult:
    """The turn of a question left unanswered, read from the session's history."""
    rows = client.agents.sessions.messages(session_id).messages
    question = next((row for row in reversed(rows) if row.role == "assistant"), None)
    return TurnResult(SessionStatus.AWAITING_INPUT.value, question, session_id, _last_message_id(rows))


def _document(result: TurnResult, files: Optional[List[Path]] = None) -> Dict[str, object]:
    document: Dict[str, object] = {
        "session_id": result.session_id,
        "message_id": result.message_id,
        "status": result.status,
        "text": result.text,
        "asset_urls": result.asset_urls,
        "cost_usd": str(result.cost_usd) if result.cost_usd is not None else None,
    }
    if files is not None:
        document["files"] = [str(path) for path in files]
    return document


def _report_turn(
    client: SyncClient, result: TurnResult, options: argparse.Namespace, console: Console
) -> int:
    """Print the answer of ``agent ask`` or ``agent wait`` (and download its assets); the exit code."""
    folder = Path(options.download) if options.download is not None else None
    files = _download_assets(client, result, folder, options.overwrite) if folder is not None else None
    if console.json:
        write_json(console.out, _document(result, files))
    else:
        if result.text:
            console.line(printable(result.text))  # its asset URLs are in it
        for path in files or ():
            console.line(str(path))
        _mark_failure(console, result)
        if result.status == SessionStatus.AWAITING_INPUT:
            console.note(_answer_hint(result))
    return EXIT_FAILED if result.failed else 0


def _mark_failure(console: Console, result: TurnResult) -> None:
    if result.failed:
        console.note(f"✗ the turn failed (message {result.message_id})", style="red")


def _answer_hint(result: TurnResult) -> str:
    return f"the agent asks: answer with higgsfield agent ask --session {result.session_id} TEXT"


def _ask(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    content = sys.stdin.read() if options.content == "-" else options.content
    if not content.strip():
        raise UsageError("the message is empty")
    check_content(content)  # before a session is opened for it
    session_id = _session(client, options, console)
    on_question = _answering(console, line_reader(sys.stdin, console.err)) if sys.stdin.isatty() else None
    start: Start = partial(_run_turn, client, session_id, content, options.timeout)
    result = _turn(client, session_id, start, console, on_question, "sending")
    return _report_turn(client, result, options, console)


def _run_turn(
    client: SyncClient,
    session_id: str,
    content: str,
    timeout: float,
    on_question: Optional[Callable[[str], str]],
    on_update: Callable[[SessionState], None],
) -> TurnResult:
    return client.agents.sessions.run(
        session_id, content, on_question=on_question, timeout=timeout, on_update=on_update
    )


def _wait_turn(
    client: SyncClient,
    session_id: str,
    message_id: str,
    timeout: float,
    on_question: Optional[Callable[[str], str]],
    on_update: Callable[[SessionState], None],
) -> TurnResult:
    return client.agents.sessions.wait(
        session_id, message_id, on_question=on_question, timeout=timeout, on_update=on_update
    )


def _latest_turn(client: SyncClient, session_id: str) -> str:
    message_id = _last_message_id(client.agents.sessions.messages(session_id).messages)
    if message_id is None:
        raise UsageError(f"session {session_id} has no message to wait for")
    return message_id


def _wait(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    session_id = str(options.session)
    message_id = options.message or _latest_turn(client, session_id)
    on_question = _answering(console, line_reader(sys.stdin, console.err)) if sys.stdin.isatty() else None
    start: Start = partial(_wait_turn, client, session_id, message_id, options.timeout)
    result = _turn(client, session_id, start, console, on_question, "waiting")
    return _report_turn(client, result, options, console)


def _interrupt(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    client.agents.sessions.interrupt(options.session)
    if console.json:
        write_json(console.out, {"session_id": options.session, "interrupted": True})
    else:
        console.line(f"interrupted {options.session}")
    return 0


def _download_assets(client: SyncClient, result: TurnResult, folder: Path, overwrite: bool) -> List[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / name for name in unique_names(file_name_from_url(url) for url in result.asset_urls)]
    if not overwrite:
        for target in targets:
            refuse_existing(target)
    return [
        fetch(url, partial(client.download, url, target, overwrite=overwrite))
        for url, target in zip(result.asset_urls, targets, strict=True)
    ]


class _Chat:
    """One ``agent chat``: its session, how turns ended, and the turn left running, if any."""

    def __init__(self, client: SyncClient, session_id: str, console: Console) -> None:
        self.client = client
        self.session_id = session_id
        self.console = console
        self.failed = False
        self.running: Optional[str] = None  # the last message of a turn left running past --timeout

    def turn(self, start: Start, answer: Callable[[str], str], state: str) -> bool:
        """Take a turn; False when the chat must end (input ended at the agent's question)."""
        console = self.console
        try:
            result = _turn(self.client, self.session_id, start, console, answer, state)
        except TurnInterrupted as exc:
            console.note(
                "turn interrupted" if exc.failure is None else f"the turn could not be stopped: {exc.failure}"
            )
            self.running = None if exc.failure is None else self.running
            return True
        except AgentTimeoutError as exc:
            self.running = exc.message_id
            self._error(exc, EXIT_TIMEOUT, f"no answer within --timeout; the turn goes on: {_CHOICES}")
            return True
        except SessionBusyError as exc:
            self._error(exc, 1, f"the agent is still busy with the last turn: {_CHOICES}")
            return True
        except InvalidArgumentError as exc:  # a line the API would refuse: nothing was sent
            self._error(exc, 2, f"not sent: {exc}")
            return True
        self.running = None
        self.failed = self.failed or result.failed
        _show_answer(console, result)
        if result.status == SessionStatus.AWAITING_INPUT:
            console.note(_answer_hint(result))
            return False
        return True

    def stop(self) -> None:
        """``/interrupt``: stop the session's running turn."""
        self.client.agents.sessions.interrupt(self.session_id)
        self.running = None
        self.console.note("turn interrupted")

    def _error(self, error: HiggsfieldError, code: int, note: str) -> None:
        self.console.note(note)
        if self.console.json:
            write_json(self.console.out, {"error": describe(error, code)}, compact=True)

    def end(self, code: int) -> int:
        """Say goodbye; the exit code of the chat (``code`` unless a turn failed or goes on)."""
        self.console.note(f"bye (session {self.session_id})")
        if self.running is not None:
            self.console.note(
                f"the last turn goes on: higgsfield agent wait --session {self.session_id} waits for it, "
                f"higgsfield agent interrupt --session {self.session_id} stops it"
            )
            return code or EXIT_TIMEOUT
        return code or (EXIT_FAILED if self.failed else 0)


_CHOICES = f"{WAIT_COMMAND} waits for it, {INTERRUPT_COMMAND} stops it"


def _chat(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    chat = _Chat(client, _session(client, options, console), console)
    read = line_reader(sys.stdin, console.err)
    answer = _answering(console, read)
    console.note(
        f"a turn per line; an empty line or Ctrl-D ends the chat; Ctrl-C stops a turn; {WAIT_COMMAND} "
        f"waits for a turn still running, {INTERRUPT_COMMAND} stops it"
    )
    session_id = chat.session_id
    at_terminal = editing(sys.stdin, console.err)
    while True:
        try:
            line = read("you> ").strip()
        except EOFError:
            line = ""
        except KeyboardInterrupt:
            if at_terminal:  # Ctrl-C at the prompt drops the line, as in a shell
                continue
            return chat.end(EXIT_INTERRUPTED)
        if not line:
            return chat.end(0)
        if line == INTERRUPT_COMMAND:
            chat.stop()
            continue
        if line == WAIT_COMMAND:
            message_id = chat.running or _last_message_id(
                client.agents.sessions.messages(session_id).messages
            )
            if message_id is None:
                console.note("no turn to wait for")
                continue
            going = chat.turn(
                partial(_wait_turn, client, session_id, message_id, options.timeout), answer, "waiting"
            )
        else:
            going = chat.turn(
                partial(_run_turn, client, session_id, line, options.timeout), answer, "sending"
            )
        if not going:
            return chat.end(0)


def _show_answer(console: Console, result: TurnResult) -> None:
    """An answer in a chat: a JSON line under ``--json``; else on stdout, rendered as Markdown on
    a terminal (line breaks kept; the asset URLs the rendering hides listed after it), as it came
    elsewhere; a failed turn marked on stderr."""
    if console.json:
        write_json(console.out, _document(result), compact=True)
        return
    _mark_failure(console, result)
    text = printable(result.text or f"({result.status})")
    if console.out_screen is None:
        console.line(text)
        return
    markdown, shown = _markdown(text)
    console.out_screen.print(markdown)
    for url in result.asset_urls:
        if not any(url in part for part in shown):
            console.note(f"  asset: {printable(url)}")


def _markdown(text: str) -> Tuple[Markdown, List[str]]:
    """``text`` as rich Markdown whose line breaks stay line breaks, and the texts it shows (a
    link's URL is not among them: it is only the link's target)."""
    from rich.markdown import Markdown

    markdown = Markdown(text)
    shown: List[str] = []
    for token in _tokens(markdown.parsed):
        if token.type == "softbreak":
            token.type = "hardbreak"
        elif token.type in ("text", "code_inline", "fence", "code_block"):
            shown.append(token.content)
    return markdown, shown


def _tokens(tokens: Iterable[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _tokens(token.children)
