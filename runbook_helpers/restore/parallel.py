"""Parallel restore of a tar backup into a side database, renamed to the target only after
every check.

pg_restore cannot restore a tar archive (or anything read from a pipe) with ``-j``, but the
members of pg_dump's tar (``toc.dat``, ``NNNN.dat``) are what a directory archive holds. So the
archive is streamed once (GET -> gunzip -> :class:`~runbook_helpers.archive.stream.TarWalker`)
into ``pg_restore --format=tar --section=pre-data --section=data`` - tables and rows load while
the bytes arrive, as in the serial floor ``gzip -cd | pg_restore`` - while the rows of every
table are counted (a local file's newest ``created_at`` is read again while the indexes build,
:mod:`runbook_helpers.archive.reread`) and only ``toc.dat`` is written to a private temporary
directory (kilobytes: no extracted copy of the data). Once the gzip CRC/length and the
``.sha256`` sidecar have been checked, ``pg_restore --format=directory --section=post-data
-j N`` builds the indexes, constraints and triggers from that ``toc.dat`` on N connections:
the part of a restore that is more than half of it at VLVT's size, and the part ``-j``
parallelises. All of it goes into
``<target>_restore_<stamp>``; the rows are compared, then ANALYZE, the DONE marker, and only
then the side database is renamed to the target (atomically; an empty target it replaces is
dropped). Any failure drops the side database: the target is never touched. The side database's
creation, guard, rename and drop are :mod:`runbook_helpers.restore.side_database`'s.

:func:`choose` is the pre-check: parallel only when it can be all-or-nothing; otherwise the
serial one-transaction stream.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from runbook_helpers import child_lifetime
from runbook_helpers.archive.counts import TarStats
from runbook_helpers.archive.stream import TarWalker
from runbook_helpers.archive.tar_extract import Extractor
from runbook_helpers.errors import IntegrityError
from runbook_helpers.pg.target import Target, maintenance_connection
from runbook_helpers.redact import redact_text
from runbook_helpers.restore.copy import CopyLoader
from runbook_helpers.restore.tools import Into, ToolFailed, raise_for, wait

_BASE = ("--no-owner", "--no-privileges", "--exit-on-error")


@dataclass(frozen=True)
class Choice:
    parallel: bool
    reason: str


def choose(
    jobs: int,
    *,
    target_tables: int,
    target_sessions: int,
    client_major: int | None = None,
    server_major: int | None = None,
) -> Choice:
    """Parallel or serial, and why (printed by the restore)."""
    if jobs <= 1:
        return Choice(False, "serial: --jobs 1")
    if client_major and server_major and client_major >= 17 > server_major:
        return Choice(
            False,
            f"serial: pg_restore {client_major} sends SET transaction_timeout, which PostgreSQL "
            f"{server_major} does not have (the streamed path makes that line version-safe)",
        )
    if target_tables:
        return Choice(False, "serial: the target already holds tables (--allow-non-empty)")
    if target_sessions:
        return Choice(
            False,
            f"serial: {target_sessions} other session(s) are connected to the target, so a "
            "restored copy could not be renamed to it",
        )
    return Choice(
        True,
        f"parallel: rows streamed into {jobs} COPY sessions, then indexes and constraints with "
        f"pg_restore -j {jobs}",
    )


def server_major(target: Target) -> int:
    """The target server's major version (``server_version_num`` 160002 -> 16)."""
    with maintenance_connection(target) as conn:
        row = conn.execute("show server_version_num").fetchone()
    return int(row[0]) // 10000 if row else 0


def load_streamed(
    pg_restore: Path,
    chunks: Iterator[bytes],
    directory: Path,
    into: Into,
    jobs: int = 1,
    newest: bool = True,
) -> TarStats:
    """Pre-data and data, in one pass over ``chunks`` (the decompressed tar): the tables are
    created from ``toc.dat`` as soon as it is read, every table's rows are COPYed over ``jobs``
    connections as they stream by (:mod:`runbook_helpers.restore.copy`) and counted, and the
    rest of the data section (sequence values, large objects) is restored from the kept
    ``toc.dat`` (and large-object files) at the end.
    """
    stats = TarStats(newest)
    loader = CopyLoader(
        into.conninfo,
        jobs,
        lambda: stats.entries,
        lambda: _from_directory(pg_restore, directory, into, ["--section=pre-data"]),
    )
    # kept: toc.dat and large-object files; not the rows (loaded) nor restore.sql (unused)
    keeper = Extractor(directory, skip=lambda name: name in loader.targets or name == "restore.sql")
    walker = TarWalker(stats, keeper, loader)
    try:
        for chunk in chunks:
            walker.feed(chunk)
        walker.finish()  # a tar cut short inside a complete gzip: IntegrityError
        stats.check_complete()
        loader.finish()
    except psycopg.Error as exc:
        if (exc.sqlstate or "")[:2] in ("22", "23"):  # data exception, integrity violation
            raise ToolFailed(f"the backup's rows do not load: {_first_line(exc)}") from (
                IntegrityError(
                    "rows",
                    hint="pg_dump writes rows that fit their own tables: treat this file as "
                    "damaged or tampered with and restore another backup",
                )
            )
        raise ToolFailed(f"loading the table data failed: {_first_line(exc)}") from None
    finally:
        keeper.close()
        loader.close()
    _name_lo_tocs(directory, stats)
    rest = directory / "runbook-rest-of-data.list"
    rest.write_text(
        "".join(f"{e.dump_id};\n" for e in stats.entries if e.filename not in loader.targets)
    )
    _from_directory(pg_restore, directory, into, ["--section=data", "--use-list", str(rest)])
    return stats


def _name_lo_tocs(directory: Path, stats: TarStats) -> None:
    """pg_dump 17+ writes a large-object group's list as the tar member ``blobs_<id>.toc``
    while its toc.dat names the entry ``<id>.dat`` (a tar's name for every data entry); a
    directory archive reads the list from the name toc.dat gives, so it is moved there."""
    for entry in stats.entries:
        if entry.desc != "BLOBS" or not entry.filename or "/" in entry.filename:
            continue
        listed, named = directory / f"blobs_{entry.dump_id}.toc", directory / entry.filename
        if listed.is_file() and not named.exists():
            listed.rename(named)


def _first_line(exc: psycopg.Error) -> str:
    return redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def _from_directory(pg_restore: Path, directory: Path, into: Into, args: list[str]) -> None:
    """``pg_restore --format=directory ARGS`` of ``directory`` (toc.dat and kept files)."""
    cmd = [str(pg_restore), *_BASE, "--format=directory", *args, "--dbname", into.conninfo]
    with tempfile.TemporaryFile() as err:
        proc = child_lifetime.start(
            [*cmd, str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=into.env,
        )
        raise_for(wait(proc), err, "pg_restore")


def build_post_data(pg_restore: Path, directory: Path, into: Into, jobs: int) -> None:
    """``pg_restore -Fd --section=post-data -j N`` from the kept ``toc.dat``; typed error on
    failure. Indexes, constraints and triggers need no table data files."""
    _from_directory(pg_restore, directory, into, ["--section=post-data", "--jobs", str(jobs)])


@contextlib.contextmanager
def workspace(where: Path) -> Iterator[Path]:
    """A private temporary directory for the extracted archive, always removed."""
    with tempfile.TemporaryDirectory(prefix="runbook-restore-", dir=where) as tmp:
        yield Path(tmp)
