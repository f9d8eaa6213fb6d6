"""The emulator's Agent API sessions: each session's turns and message rows over time.

Theory of operation: as in ``_jobs``, no timer or task runs per turn. A user message that starts a
turn fixes the turn's moments when it is accepted: ``starts`` (the accept time, later by the
question's ``answer_lag`` when the message answers a question) and ``ends`` (``starts`` plus the
turn time; none for a turn that hangs). `AgentBook` applies the end of a due turn whenever anyone
looks (a request or a snapshot), so a poll sees the exact state whatever the polling rate.

Session status: ``terminated`` once terminated; ``awaiting_input`` while a question waits for its
answer, and still (stale) until ``starts`` of the answer's turn; ``processing`` from ``starts``
until the turn ends or is interrupted; ``idle`` otherwise.

Rows, where the Agent API's documents leave the choice open:

- While a turn runs, only its user row (``processing``, ``llm_cost_usd`` null) is listed: the
  assistant row appears when the turn ends, as in the official SDK's fixtures (a poll during a turn
  answers ``{"status": "processing", "messages": []}`` after the user row).
- A turn that ends ``completed`` or ``failed`` adds an assistant row with that status, and its user
  row settles to the same status with its ``llm_cost_usd``, at the same moment.
- A question parks the turn: the session turns ``awaiting_input`` and the question is an assistant
  row with status ``processing``, not a terminal one, so that the official ``run()`` (which lets a
  terminal assistant row win over the session status) hands it to ``on_question``; that is also
  the official fixture's shape. Its user row stays ``processing``. The answer is a new user
  message; when it is accepted, the question row and the user row it answered settle
  ``completed``, and the answer starts a turn of its own.
- An interrupt (and `AgentBook.terminate`) adds no assistant row: the running turn's user row
  settles ``failed`` with its cost; a parked question settles ``failed`` with the user row it
  answers. An idle session then has no row left ``processing``.
- An answer's images (``[image]``, or ``images`` in a script) are named when the turn is accepted
  and exist from the moment its assistant row does: their URLs answer 404 before, and always for
  a turn stopped before its answer. They are rendered on their first download.
- ``created_at`` is UTC with second precision (``2026-09-01T00:00:00Z``, the fixtures' form); rows
  are listed in the order they were added.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Tuple

AGENT_OUTCOMES = ("completed", "failed", "question", "hang")
"""The outcomes ``script_agent_turn`` takes: an answer, a failure, a question, a turn that runs until
interrupted."""
# Content markers for unscripted turns. The outcome markers are checked in this order (the first
# one found wins); "[long]" and "[image]" combine with any of them.
OUTCOME_MARKERS = (("[fail]", "failed"), ("[question]", "question"), ("[hang]", "hang"))
LONG_MARKER = "[long]"
IMAGE_MARKER = "[image]"
# Where the images of agent answers are served, under the emulator's root URL (no credentials).
IMAGE_PATH = "/agent-outputs"
# A "[long]" turn runs this many times the turn time unless the long turn time is set.
LONG_TURN_FACTOR = 10
MAX_CONTENT = 20_000
DEFAULT_COST = "0.0010"
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentScript:
    """A scripted turn for the next user message that starts one (see `Emulator.script_agent_turn`).

    Raises:
        ValueError: an unknown outcome, a negative time or image count, a cost that is not a
            decimal string, or a field its outcome does not use (``asset_urls`` and ``images``
            outside "completed", ``answer_lag`` outside "question", ``text`` for "hang").
    """

    outcome: str
    text: Optional[str] = None
    asset_urls: Tuple[str, ...] = ()
    turn_time: Optional[float] = None
    llm_cost_usd: Optional[str] = None
    answer_lag: Optional[float] = None
    images: int = 0

    def __post_init__(self) -> None:
        if self.outcome not in AGENT_OUTCOMES:
            raise ValueError(f"outcome must be one of {AGENT_OUTCOMES}, not {self.outcome!r}")
        if self.turn_time is not None and self.turn_time < 0:
            raise ValueError("turn_time must not be negative")
        if self.answer_lag is not None and (self.outcome != "question" or self.answer_lag < 0):
            raise ValueError("answer_lag is a question's, and must not be negative")
        if self.asset_urls and self.outcome != "completed":
            raise ValueError("asset_urls belong to a completed turn")
        if self.images < 0 or (self.images and self.outcome != "completed"):
            raise ValueError("images belong to a completed turn, and must not be negative")
        if self.text is not None and self.outcome == "hang":
            raise ValueError("a hanging turn has no text")
        if self.llm_cost_usd is not None and not _DECIMAL.fullmatch(self.llm_cost_usd):
            raise ValueError(f"llm_cost_usd must be a decimal string, not {self.llm_cost_usd!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSessionInfo:
    """A snapshot of one agent session, for tests.

    ``messages`` are the rows exactly as ``GET .../messages`` lists them (copies), oldest first;
    ``created_at`` is the session's creation time in the rows' ISO-8601 form.
    """

    session_id: str
    status: str
    config: Dict[str, Any]
    messages: List[Dict[str, Any]]
    created_at: str


class AgentRefused(Exception):
    """A request the Agent API refuses: ``status`` and the ``detail`` of its JSON body."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


class _Row:
    """One message row; its status and cost change when its turn settles."""

    __slots__ = ("cost", "created_at", "message", "message_id", "role", "status")

    def __init__(
        self, message_id: str, role: str, status: str, message: Dict[str, Any], created_at: str
    ) -> None:
        self.message_id = message_id
        self.role = role
        self.status = status
        self.message = message
        self.created_at = created_at
        self.cost: Optional[str] = None

    def settle(self, status: str, cost: Optional[str] = None) -> None:
        self.status = status
        if self.role == "user":
            self.cost = cost

    def wire(self) -> Dict[str, Any]:
        return {
            "message_id": self.message_id,
            "role": self.role,
            "status": self.status,
            "message": copy.deepcopy(self.message),
            "created_at": self.created_at,
            "llm_cost_usd": self.cost,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class _Turn:
    """A turn in progress: its user row, what it will answer, and when."""

    user: _Row
    content: str
    outcome: str
    reasoning: str
    text: str
    asset_urls: Tuple[str, ...]
    images: Tuple[str, ...]  # the file names of the images the answer links
    image_base: str  # their URLs' prefix
    cost: str
    answer_lag: float  # for a question: how long the answer's turn still reads awaiting_input
    starts: float
    ends: Optional[float]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Parked:
    """A question waiting for its answer: the message it asks about, and the question's text."""

    user: _Row
    question: _Row
    content: str
    text: str
    cost: str
    answer_lag: float


class _Session:
    __slots__ = ("config", "created", "created_wall", "index", "parked", "rows", "session_id",
                 "terminated", "turn")

    def __init__(self, config: Dict[str, Any], now: float, wall: float) -> None:
        self.session_id = str(uuid.uuid4())
        self.config = config
        self.created = now
        self.created_wall = wall
        self.rows: List[_Row] = []
        self.index: Dict[str, int] = {}
        self.turn: Optional[_Turn] = None
        self.parked: Optional[_Parked] = None
        self.terminated = False

    def stamp(self, moment: float) -> str:
        """The ``created_at`` of a row added at the monotonic ``moment``."""
        return _iso(self.created_wall + (moment - self.created))

    def add(self, row: _Row) -> None:
        self.index[row.message_id] = len(self.rows)
        self.rows.append(row)

    def status(self, now: float) -> str:
        if self.terminated:
            return "terminated"
        if self.turn is not None:
            return "awaiting_input" if now < self.turn.starts else "processing"
        return "awaiting_input" if self.parked is not None else "idle"

    def info(self, now: float) -> AgentSessionInfo:
        return AgentSessionInfo(
            session_id=self.session_id,
            status=self.status(now),
            config=copy.deepcopy(self.config),
            messages=[row.wire() for row in self.rows],
            created_at=_iso(self.created_wall),
        )


def _assistant_message(row_id: str, parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    # The shape of the official SDK's fixtures: the row's id and role repeated around the parts.
    return {"id": row_id, "role": "assistant", "parts": parts}


def _parts(turn: _Turn) -> List[Dict[str, Any]]:
    """The assistant's parts for a finished turn: a failure has no reasoning part."""
    parts: List[Dict[str, Any]] = [{"type": "step-start"}]
    if turn.outcome != "failed":
        parts.append({"type": "reasoning", "text": turn.reasoning, "state": "done"})
    parts.append({"type": "text", "text": turn.text})
    urls = [*turn.asset_urls, *(f"{turn.image_base}/{name}" for name in turn.images)]
    if urls:
        parts.append({"type": "text", "text": "\n".join(urls)})
    return parts


class AgentBook:
    """The agent sessions of the emulated account, its scripted turns and its account state.

    Thread-safe: routes call it on the emulator's loop, tests from their own thread. Times are
    monotonic (``now``) except the wall-clock ``wall`` given at session creation.

    Args:
        turn_time: seconds an unscripted turn runs.
        long_turn_time: seconds an unscripted ``[long]`` turn runs; None follows ``turn_time``
            (`LONG_TURN_FACTOR` times it).
        answer_lag: seconds an answer's turn still reads ``awaiting_input`` when the question's
            script does not say.
        access: the account may use the Agent API (else every route answers 403).
        credits: the account has credits (else a message gets 402).
    """

    def __init__(
        self,
        turn_time: float,
        long_turn_time: Optional[float],
        answer_lag: float,
        access: bool,
        credits: bool,
    ) -> None:
        if answer_lag < 0:
            raise ValueError("agent_answer_lag must not be negative")
        self.turn_time = turn_time
        self._long_turn_time: Optional[float] = None
        if long_turn_time is not None:
            self.long_turn_time = long_turn_time
        self.answer_lag = answer_lag
        self.access = access
        self.credits = credits
        self._sessions: Dict[str, _Session] = {}
        self._scripts: Deque[AgentScript] = deque()
        # Answer images by file name: the session whose turn links it, and, once that turn
        # completed, the label drawn on it.
        self._image_sessions: Dict[str, _Session] = {}
        self._image_labels: Dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def turn_time(self) -> float:
        """Seconds an unscripted turn runs; turns already accepted keep their timing."""
        return self._turn_time

    @turn_time.setter
    def turn_time(self, value: float) -> None:
        if value < 0:
            raise ValueError("agent_turn_time must not be negative")
        self._turn_time = value

    @property
    def long_turn_time(self) -> float:
        """Seconds an unscripted ``[long]`` turn runs: as set, else `LONG_TURN_FACTOR` times
        `turn_time`. Turns already accepted keep their timing."""
        if self._long_turn_time is None:
            return LONG_TURN_FACTOR * self._turn_time
        return self._long_turn_time

    @long_turn_time.setter
    def long_turn_time(self, value: float) -> None:
        if value < 0:
            raise ValueError("agent_long_turn_time must not be negative")
        self._long_turn_time = value

    def script(self, script: AgentScript) -> None:
        """Queue ``script`` for the next user message that starts a turn (first in, first out)."""
        with self._lock:
            self._scripts.append(script)

    def create(self, config: Dict[str, Any], now: float, wall: float) -> str:
        """Open an idle session with ``config``; returns its id."""
        session = _Session(config, now, wall)
        with self._lock:
            self._sessions[session.session_id] = session
        return session.session_id

    def send(self, session_id: str, content: str, now: float, base_url: str) -> str:
        """Accept a user message (a new turn, or the answer to a question); returns its id.

        ``base_url`` is the emulator's root URL, for the URLs of the images the answer links.

        Raises:
            AgentRefused: 404 unknown session; 409 ``session_terminated``, or ``session_busy``
                while a turn runs (its stale ``awaiting_input`` time included); 402
                ``insufficient_credits`` when the account has none. A refused message creates
                nothing and uses no script.
        """
        with self._lock:
            session = self._live(session_id, now)
            if session.terminated:
                raise AgentRefused(409, "session_terminated")
            if session.turn is not None:
                raise AgentRefused(409, "session_busy")
            if not self.credits:
                raise AgentRefused(402, "insufficient_credits")
            script = self._scripts.popleft() if self._scripts else None
            lag = 0.0
            parked = session.parked
            if parked is not None:
                parked.question.settle("completed")
                parked.user.settle("completed", parked.cost)
                session.parked = None
                lag = parked.answer_lag
            user = _Row(str(uuid.uuid4()), "user", "processing", {"type": "text", "text": content},
                        session.stamp(now))
            session.add(user)
            session.turn = turn = self._turn(
                user, content, script, now + lag, parked, base_url + IMAGE_PATH
            )
            for name in turn.images:
                self._image_sessions[name] = session
            return user.message_id

    def messages(
        self, session_id: str, after: Optional[str], now: float
    ) -> Tuple[str, List[Dict[str, Any]]]:
        """The session status and its rows, only those after the row ``after`` when given.

        Raises:
            AgentRefused: 404 when the session, or the row ``after``, is unknown.
        """
        with self._lock:
            session = self._live(session_id, now)
            rows = session.rows
            if after is not None:
                position = session.index.get(after)
                if position is None:
                    raise AgentRefused(404, "Message not found")
                rows = rows[position + 1:]
            return session.status(now), [row.wire() for row in rows]

    def image(self, name: str, now: float) -> Optional[str]:
        """The label of the answer image ``name`` once the turn that links it completed, else
        None (unknown, its turn still running, or stopped before its answer)."""
        with self._lock:
            session = self._image_sessions.get(name)
            if session is None:
                return None
            self._advance(session, now)
            return self._image_labels.get(name)

    def interrupt(self, session_id: str, now: float) -> None:
        """Stop the running or parked turn, if any; the session goes back to ``idle``.

        Raises:
            AgentRefused: 404 unknown session.
        """
        with self._lock:
            session = self._live(session_id, now)
            if not session.terminated:
                self._stop(session)

    def terminate(self, session_id: str, now: float) -> bool:
        """Stop the session's turn as `interrupt` does and make it ``terminated`` for good.

        Returns:
            False when no session has this id.
        """
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return False
            self._advance(session, now)
            self._stop(session)
            session.terminated = True
            return True

    def info(self, session_id: str, now: float) -> Optional[AgentSessionInfo]:
        """A snapshot of one session, or None when unknown."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            self._advance(session, now)
            return session.info(now)

    def infos(self, now: float) -> List[AgentSessionInfo]:
        """Snapshots of every session, in creation order."""
        with self._lock:
            for session in self._sessions.values():
                self._advance(session, now)
            return [session.info(now) for session in self._sessions.values()]

    # -- under the lock ----------------------------------------------------------------------

    def _live(self, session_id: str, now: float) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise AgentRefused(404, "Session not found")
        self._advance(session, now)
        return session

    def _turn(
        self,
        user: _Row,
        content: str,
        script: Optional[AgentScript],
        starts: float,
        answered: Optional[_Parked],
        image_base: str,
    ) -> _Turn:
        # A script wins over the content's markers; its unset fields take the defaults. An answer
        # (``answered`` is the question it answers) is echoed like any message; its reasoning
        # part quotes the reply and the question.
        if script is None:
            script = self._marked(content, answered)
        outcome = script.outcome
        turn_time = self.turn_time if script.turn_time is None else script.turn_time
        return _Turn(
            user=user,
            content=content,
            outcome=outcome,
            reasoning=_reasoning(content, answered),
            text=_default_text(outcome, content) if script.text is None else script.text,
            asset_urls=script.asset_urls,
            images=tuple(f"{uuid.uuid4().hex}.png" for _ in range(script.images)),
            image_base=image_base,
            cost=DEFAULT_COST if script.llm_cost_usd is None else script.llm_cost_usd,
            answer_lag=self.answer_lag if script.answer_lag is None else script.answer_lag,
            starts=starts,
            ends=None if outcome == "hang" else starts + turn_time,
        )

    def _marked(self, content: str, answered: Optional[_Parked]) -> AgentScript:
        """The script an unscripted message's markers make.

        An answer links an image when the message the question asked about wanted one.
        """
        outcome = next((o for marker, o in OUTCOME_MARKERS if marker in content), "completed")
        long = LONG_MARKER in content and outcome != "hang"
        asked = content if answered is None else f"{answered.content} {content}"
        image = IMAGE_MARKER in asked and outcome == "completed"
        return AgentScript(
            outcome=outcome,
            turn_time=self.long_turn_time if long else None,
            images=1 if image else 0,
        )

    def _advance(self, session: _Session, now: float) -> None:
        turn = session.turn
        if turn is None or turn.ends is None or turn.ends > now:
            return
        session.turn = None
        row_id = str(uuid.uuid4())
        status = "processing" if turn.outcome == "question" else turn.outcome
        message = _assistant_message(row_id, _parts(turn))
        row = _Row(row_id, "assistant", status, message, session.stamp(turn.ends))
        session.add(row)
        for number, name in enumerate(turn.images, 1):
            self._image_labels[name] = f"agent #{number}: {turn.content}"
        if turn.outcome == "question":
            session.parked = _Parked(
                user=turn.user,
                question=row,
                content=turn.content,
                text=turn.text,
                cost=turn.cost,
                answer_lag=turn.answer_lag,
            )
        else:
            turn.user.settle(turn.outcome, turn.cost)

    def _stop(self, session: _Session) -> None:
        if session.turn is not None:
            session.turn.user.settle("failed", session.turn.cost)
            session.turn = None
        if session.parked is not None:
            session.parked.question.settle("failed")
            session.parked.user.settle("failed", session.parked.cost)
            session.parked = None


def _reasoning(content: str, answered: Optional[_Parked]) -> str:
    if answered is None:
        return f"The user wrote: {content[:200]}"
    return f"The user answered {content[:200]!r} to: {answered.text[:200]}"


def _default_text(outcome: str, content: str) -> str:
    if outcome == "failed":
        marked = "[fail]" in content
        return "Agent turn failed" + (": the message asked for a failure ([fail])" if marked else "")
    if outcome == "question":
        return f"Which style do you want for: {content}?"
    return f"Echo: {content}"
