"""Load a tar backup's table data as it streams by, one table's rows spread over N connections.

A :class:`~runbook_helpers.archive.stream.MemberSink`, after
:class:`~runbook_helpers.archive.counts.TarStats` (which reads ``toc.dat`` first). At the end of
``toc.dat`` the tables are created (``on_toc``: ``pg_restore --section=pre-data`` from it). Each
``NNNN.dat`` member of a ``TABLE DATA`` entry is then sent, in whole lines, round-robin to N
``COPY ... FROM STDIN`` sessions on the table (one thread each: psycopg sends without the GIL),
so the server parses and inserts one table's rows on N cores while the archive is still being
read. The COPY statement is built from the identifiers of the entry's ``COPY ... FROM stdin;``
line (:mod:`runbook_helpers.archive.copy_statement`), never sent as the backup wrote it; the data's
``\\.`` terminator is not sent. Every session sets what ``pg_restore`` sets for its data
(``client_encoding`` from the archive, no timeouts, ``row_security = off``) and commits per
table: the database is a side database, dropped on any failure.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from runbook_helpers.archive.copy_statement import CopyStatement, parse_copy
from runbook_helpers.archive.toc import TocEntry
from runbook_helpers.errors import IntegrityError

_ENCODING = re.compile(r"^SET client_encoding = '([A-Za-z0-9_]+)';\s*$")
_HOLD = 64  # bytes kept back: the terminator line and the blank lines after it
_DEPTH = 8  # pieces waiting per session (memory stays flat)
_SESSION = (
    "set statement_timeout = 0",
    "set lock_timeout = 0",
    "set idle_in_transaction_session_timeout = 0",
    "set row_security = off",
)


def encoding(entries: list[TocEntry]) -> str:
    """The archive's ``client_encoding`` (its ENCODING entry); UTF8 if it names none."""
    for entry in entries:
        if entry.desc == "ENCODING" and entry.defn:
            match = _ENCODING.match(entry.defn)
            if match:
                return match.group(1)
    return "UTF8"


def copy_targets(entries: list[TocEntry]) -> dict[str, CopyStatement]:
    """Data file name -> its table's COPY target, for every TABLE DATA entry.

    IntegrityError for one whose statement is not ``COPY name (columns) FROM stdin;``.
    """
    targets: dict[str, CopyStatement] = {}
    for entry in entries:
        if entry.desc != "TABLE DATA" or not entry.filename:
            continue
        parsed = parse_copy(entry.copy_stmt or "")
        if parsed is None:
            raise IntegrityError(
                f"the archive's data entry {entry.dump_id} does not load with COPY ... FROM "
                "stdin: not written by pg_dump",
                hint="treat this file as tampered with and restore another backup",
            )
        targets[entry.filename] = parsed
    return targets


def copy_sql(target: CopyStatement) -> sql.Composed:
    columns = (
        sql.SQL(" ({})").format(sql.SQL(", ").join(map(sql.Identifier, target.columns)))
        if target.columns
        else sql.SQL("")
    )
    return sql.SQL("copy {}{} from stdin").format(sql.Identifier(*target.name), columns)


class _Session(threading.Thread):
    """One connection: runs the COPYs it is handed, in order, from a bounded queue."""

    def __init__(self, conninfo: str, client_encoding: str) -> None:
        super().__init__(name="runbook-copy", daemon=True)
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_DEPTH)
        self.error: BaseException | None = None
        self.conn = psycopg.connect(conninfo, autocommit=True)
        for setting in _SESSION:
            self.conn.execute(setting)
        self.conn.execute(sql.SQL("set client_encoding = {}").format(sql.Literal(client_encoding)))
        self.start()

    def run(self) -> None:
        try:
            self._serve()
        finally:
            self.conn.close()

    def _serve(self) -> None:
        copy: Any = None
        context: Any = None
        while True:
            kind, value = self.inbox.get()
            if self.error is not None:  # failed: drain, so that the reader never blocks
                if kind == "stop":
                    return
                continue
            try:
                if kind == "begin":
                    self.conn.autocommit = False
                    context = self.conn.cursor().copy(value)
                    copy = context.__enter__()
                elif kind == "rows":
                    copy.write(value)
                elif kind == "end":
                    context.__exit__(None, None, None)
                    self.conn.commit()
                    self.conn.autocommit = True
                    copy = context = None
                else:  # stop
                    return
            except BaseException as exc:  # reported by the reader's next put or finish()
                self.error = exc

    def put(self, kind: str, value: Any = None) -> None:
        self.inbox.put((kind, value))


class CopyLoader:
    """Sink: creates the tables once toc.dat is read, then COPYs every data member's rows."""

    def __init__(
        self,
        conninfo: str,
        jobs: int,
        toc_entries: Callable[[], list[TocEntry]],
        on_toc: Callable[[], None],
    ) -> None:
        self.conninfo, self.jobs = conninfo, max(1, jobs)
        self.toc_entries, self.on_toc = toc_entries, on_toc
        self.targets: dict[str, CopyStatement] = {}
        self.sessions: list[_Session] = []
        self.member: str | None = None
        self.held = b""
        self.turn = 0

    def start(self, name: str, size: int) -> None:
        if name in self.targets:
            self.member = name
            self.held = b""
            statement = copy_sql(self.targets[name])
            for session in self.sessions:
                session.put("begin", statement)

    def data(self, buf: bytes, start: int, end: int) -> None:
        if self.member is None:
            return
        held = self.held + buf[start:end] if self.held else buf[start:end]
        cut = held.rfind(b"\n", 0, len(held) - _HOLD) + 1
        if cut:
            self._send(held[:cut])
            held = held[cut:]
        self.held = held

    def end(self) -> None:
        if self.member is None:
            if not self.targets and not self.sessions:  # toc.dat: create tables, open sessions
                entries = self.toc_entries()
                self.targets = copy_targets(entries)
                self.on_toc()
                client_encoding = encoding(entries)
                self.sessions = [_Session(self.conninfo, client_encoding) for _ in range(self.jobs)]
            return
        rows = self.held
        at = rows.rfind(b"\n\\.\n")
        if rows.startswith(b"\\.\n"):
            rows = b""
        elif at >= 0:
            rows = rows[: at + 1]
        if rows:
            self._send(rows)
        for session in self.sessions:
            session.put("end")
        self.member, self.held = None, b""

    def _send(self, rows: bytes) -> None:
        self._check()
        self.sessions[self.turn % len(self.sessions)].put("rows", rows)
        self.turn += 1

    def _check(self) -> None:
        for session in self.sessions:
            if session.error is not None:
                raise session.error

    def finish(self) -> None:
        """Wait for every session's last COPY; raise the first failure."""
        for session in self.sessions:
            session.put("stop")
        for session in self.sessions:
            session.join()
        try:
            self._check()
        finally:
            self.close()

    def close(self) -> None:
        """Let every session go (after a failure its side database is dropped next, which ends
        a COPY still running on the server); each closes its own connection."""
        for session in self.sessions:
            if session.is_alive():
                session.error = session.error or IntegrityError("the restore stopped")
                with contextlib.suppress(queue.Full):
                    session.inbox.put_nowait(("stop", None))
