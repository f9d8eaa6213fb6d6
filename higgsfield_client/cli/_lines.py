"""Lines typed by a person: prompt_toolkit's line editor and history at a terminal, plain lines elsewhere."""

from __future__ import annotations

from typing import Callable, TextIO

ReadLine = Callable[[str], str]
"""``read(prompt)``: the next line, without its line break.

Raises ``EOFError`` when the input ends (Ctrl-D, or the end of a pipe); Ctrl-C raises
``KeyboardInterrupt``.
"""


def editing(stdin: TextIO, prompts: TextIO) -> bool:
    """True when lines of ``stdin`` are typed at a terminal, with the prompts on one."""
    return stdin.isatty() and prompts.isatty()


def line_reader(stdin: TextIO, prompts: TextIO) -> ReadLine:
    """A `ReadLine` of ``stdin`` that shows its prompts on ``prompts`` (stderr: stdout carries
    only results).

    When both are terminals (`editing`), lines are read with prompt_toolkit: the arrow keys move
    in the line and through the lines typed before (kept for this run only), and what is typed
    is never sent with escape codes in it. Elsewhere (a pipe, a file) a line is read as it comes.
    """
    if editing(stdin, prompts):
        return _editor(stdin, prompts)

    def read(prompt: str) -> str:
        prompts.write(prompt)
        prompts.flush()
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    return read


def _editor(stdin: TextIO, prompts: TextIO) -> ReadLine:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.input import create_input
    from prompt_toolkit.output import create_output

    session: PromptSession[str] = PromptSession(
        history=InMemoryHistory(), input=create_input(stdin), output=create_output(stdout=prompts)
    )
    return session.prompt
