"""Exact row counts read out of a backup archive itself, without restoring it.

Nightly backups made by the Railway template carry no manifest. Their table data is stored as
COPY text, one line per row. A tar archive (what the template writes) is read directly: its
``toc.dat`` names the table of every ``NNNN.dat`` member and the member's line ends are counted
in C (:class:`TarStats`, :mod:`runbook_helpers.archive.row_counter`) - at gunzip speed, and in the
same
pass as a restore. Other formats go through ``pg_restore --data-only -f -`` and its COPY blocks
are counted. The newest ``created_at`` is read from that column. ``runbook verify --archive``
and ``runbook restore`` compare a restored database with these numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runbook_helpers.archive.copy_blocks import count_copy_blocks, timestamp_order
from runbook_helpers.archive.copy_statement import parse_copy
from runbook_helpers.archive.detect import looks_like_text
from runbook_helpers.archive.manifest import TableStats, normalize_timestamp
from runbook_helpers.archive.pg_restore_counts import EOF_GRACE_SECONDS, count_with_pg_restore
from runbook_helpers.archive.row_counter import RowCounter
from runbook_helpers.archive.source import open_source
from runbook_helpers.archive.stream import TarWalker, iter_gunzip
from runbook_helpers.archive.toc import TocEntry, read_toc
from runbook_helpers.errors import Incompatible, IntegrityError
from runbook_helpers.prefetch import prefetch

PLAIN_MARK = b"-- PostgreSQL database dump"
PLAIN_HEAD_BYTES = 4096


def _copy_target(copy_stmt: str) -> tuple[str, int | None, int] | None:
    """``(schema.table, index of created_at or None, columns)`` from ``COPY ... FROM stdin;``."""
    parsed = parse_copy(copy_stmt)
    if parsed is None:
        return None
    columns = parsed.columns
    created = columns.index("created_at") if "created_at" in columns else None
    return parsed.table, created, len(columns)


class TarStats:
    """A :class:`~runbook_helpers.archive.stream.MemberSink` counting the rows of every table."""

    def __init__(self, newest: bool = True) -> None:
        self.newest = newest  # False: rows only (the created_at column is read elsewhere)
        # member name -> (table, index of created_at, number of columns)
        self.tables: dict[str, tuple[str, int | None, int]] = {}
        self.toc: bytearray | None = None
        self.current: tuple[str, RowCounter] | None = None
        self.stats: dict[str, TableStats] = {}
        self.entries: list[TocEntry] = []  # toc.dat's, once read
        self.first = True

    def start(self, name: str, size: int) -> None:
        if self.first and name != "toc.dat":
            raise Incompatible(
                f"the tar archive starts with {name!r}, not toc.dat: not a pg_dump tar archive",
                hint="give the .tar.gz the backup service wrote (see `runbook backups list`)",
            )
        self.first = False
        if name == "toc.dat":
            self.toc = bytearray()
        elif name in self.tables:
            table, created, columns = self.tables[name]
            created = created if self.newest else None
            self.current = (table, RowCounter(created, timestamp_order, columns))

    def data(self, buf: bytes, start: int, end: int) -> None:
        if self.current is not None:
            self.current[1].data(buf, start, end)
        elif self.toc is not None:
            self.toc += buf[start:end]

    def end(self) -> None:
        if self.toc is not None:
            self.entries = read_toc(bytes(self.toc))
            for entry in self.entries:
                target = _copy_target(entry.copy_stmt or "") if entry.desc == "TABLE DATA" else None
                if target and entry.filename:
                    self.tables[entry.filename] = target
            self.toc = None
        elif self.current is not None:
            table, counter = self.current
            rows, newest = counter.result()
            self.stats[table] = TableStats(rows=rows, newest_created_at=normalize_timestamp(newest))
            self.current = None

    def check_complete(self) -> None:
        """Incompatible when no toc.dat came by (an empty tar)."""
        if self.first:
            raise Incompatible(
                "the tar archive holds no toc.dat: not a pg_dump tar archive",
                hint="give the .tar.gz the backup service wrote (see `runbook backups list`)",
            )


def count_tar(chunks: Iterator[bytes]) -> dict[str, TableStats]:
    """Rows (and newest created_at) per table of a tar archive's decompressed bytes."""
    stats = TarStats()
    walker = TarWalker(stats)
    for chunk in chunks:
        walker.feed(chunk)
    walker.finish()
    stats.check_complete()
    return stats.stats


def _text_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


def _pg_dump_sql(chunks: Iterator[bytes], source: str) -> Iterator[bytes]:
    """``chunks`` if they start like pg_dump's plain SQL; Incompatible for anything else.

    Counting COPY blocks of text that pg_dump did not write would report an empty database
    (every table "extra") instead of saying the file is not a backup.
    """
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= PLAIN_HEAD_BYTES:
            break
    if not head:  # an empty gzip (pg_dump died before writing): what inspect and restore say
        raise IntegrityError(
            f"{source} holds no data once decompressed: not a PostgreSQL dump",
            hint="the backup failed when it was made; use another one",
        )
    if not (looks_like_text(head[:PLAIN_HEAD_BYTES]) and PLAIN_MARK in head[:PLAIN_HEAD_BYTES]):
        raise Incompatible(
            f"{source} is not a backup: neither a pg_dump archive nor pg_dump's plain SQL "
            f"(it starts with {head[:12]!r})",
            hint="give the .tar.gz the backup service wrote (see `runbook backups list`)",
        )
    yield head
    yield from chunks


def archive_table_stats(
    source: str, *, client: Any = None, eof_grace: float = EOF_GRACE_SECONDS
) -> dict[str, TableStats]:
    """Exact rows per table (and newest ``created_at``) stored in the archive at ``source``.

    Ends with :class:`IntegrityError` (never hangs) on a truncated or corrupted archive.
    """
    with open_source(source, client=client) as opened:
        raw = opened.raw_chunks()
        data = iter_gunzip(raw) if opened.format.endswith(".gz") else raw
        if opened.format.startswith("plain"):
            return count_copy_blocks(_text_lines(_pg_dump_sql(data, source)))
        if opened.format.startswith("tar"):
            return count_tar(prefetch(data))
        return count_with_pg_restore(opened.format, opened.source, data, eof_grace)
