"""Exact row counts read out of a backup archive itself, without restoring it.

Nightly backups made by the Railway template carry no manifest. Their table data is stored as
COPY text, one line per row. A tar archive (what the template writes) is read directly: its
``toc.dat`` names the table of every ``NNNN.dat`` member and the member's line ends are counted
in C (:class:`TarStats`, :mod:`runbook_helpers.row_counter`) - at gunzip speed, and in the same
pass as a restore. Other formats go through ``pg_restore --data-only -f -`` and its COPY blocks
are counted. The newest ``created_at`` is read from that column. ``runbook verify --archive``
and ``runbook restore`` compare a restored database with these numbers.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from runbook_helpers.archive import local_pg_restore, pg_restore_error
from runbook_helpers.archive_source import open_source
from runbook_helpers.archive_stream import TarEnd, TarWalker, iter_gunzip
from runbook_helpers.archive_toc import TocEntry, read_toc
from runbook_helpers.copy_statement import parse_copy
from runbook_helpers.errors import Incompatible, IntegrityError
from runbook_helpers.format_detect import looks_like_text
from runbook_helpers.manifest import TableStats, normalize_timestamp, parse_pg_timestamp
from runbook_helpers.prefetch import prefetch
from runbook_helpers.row_counter import RowCounter

PLAIN_MARK = b"-- PostgreSQL database dump"
PLAIN_HEAD_BYTES = 4096
#: How long pg_restore may take to end once its whole input was written to it.
EOF_GRACE_SECONDS = 15.0


def parse_timestamp(text: str) -> datetime | None:
    """A COPY-text timestamp, e.g. ``2026-11-20 03:00:00.123+00``, as an aware datetime.

    None for NULL (``\\N``); ValueError for values Python cannot represent (see
    :func:`timestamp_order`).
    """
    if text == r"\N":
        return None
    return parse_pg_timestamp(text)


def timestamp_order(text: str) -> tuple[Any, ...]:
    """Sort key for PostgreSQL timestamp text: ``-infinity`` < BC < AD < ``infinity``."""
    value = text.strip()
    if value == "-infinity":
        return (0,)
    if value == "infinity":
        return (4,)
    if value.endswith(" BC"):  # larger years are older
        year, _, rest = value.removesuffix(" BC").partition("-")
        return (1, -int(year) if year.isdigit() else 0, rest)
    try:
        return (2, parse_pg_timestamp(value).timestamp())
    except (ValueError, OverflowError):  # year 10000 and later
        year = value.split("-", 1)[0]
        return (3, len(year), value)


def _copy_target(copy_stmt: str) -> tuple[str, int | None, int] | None:
    """``(schema.table, index of created_at or None, columns)`` from ``COPY ... FROM stdin;``."""
    parsed = parse_copy(copy_stmt)
    if parsed is None:
        return None
    columns = parsed.columns
    created = columns.index("created_at") if "created_at" in columns else None
    return parsed.table, created, len(columns)


class TarStats:
    """A :class:`~runbook_helpers.archive_stream.MemberSink` counting the rows of every table."""

    def __init__(self) -> None:
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


def count_copy_blocks(lines: Iterable[str]) -> dict[str, TableStats]:
    """Rows and newest ``created_at`` of every COPY block in SQL text (pure; easy to test)."""
    stats: dict[str, TableStats] = {}
    it = iter(lines)
    for line in it:
        parsed = parse_copy(line.rstrip("\n"))
        if parsed is None:
            continue
        columns = parsed.columns
        created = columns.index("created_at") if "created_at" in columns else None
        rows = 0
        newest: str | None = None
        newest_key: tuple[Any, ...] = ()
        for row in it:
            if row.rstrip("\n") == "\\.":
                break
            rows += 1
            if created is not None:
                value = row.rstrip("\n").split("\t")[created]
                if value != r"\N":
                    key = timestamp_order(value)
                    if newest is None or key > newest_key:
                        newest, newest_key = value, key
        table = parsed.table
        stats[table] = TableStats(rows=rows, newest_created_at=normalize_timestamp(newest))
    return stats


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
    if not (looks_like_text(head[:PLAIN_HEAD_BYTES]) and PLAIN_MARK in head[:PLAIN_HEAD_BYTES]):
        raise Incompatible(
            f"{source} is not a backup: neither a pg_dump archive nor pg_dump's plain SQL "
            f"(it starts with {head[:12]!r})",
            hint="give the .tar.gz the backup service wrote (see `runbook backups list`)",
        )
    yield head
    yield from chunks


def _tar_checked(chunks: Iterator[bytes], source: str) -> Iterator[bytes]:
    """``chunks``, then IntegrityError if they were a tar archive without its end blocks."""
    tar_end = TarEnd(source)
    for chunk in chunks:
        tar_end.feed(chunk)
        yield chunk
    tar_end.check()


def _feed(chunks: Iterator[bytes], sink: IO[bytes], errors: list[BaseException]) -> None:
    try:
        for chunk in chunks:
            sink.write(chunk)
    except BrokenPipeError:
        pass
    except BaseException as exc:  # reported by the caller after pg_restore ends
        errors.append(exc)
    finally:
        with contextlib.suppress(BrokenPipeError):
            sink.close()


def _watch(
    proc: subprocess.Popen[bytes],
    feeder: threading.Thread,
    errors: list[BaseException],
    grace: float,
) -> None:
    """Stop pg_restore when its input failed, or when it has not ended ``grace`` s after EOF.

    pg_restore reading a truncated tar archive from a pipe spins forever at end of input; it
    has at most a pipe buffer left to process once its input is closed, so a few seconds is
    plenty for an intact archive.
    """
    feeder.join()
    if errors:
        proc.kill()
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        errors.append(
            IntegrityError(
                f"pg_restore did not finish within {grace:g} s after the end of the archive: "
                "the archive is truncated or corrupted",
                hint="fetch the backup again and compare its sha256; else use an older backup",
            )
        )
        proc.kill()


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
        pg_restore, _ = local_pg_restore()
        if opened.format == "directory":
            cmd = [str(pg_restore), "--data-only", "-f", "-", opened.source]
            stdin = subprocess.DEVNULL
        else:
            cmd = [str(pg_restore), "--data-only", "-f", "-"]
            stdin = subprocess.PIPE
            data = _tar_checked(data, source)
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            return _count_from(proc, data, eof_grace)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _count_from(
    proc: subprocess.Popen[bytes], data: Iterator[bytes], eof_grace: float
) -> dict[str, TableStats]:
    errors: list[BaseException] = []
    feeder = watcher = None
    if proc.stdin is not None:
        feeder = threading.Thread(target=_feed, args=(data, proc.stdin, errors), daemon=True)
        feeder.start()
        watcher = threading.Thread(
            target=_watch, args=(proc, feeder, errors, eof_grace), daemon=True
        )
        watcher.start()
    assert proc.stdout is not None and proc.stderr is not None
    stderr_chunks: list[bytes] = []
    drain = threading.Thread(
        target=lambda: stderr_chunks.append(proc.stderr.read() if proc.stderr else b""),
        daemon=True,
    )
    drain.start()
    stats: dict[str, TableStats] = {}
    unreadable: Exception | None = None
    try:
        stats = count_copy_blocks(
            line.decode("utf-8", errors="replace") for line in iter(proc.stdout.readline, b"")
        )
    except (IndexError, ValueError) as exc:  # a row cut short or garbled
        unreadable = exc
        proc.kill()
    status = proc.wait()
    if watcher is not None:
        watcher.join()
    drain.join()
    if errors:  # the input's own fault (truncated gzip, network) explains the rest
        raise errors[0]
    if status != 0 and unreadable is None:
        raise pg_restore_error(b"".join(stderr_chunks).decode("utf-8", errors="replace"))
    if unreadable is not None:
        raise IntegrityError(
            f"the archive's table data is unreadable ({type(unreadable).__name__}: {unreadable})",
            hint="fetch the backup again and compare its sha256; else use an older backup",
        )
    return stats
