"""The batch journal: one SQLite file (WAL mode) recording each item's way through the API.

Theory of operation. An item's row goes through these states:

    pending --(key committed)--> submitting --(request id)--> submitted --> completed
                                                                       \\-> failed / nsfw / canceled
    submitting --(refused by the API: 4xx)--> rejected
    completed --(an output gone from the storage before it was downloaded: 404)--> expired

The Idempotency-Key is committed before the submit is sent, so a process killed while the
submit is on the wire comes back with the same key and the API answers with the same job.
A row in ``submitted`` is re-attached by its request id, never submitted again. Downloads are
recorded file by file in ``paths`` with their sizes in ``sizes``, each committed once its file
is in place; an item is finished when its job ended and, for a completed job whose outputs are
wanted, every output is on disk with the size recorded (a file deleted since, or cut short, is
downloaded again). The journal records where the latest run put the outputs (``meta.out``), so
that a summary can check them too.

Group commit. A commit costs several times the UPDATE it ends, so the steps whose loss a
crash can afford - the request id, the job's end, an error note - wait for the next commit,
at most ``flush_after`` seconds (the runner also flushes on a timer). Losing them costs
a request, never a job: an item back in ``submitting`` is submitted again with its committed
key (the API answers with the same job), one back in ``submitted`` is checked again. The key
and the downloaded paths are committed at once, with whatever waited.

Prices. Under a budget, each item's estimate (credits, as decimal text) is written in the same
step as its key, before its submit is sent, and its charge when its job ends: the estimate when
completed, ``"0"`` when it ended without output. What a budget counts is therefore always here
(see ``_budget``). A journal of schema 1, from before prices, gains the two columns when a
batch opens it to write.

WAL mode lets ``higgsfield batch status`` read the file while a batch writes it. Commits are
durable against a killed process; ``synchronous=NORMAL`` means a power cut may lose the last
moments (the database stays consistent).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional, Union

from ._items import BatchConflictError, BatchInputError, BatchItem

SCHEMA_VERSION = 2
"""2 added ``items.sizes``, ``items.estimate`` and ``items.charge``; a journal of version 1 is
brought to 2 when opened for writing."""
_ADDED_IN_2 = (("sizes", "TEXT NOT NULL DEFAULT '[]'"), ("estimate", "TEXT"), ("charge", "TEXT"))
FLUSH_AFTER = 0.25
"""Seconds a step that can wait for a commit waits at most (see "Group commit")."""

PENDING = "pending"
SUBMITTING = "submitting"
SUBMITTED = "submitted"
COMPLETED = "completed"
FAILED = "failed"
NSFW = "nsfw"
CANCELED = "canceled"
REJECTED = "rejected"
EXPIRED = "expired"
ENDED_WITHOUT_OUTPUT = frozenset({FAILED, NSFW, CANCELED, REJECTED, EXPIRED})
"""States in which an item is finished without (all) its outputs; ``retry_failed`` submits them
again."""
STATES = (PENDING, SUBMITTING, SUBMITTED, COMPLETED, FAILED, NSFW, CANCELED, REJECTED, EXPIRED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    outcome TEXT
);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY COLLATE NOCASE,
    position INTEGER NOT NULL,
    run INTEGER NOT NULL,
    model TEXT NOT NULL,
    digest TEXT NOT NULL,
    state TEXT NOT NULL,
    idempotency_key TEXT,
    request_id TEXT,
    urls TEXT NOT NULL DEFAULT '[]',
    paths TEXT NOT NULL DEFAULT '[]',
    sizes TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    estimate TEXT,
    charge TEXT
);
CREATE INDEX IF NOT EXISTS items_by_run ON items (run, position);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One item's row of the journal.

    Attributes:
        id: the item id.
        position: its place in the input of the run that last saw it (from 1).
        run: that run's number.
        model: the model id.
        digest: SHA-256 of model and arguments.
        state: one of ``STATES``.
        idempotency_key: the key of the current submit, once committed.
        request_id: the job's id, once the submit was answered.
        urls: the job's output URLs, once completed.
        paths: the outputs downloaded so far, relative to the outputs folder.
        sizes: their sizes in bytes, in the same order (shorter than ``paths`` in a journal
            written by version 1, which did not record them).
        error: why the item failed, or what stopped it last.
        attempts: submits started with a new key (a retry of a failed item is one more).
        created, updated, finished: Unix times.
        estimate: the credits the item was priced at before its submit (decimal text), when
            the batch ran under a budget.
        charge: what its job cost once ended: the estimate when completed, ``"0"`` otherwise.
    """

    id: str
    position: int
    run: int
    model: str
    digest: str
    state: str
    idempotency_key: Optional[str]
    request_id: Optional[str]
    urls: tuple[str, ...]
    paths: tuple[str, ...]
    sizes: tuple[int, ...]
    error: Optional[str]
    attempts: int
    created: float
    updated: float
    finished: Optional[float]
    estimate: Optional[str] = None
    charge: Optional[str] = None

    @classmethod
    def pending(cls, item: BatchItem, position: int, run: int, now: float) -> Record:
        """The record of an item new to the journal."""
        return cls(
            id=item.id, position=position, run=run, model=item.model, digest=item.digest,
            state=PENDING, idempotency_key=None, request_id=None, urls=(), paths=(), sizes=(),
            error=None, attempts=0, created=now, updated=now, finished=None,
        )

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Record:
        """The record of one ``items`` row."""
        values = dict(row)
        values["urls"] = tuple(json.loads(values["urls"]))
        values["paths"] = tuple(json.loads(values["paths"]))
        values["sizes"] = tuple(json.loads(values.get("sizes", "[]")))  # none in version 1
        return cls(**values)

    def files(self) -> list[tuple[str, Optional[int]]]:
        """The outputs downloaded so far, each with its size (None where it was not recorded)."""
        sizes: list[Optional[int]] = [*self.sizes, *[None] * (len(self.paths) - len(self.sizes))]
        return list(zip(self.paths, sizes, strict=True))

    def outputs_on_disk(self, out: Path) -> list[str]:
        """The ``paths`` whose files are in ``out`` with the size recorded (any size where it
        was not)."""
        return [path for path, size in self.files() if is_whole(out / path, size)]


def is_whole(path: Path, size: Optional[int]) -> bool:
    """True if ``path`` is a file of ``size`` bytes (of any size when ``size`` is None)."""
    try:
        found = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and (size is None or found.st_size == size)


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalSummary:
    """What a journal holds: items per state, and its runs.

    Attributes:
        path: the journal file.
        states: the number of items in each state (every state listed, zeros included).
        downloads_pending: completed items whose outputs are not all on disk: not downloaded
            yet, or gone from the outputs folder of the latest run (deleted, or of another size).
        runs: how many runs wrote it.
        running: the process id of a live run, if any.
        last_outcome: how the latest run ended ("finished", "stopped", "failed"), "killed" when
            its process vanished without ending it, or None while it runs.
        last_started, last_ended: Unix times of the latest run.
        errors: the latest few errors, as (item id, error).
        estimated: the credits the priced items were estimated at (None: none was priced).
        charged: the credits their ended jobs cost.
        in_flight: the estimates of the priced items submitted and not ended yet.
    """

    path: Path
    states: dict[str, int]
    downloads_pending: int
    runs: int
    running: Optional[int]
    last_outcome: Optional[str]
    last_started: Optional[float]
    last_ended: Optional[float]
    errors: tuple[tuple[str, str], ...]
    estimated: Optional[Decimal] = None
    charged: Decimal = Decimal(0)
    in_flight: Decimal = Decimal(0)

    @property
    def total(self) -> int:
        """Items in the journal."""
        return sum(self.states.values())

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON values."""
        return {
            "journal": str(self.path),
            "items": self.total,
            "states": self.states,
            "downloads_pending": self.downloads_pending,
            "runs": self.runs,
            "running_pid": self.running,
            "last_outcome": self.last_outcome,
            "last_started": self.last_started,
            "last_ended": self.last_ended,
            "errors": [{"id": item_id, "error": error} for item_id, error in self.errors],
            "credits": None if self.estimated is None else {
                "estimated": str(self.estimated),
                "charged": str(self.charged),
                "in_flight": str(self.in_flight),
            },
        }


class Journal:
    """The SQLite journal of one batch. Not thread-safe: use it from one thread.

    Args:
        path: the journal file; created (with its folder) if missing.
        read_only: open an existing journal without writing (``batch status``).
        flush_after: the longest a step that can wait (see the module's docstring) waits for its
            commit, in seconds.

    Raises:
        BatchInputError: the file is not a batch journal, or comes from a newer version.
        FileNotFoundError: ``read_only`` and the file does not exist.
    """

    def __init__(
        self, path: Union[str, os.PathLike[str]], *, read_only: bool = False, flush_after: float = FLUSH_AFTER
    ) -> None:
        self.path = Path(path)
        self.flush_after = flush_after
        self._open_since: Optional[float] = None  # when the steps waiting for a commit began
        if read_only and not self.path.is_file():
            raise FileNotFoundError(2, "no batch journal here", str(self.path))
        if not read_only and not self.path.exists():
            _create(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:  # a folder, a file it may not open...
            raise BatchInputError(f"{self.path} cannot be opened as a batch journal ({exc})") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA busy_timeout = 10000")
            if read_only:
                # Not mode=ro: a read-only connection leaves the -wal and -shm files behind, where
                # the last connection to close otherwise removes them. query_only refuses writes.
                self._db.execute("PRAGMA query_only = ON")
            else:
                self._db.execute("PRAGMA synchronous = NORMAL")
            version = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise BatchInputError(f"{self.path} is not a batch journal ({exc})") from None
        if version is None or int(version[0]) > SCHEMA_VERSION:
            self._db.close()
            raise BatchInputError(f"{self.path} is not a batch journal of this version")
        if int(version[0]) < SCHEMA_VERSION and not read_only:
            self._upgrade()
        self._priced = int(version[0]) >= 2 or not read_only

    def _upgrade(self) -> None:
        """Bring a journal of version 1 to this version (another process may do it meanwhile)."""
        with self._transaction():
            columns = {row["name"] for row in self._db.execute("PRAGMA table_info(items)")}
            for name, declaration in _ADDED_IN_2:
                if name not in columns:
                    self._db.execute(f"ALTER TABLE items ADD COLUMN {name} {declaration}")
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        """Commit what waits, and close the file."""
        self.flush()
        self._db.close()

    def flush(self) -> None:
        """Commit the steps that wait for a commit, if any."""
        if self._open_since is not None:
            self._open_since = None
            self._db.execute("COMMIT")

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, out: Optional[Path] = None) -> int:
        """Record the start of a run by this process; returns its number.

        A run that never ended, of a process that is gone, is marked ``killed``.

        Args:
            out: the run's outputs folder, recorded for ``summary`` to check the files in.

        Raises:
            BatchInputError: a live process is running a batch on this journal.
        """
        with self._transaction():
            for row in self._db.execute("SELECT run, pid FROM runs WHERE ended IS NULL AND outcome IS NULL"):
                if row["pid"] != os.getpid() and process_alive(row["pid"]):
                    raise BatchInputError(
                        f"process {row['pid']} is running a batch on {self.path}; "
                        "let it finish or stop it (Ctrl-C) first"
                    )
            self._db.execute("UPDATE runs SET outcome = 'killed' WHERE ended IS NULL AND outcome IS NULL")
            if out is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('out', ?)", (str(out.absolute()),))
            cursor = self._db.execute(
                "INSERT INTO runs (pid, started) VALUES (?, ?)", (os.getpid(), time.time())
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def end_run(self, run: int, outcome: str) -> None:
        """Record how run ``run`` ended ("finished", "stopped", "failed")."""
        self.flush()
        self._db.execute("UPDATE runs SET ended = ?, outcome = ? WHERE run = ?", (time.time(), outcome, run))

    # -- items ---------------------------------------------------------------------------------

    def register(self, items: Sequence[tuple[int, BatchItem]], run: int) -> list[Record]:
        """Record the items of run ``run`` (new ones as pending) and return their rows.

        Args:
            items: (position, item) pairs.
            run: the current run.

        Raises:
            BatchConflictError: an id the journal knows comes with another model or arguments.
            BatchInputError: an id appears twice in this run's input (ids are compared without
                case, as the folders they name may be).
        """
        now = time.time()
        records = []
        with self._transaction():
            for position, item in items:
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO items (id, position, run, model, digest, state, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (item.id, position, run, item.model, item.digest, PENDING, now, now),
                )
                if inserted.rowcount == 1:
                    records.append(Record.pending(item, position, run, now))
                    continue
                row = self._db.execute("SELECT * FROM items WHERE id = ?", (item.id,)).fetchone()
                known = Record.from_row(row)
                _check_same(known, item, position, run)
                moved = (position, run, known.id)
                self._db.execute("UPDATE items SET position = ?, run = ? WHERE id = ?", moved)
                records.append(replace(known, position=position, run=run))
        return records

    def check(self, items: Iterable[BatchItem]) -> None:
        """Check a whole input against the journal before a run sends anything.

        Raises:
            BatchConflictError, BatchInputError: as ``register`` would, for the first bad item.
        """
        seen: dict[str, int] = {}
        with self._transaction(write=False):
            for position, item in enumerate(items, start=1):
                earlier = seen.setdefault(item.id.lower(), position)
                if earlier != position:
                    raise _twice(item.id, earlier, position)
                row = self._db.execute("SELECT * FROM items WHERE id = ?", (item.id,)).fetchone()
                if row is not None:
                    _check_same(Record.from_row(row), item, position, run=0)

    # Each step below is one UPDATE statement; it takes the item's current record and returns
    # the new one. A durable step is committed before it returns (with any that wait), the others
    # wait for the next commit (see "Group commit" above).

    def commit_key(self, record: Record, key: str, estimate: Optional[Decimal] = None) -> Record:
        """Record a new Idempotency-Key for the item's next submit (one more attempt), with the
        credits it is estimated at when the batch has a budget."""
        return self._write(
            record,
            durable=True,
            state=SUBMITTING,
            idempotency_key=key,
            request_id=None,
            urls=(),
            paths=(),
            sizes=(),
            error=None,
            finished=None,
            attempts=record.attempts + 1,
            estimate=None if estimate is None else str(estimate),
            charge=None,
        )

    def submitted(self, record: Record, request_id: str) -> Record:
        """Record the request id the submit was answered with."""
        return self._write(record, durable=False, state=SUBMITTED, request_id=request_id, error=None)

    def completed(self, record: Record, urls: Sequence[str]) -> Record:
        """Record a completed job and its output URLs (charged its estimate)."""
        return self._write(
            record,
            durable=False,
            state=COMPLETED,
            urls=tuple(urls),
            error=None,
            finished=time.time(),
            charge=record.estimate,
        )

    def downloaded(self, record: Record, files: Sequence[tuple[str, int]]) -> Record:
        """Record the outputs on disk so far: (path in the outputs folder, size) pairs."""
        paths, sizes = tuple(path for path, _ in files), tuple(size for _, size in files)
        return self._write(record, durable=True, paths=paths, sizes=sizes)

    def expired(self, record: Record, error: str) -> Record:
        """Record a completed item whose outputs are gone from the storage before they were all
        downloaded (those on disk stay recorded)."""
        return self._write(record, durable=False, state=EXPIRED, error=error, finished=time.time())

    def ended(self, record: Record, state: str, error: Optional[str]) -> Record:
        """Record an item finished without outputs (failed, nsfw, canceled or rejected)."""
        assert state in ENDED_WITHOUT_OUTPUT
        assert state != EXPIRED
        charge = None if record.estimate is None else "0"
        return self._write(
            record, durable=False, state=state, error=error, finished=time.time(), charge=charge
        )

    def note_error(self, record: Record, error: str) -> Record:
        """Record what stopped an unfinished item (its state is kept for the next run)."""
        return self._write(record, durable=False, error=error)

    def records(self) -> list[Record]:
        """Every record: by the run that last saw it, then in that run's input order."""
        self.flush()
        rows = self._db.execute("SELECT * FROM items ORDER BY run, position").fetchall()
        return [Record.from_row(row) for row in rows]

    def summary(self, out: Optional[Path] = None) -> JournalSummary:
        """Items per state and the runs, read in one transaction (consistent while a batch writes).

        Args:
            out: the outputs folder whose files to check; default: the folder of the latest run,
                if it still exists.
        """
        with self._transaction(write=False):
            states = dict.fromkeys(STATES, 0)
            for state, count in self._db.execute("SELECT state, COUNT(*) FROM items GROUP BY state"):
                states[state] = count
            pending = self._downloads_pending(out)
            runs = self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            last = self._db.execute("SELECT * FROM runs ORDER BY run DESC LIMIT 1").fetchone()
            errors = self._db.execute(
                "SELECT id, error FROM items WHERE error IS NOT NULL ORDER BY updated DESC LIMIT 5"
            ).fetchall()
            priced = []
            if self._priced:
                query = "SELECT state, estimate, charge FROM items WHERE estimate IS NOT NULL"
                priced = self._db.execute(query).fetchall()
        flying = (SUBMITTING, SUBMITTED)
        return JournalSummary(
            path=self.path,
            states=states,
            downloads_pending=pending,
            runs=runs,
            running=_running_pid(last),
            last_outcome=_outcome(last),
            last_started=None if last is None else last["started"],
            last_ended=None if last is None else last["ended"],
            errors=tuple((row["id"], row["error"]) for row in errors),
            estimated=sum((Decimal(row["estimate"]) for row in priced), Decimal(0)) if priced else None,
            charged=sum((Decimal(row["charge"]) for row in priced if row["charge"] is not None), Decimal(0)),
            in_flight=sum((Decimal(row["estimate"]) for row in priced if row["state"] in flying), Decimal(0)),
        )

    # -- inside --------------------------------------------------------------------------------

    def _downloads_pending(self, out: Optional[Path]) -> int:
        """Completed items whose outputs are not all downloaded, or not all on disk any more in
        ``out`` (by default the outputs folder of the latest run, if it still exists: a folder
        moved away elsewhere cannot be checked)."""
        pending = self._db.execute(
            "SELECT COUNT(*) FROM items"
            " WHERE state = ? AND json_array_length(paths) < json_array_length(urls)",
            (COMPLETED,),
        ).fetchone()[0]
        if out is None:
            recorded = self._db.execute("SELECT value FROM meta WHERE key = 'out'").fetchone()
            out = Path(recorded[0]) if recorded is not None else None
        if out is None or not out.is_dir():
            return int(pending)
        downloaded = self._db.execute(
            "SELECT * FROM items WHERE state = ? AND json_array_length(paths) > 0"
            " AND json_array_length(paths) >= json_array_length(urls)",
            (COMPLETED,),
        )
        gone = sum(1 for row in downloaded if not _all_on_disk(Record.from_row(row), out))
        return int(pending) + gone

    def _write(self, record: Record, *, durable: bool, **changes: Any) -> Record:
        new = replace(record, updated=time.time(), **changes)
        changed = [*changes, "updated"]
        # The column names are this module's own keyword arguments, never outside text.
        assignments = ", ".join(f"{name} = ?" for name in changed)
        values = [_column(getattr(new, name)) for name in changed]
        update = f"UPDATE items SET {assignments} WHERE id = ?"
        if durable and self._open_since is None:
            self._db.execute(update, (*values, new.id))  # a transaction of its own
            return new
        if self._open_since is None:
            self._db.execute("BEGIN IMMEDIATE")
            self._open_since = time.monotonic()
        try:
            self._db.execute(update, (*values, new.id))
        except BaseException:
            self._open_since = None
            self._db.execute("ROLLBACK")  # the steps that waited are lost, as in a crash
            raise
        if durable or time.monotonic() - self._open_since >= self.flush_after:
            self.flush()
        return new

    def _transaction(self, *, write: bool = True) -> _Transaction:
        self.flush()
        return _Transaction(self._db, write)


class _Transaction:
    """BEGIN IMMEDIATE (or a plain BEGIN to read) ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection, write: bool) -> None:
        self._db = db
        self._begin = "BEGIN IMMEDIATE" if write else "BEGIN"

    def __enter__(self) -> None:
        self._db.execute(self._begin)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _all_on_disk(record: Record, out: Path) -> bool:
    return len(record.outputs_on_disk(out)) == len(record.paths)


def _column(value: Any) -> Any:
    """A record's value as its column holds it (tuples of URLs and paths as JSON arrays)."""
    return json.dumps(value) if isinstance(value, tuple) else value


def _create(path: Path) -> None:
    """Make an empty journal at ``path`` whole, then move it in: a reader never sees it half made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    db = sqlite3.connect(draft, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")  # kept in the file's header
        db.executescript(_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    finally:
        db.close()
    try:
        os.link(draft, path)  # fails if another process made the journal meanwhile: keep theirs
    except FileExistsError:
        pass
    except OSError:  # pragma: no cover - a file system without hard links
        if not path.exists():
            os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """True if process ``pid`` exists (always False on Windows, where this cannot be asked
    without side effects)."""
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would terminate the process there
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _outcome(last: Optional[sqlite3.Row]) -> Optional[str]:
    if last is None:
        return None
    if last["outcome"] is None and last["ended"] is None and not process_alive(last["pid"]):
        return "killed"
    outcome: Optional[str] = last["outcome"]
    return outcome


def _running_pid(last: Optional[sqlite3.Row]) -> Optional[int]:
    if last is None or last["ended"] is not None or last["outcome"] is not None:
        return None
    pid: int = last["pid"]
    return pid if process_alive(pid) else None


def _twice(item_id: str, first: int, second: int) -> BatchInputError:
    return BatchInputError(
        f"item id {item_id!r} appears twice in the input (items {first} and {second}; ids are "
        "compared without case)"
    )


def _check_same(record: Record, item: BatchItem, position: int, run: int) -> None:
    if record.run == run and record.position != position:
        raise _twice(item.id, record.position, position)
    if record.digest != item.digest:
        raise BatchConflictError(
            f"item {item.id!r} changed since it was journaled (model {record.model!r}, state "
            f"{record.state}): its model or arguments differ now. Give the changed item a new id, "
            "or start another journal (--journal / another output folder)"
        )
