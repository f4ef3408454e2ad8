"""Parallel restore of a tar backup: extract while reading, ``pg_restore -Fd -j N`` into a side
database, give it the target's name only after every check.

The members of pg_dump's tar archive (``toc.dat``, ``NNNN.dat``, ``restore.sql``) are what a
directory archive holds, so ``pg_restore -Fd`` reads them unchanged. The archive is streamed
once (GET -> gunzip -> :class:`~runbook_helpers.archive_stream.TarWalker`): the members are written
to a temporary directory and the rows of every table are counted on the way. pg_restore starts
only after the gzip CRC/length and the ``.sha256`` sidecar have been checked, restores into
``<target>_restore_<stamp>``, the rows are compared, then ANALYZE, the DONE marker, and only
then the side database is renamed to the target (atomically; an empty target it replaces is
dropped). Any failure drops the side database: the target is never touched.

:func:`choose` is the pre-check: parallel only when it can be all-or-nothing and there is room
for the extracted copy; otherwise the serial one-transaction stream (it needs no local copy).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg
from psycopg import sql

from runbook_helpers import storage
from runbook_helpers.archive_counts import TarStats
from runbook_helpers.archive_source import OpenedSource
from runbook_helpers.archive_stream import TarWalker
from runbook_helpers.errors import RestoreFailed, RunbookError, UnsafeTarget
from runbook_helpers.restore_outcome import Interrupted
from runbook_helpers.restore_swap import swap_databases
from runbook_helpers.restore_tools import raise_for, wait
from runbook_helpers.tar_extract import Extractor
from runbook_helpers.target import Target, maintenance_connection

#: Compressed -> extracted size when the gzip trailer cannot be read first (an S3 stream).
GZIP_FACTOR = 8
HEADROOM = 1.10


@dataclass(frozen=True)
class Plan:
    parallel: bool
    reason: str
    workdir: Path


def extracted_size(opened: OpenedSource) -> int:
    """Bytes the extracted tar will take: the gzip trailer's ISIZE for a local file (adjusted
    past 4 GiB wraps), else a generous ratio of the compressed size."""
    size = opened.size or 0
    if not opened.format.endswith(".gz"):
        return size
    if storage.is_s3_uri(opened.source):
        return size * GZIP_FACTOR
    with open(opened.source, "rb") as f:
        f.seek(-4, os.SEEK_END)
        isize = int.from_bytes(f.read(4), "little")
    while isize < size:  # ISIZE is the length modulo 2**32
        isize += 1 << 32
    return isize


def choose(
    opened: OpenedSource,
    jobs: int,
    workdir: Path | None,
    *,
    target_tables: int,
    target_sessions: int,
    client_major: int | None = None,
    server_major: int | None = None,
) -> Plan:
    """Parallel or serial, and why (printed by the restore)."""
    where = workdir or Path(tempfile.gettempdir())
    if jobs <= 1:
        return Plan(False, "serial: --jobs 1", where)
    if client_major and server_major and client_major >= 17 > server_major:
        return Plan(
            False,
            f"serial: pg_restore {client_major} sends SET transaction_timeout, which PostgreSQL "
            f"{server_major} does not have (the streamed path makes that line version-safe)",
            where,
        )
    if target_tables:
        return Plan(False, "serial: the target already holds tables (--allow-non-empty)", where)
    if target_sessions:
        return Plan(
            False,
            f"serial: {target_sessions} other session(s) are connected to the target, so a "
            "restored copy could not be renamed to it",
            where,
        )
    need = extracted_size(opened)
    free = shutil.disk_usage(where).free
    if need * HEADROOM > free:
        return Plan(
            False,
            f"serial: the extracted copy needs about {need / 1e6:,.0f} MB and {where} has "
            f"{free / 1e6:,.0f} MB free (set TMPDIR or --workdir for a parallel restore)",
            where,
        )
    return Plan(
        True,
        f"parallel: pg_restore -j {jobs} from an extracted copy in {where} "
        f"(about {need / 1e6:,.0f} MB of {free / 1e6:,.0f} MB free)",
        where,
    )


def server_major(target: Target) -> int:
    """The target server's major version (``server_version_num`` 160002 -> 16)."""
    with maintenance_connection(target) as conn:
        row = conn.execute("show server_version_num").fetchone()
    return int(row[0]) // 10000 if row else 0


def sessions_on(target: Target) -> int:
    """Other sessions connected to the target database (it could not be renamed)."""
    with maintenance_connection(target) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (target.dbname,),
        ).fetchone()
    return int(row[0]) if row else 0


def extract(chunks: Iterator[bytes], directory: Path) -> TarStats:
    """Write the tar members to ``directory`` and count rows, in one pass over ``chunks``."""
    stats = TarStats()
    extractor = Extractor(directory)
    walker = TarWalker(extractor, stats)
    try:
        for chunk in chunks:
            walker.feed(chunk)
        walker.finish()
        stats.check_complete()
    finally:
        extractor.close()
    return stats


def run_pg_restore(
    pg_restore: Path, directory: Path, conninfo: str, env: dict[str, str], jobs: int
) -> None:
    """``pg_restore -Fd -j N`` of the extracted directory; typed error on failure."""
    cmd = [
        str(pg_restore),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--format=directory",
        "--jobs",
        str(jobs),
        "--dbname",
        conninfo,
        str(directory),
    ]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        raise_for(wait(proc), err, "pg_restore")


def drop_database(target: Target, dbname: str) -> bool:
    """Drop ``dbname`` (ending its sessions); False if that failed."""
    try:
        with maintenance_connection(target) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
            )
        return True
    except (psycopg.Error, Exception):
        return False


def rename_into_place(target: Target, side_db: str, stamp: str, wait_s: float = 10.0) -> str | None:
    """Give the restored side database the target's name (the empty target it replaces gets
    ``<target>_old_<stamp>``); short-lived sessions on the target are waited out for
    ``wait_s``, then UnsafeTarget (exit 8) says the restored copy is ready under its side name."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return swap_databases(target, side_db, stamp)
        except UnsafeTarget:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fail_hidden(target: Target, side_db: str, exc: BaseException) -> NoReturn:
    """A parallel restore failed: drop its side database and say the target is untouched."""
    dropped = drop_database(target, side_db)
    left = (
        f"nothing was restored into {target.dbname} (the side database {side_db} was dropped)"
        if dropped
        else f"nothing was restored into {target.dbname}; the side database {side_db} could "
        "not be dropped: drop it by hand"
    )
    if isinstance(exc, KeyboardInterrupt):
        raise Interrupted(f"interrupted; {left}", hint="re-run the same command") from None
    reason = str(exc).split("; nothing was restored")[0] or type(exc).__name__
    hint = exc.hint if isinstance(exc, RunbookError) and exc.hint else "fix the cause, re-run"
    error = type(exc) if isinstance(exc, RunbookError) else RestoreFailed
    cause = exc.__cause__
    if error is RestoreFailed and isinstance(cause, RunbookError):
        error = type(cause)
    raise error(f"{reason}; {left}", hint=hint) from None


@contextlib.contextmanager
def workspace(where: Path) -> Iterator[Path]:
    """A private temporary directory for the extracted archive, always removed."""
    with tempfile.TemporaryDirectory(prefix="runbook-restore-", dir=where) as tmp:
        yield Path(tmp)
