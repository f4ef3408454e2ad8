"""Parallel restore of a tar backup into a side database, renamed to the target only after
every check.

pg_restore cannot restore a tar archive (or anything read from a pipe) with ``-j``, but the
members of pg_dump's tar (``toc.dat``, ``NNNN.dat``) are what a directory archive holds. So the
archive is streamed once (GET -> gunzip -> :class:`~runbook_helpers.archive_stream.TarWalker`)
into ``pg_restore --format=tar --section=pre-data --section=data`` - tables and rows load while
the bytes arrive, as in the serial floor ``gzip -cd | pg_restore`` - while the rows of every
table are counted and only ``toc.dat`` is written to a private temporary directory (kilobytes:
no extracted copy of the data). Once the gzip CRC/length and the ``.sha256`` sidecar have been
checked, ``pg_restore --format=directory --section=post-data -j N`` builds the indexes,
constraints and triggers from that ``toc.dat`` on N connections: the part of a restore that is
more than half of it at VLVT's size, and the part ``-j`` parallelises. All of it goes into
``<target>_restore_<stamp>``; the rows are compared, then ANALYZE, the DONE marker, and only
then the side database is renamed to the target (atomically; an empty target it replaces is
dropped). Any failure drops the side database: the target is never touched.

:func:`choose` is the pre-check: parallel only when it can be all-or-nothing; otherwise the
serial one-transaction stream.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg
from psycopg import sql

from runbook_helpers.archive_counts import TarStats
from runbook_helpers.archive_stream import TarWalker
from runbook_helpers.errors import IntegrityError, RestoreFailed, RunbookError, UnsafeTarget
from runbook_helpers.restore_outcome import Interrupted
from runbook_helpers.restore_swap import swap_databases
from runbook_helpers.restore_tools import raise_for, wait
from runbook_helpers.tar_extract import Extractor
from runbook_helpers.target import Target, maintenance_connection

#: How long pg_restore may take to end once its whole input was written to it (it has at most
#: a pipe and a socket buffer of rows left; a truncated tar is caught before this is waited for).
EOF_GRACE_SECONDS = 60.0
SECTIONS_STREAMED = ("--section=pre-data", "--section=data")
_BASE = ("--no-owner", "--no-privileges", "--exit-on-error")


@dataclass(frozen=True)
class Plan:
    parallel: bool
    reason: str
    workdir: Path


def choose(
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
    return Plan(
        True,
        f"parallel: tables and rows streamed, then indexes and constraints with pg_restore "
        f"-j {jobs}",
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


def load_streamed(
    pg_restore: Path,
    chunks: Iterator[bytes],
    directory: Path,
    conninfo: str,
    env: dict[str, str],
    grace: float = EOF_GRACE_SECONDS,
) -> TarStats:
    """Pre-data and data: ``chunks`` (the decompressed tar) streamed into ``pg_restore -Ft``,
    rows counted and ``toc.dat`` written to ``directory`` in the same pass.

    Reads the source to its end even when pg_restore stops early (it never reads the tar's
    trailer), so the gzip CRC/length and the sha256 are checked to the last byte.
    """
    stats = TarStats()
    keeper = Extractor(directory, only=frozenset({"toc.dat"}))
    walker = TarWalker(keeper, stats)
    cmd = [*_BASE, "--format=tar", *SECTIONS_STREAMED, "--dbname", conninfo]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(pg_restore), *cmd],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
        assert proc.stdin is not None
        try:
            feeding = True
            for chunk in chunks:
                walker.feed(chunk)
                if feeding:
                    try:
                        proc.stdin.write(chunk)
                    except BrokenPipeError:
                        feeding = False
                        if proc.wait() != 0:
                            break  # pg_restore failed: its error says why
            else:
                walker.finish()  # a tar cut short inside a complete gzip: IntegrityError
                stats.check_complete()
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            code = _wait_after_eof(proc, grace)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            keeper.close()
        raise_for(code, err, "pg_restore")
    return stats


def _wait_after_eof(proc: subprocess.Popen[bytes], grace: float) -> int:
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        raise IntegrityError(
            f"pg_restore did not finish within {grace:g} s after the end of the archive: "
            "the archive is truncated or corrupted",
            hint="fetch the backup again and compare its sha256; else use an older backup",
        ) from None


def build_post_data(
    pg_restore: Path, directory: Path, conninfo: str, env: dict[str, str], jobs: int
) -> None:
    """``pg_restore -Fd --section=post-data -j N`` from the kept ``toc.dat``; typed error on
    failure. Indexes, constraints and triggers need no table data files."""
    cmd = [
        str(pg_restore),
        *_BASE,
        "--format=directory",
        "--section=post-data",
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
