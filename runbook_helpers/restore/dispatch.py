"""Restore a dump into a PostgreSQL database, by the fastest path that is still correct.

* ``tar.gz`` / ``tar`` with ``--jobs`` above 1 into an empty target (the pre-check,
  :func:`runbook_helpers.restore.parallel.choose`, says which path and why): tables and rows
  streamed into ``pg_restore``, then indexes and constraints with ``pg_restore -Fd -j N``, into
  a side database renamed to the target only after every check
  (:mod:`runbook_helpers.restore.parallel`).
* otherwise ``tar.gz`` / ``tar`` / ``custom.gz`` read from S3 or a local ``.gz``: streamed, no
  local copy (GET -> gunzip in Python -> ``pg_restore --single-transaction -f -`` -> ``psql``)
  in one transaction whose COMMIT is sent only after the gzip CRC/length and the ``.sha256``
  sidecar have been checked to the last byte (:mod:`runbook_helpers.restore.stream`): damage
  found at the very end commits nothing.
* Either tar path counts the rows (and newest ``created_at``) of every table from the archive's
  bytes as they go by (:class:`runbook_helpers.archive.counts.TarStats`) and compares them with
  the restored database before the DONE mark: a difference is exit 10.
* ``custom`` / ``directory``: from a regular file (downloaded and checked first when on S3) with
  ``pg_restore -j N --exit-on-error``.
* ``plain`` / ``plain.gz``: only with ``--format plain`` (:mod:`runbook_helpers.restore.plain`):
  psql in restricted mode, one transaction whose COMMIT is sent by us after the checks.

Nothing in a backup runs as a psql meta-command: psql always runs in restricted mode
(:mod:`runbook_helpers.pg.psql_restricted`), and content that is not what its name (or
``--format``) says is refused before anything is written. Never into postgres/template0/
template1; one restore per target at a time (:mod:`runbook_helpers.restore.lock`).

Always ``--no-owner --no-privileges``; never "errors ignored". The target carries a marker
(``COMMENT ON DATABASE``) that says "restore IN PROGRESS" until the restore has succeeded, so an
interrupted restore is never mistaken for a good one (``runbook verify`` reports it). What a
failure left is said exactly (:mod:`runbook_helpers.restore.outcome`); tools' failures become
typed errors in :mod:`runbook_helpers.restore.tools`; ``--swap`` is
:mod:`runbook_helpers.restore.side_database` (as is the parallel restore's side database).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import tempfile
import time
from pathlib import Path

from runbook_helpers.archive import header as archive_format
from runbook_helpers.archive.counts import TarStats
from runbook_helpers.archive.inspect import pg_restore_for
from runbook_helpers.archive.manifest import TableStats
from runbook_helpers.archive.source import OpenedSource, decompressed_head, open_source
from runbook_helpers.errors import IntegrityError, RunbookError
from runbook_helpers.pg.marker import MARKER_IN_PROGRESS, read_marker, set_marker, utc_now
from runbook_helpers.pg.psql_restricted import restricted_psql
from runbook_helpers.pg.target import (
    Target,
    check_not_production,
    check_target_name,
    connect,
    connect_error,
    create_database,
    database_exists,
    ensure_empty,
    user_tables,
)
from runbook_helpers.pg.tools import tool_version
from runbook_helpers.r2 import storage
from runbook_helpers.redact import redact_text
from runbook_helpers.restore import parallel, rows
from runbook_helpers.restore.checksum import NOTHING_RESTORED, check_sha, sidecar_sha256
from runbook_helpers.restore.lock import restore_lock
from runbook_helpers.restore.options import RestoreOptions, RestoreResult, default_jobs
from runbook_helpers.restore.outcome import Prior, fail
from runbook_helpers.restore.runners import is_parallel, run_file, run_parallel, run_stream
from runbook_helpers.restore.side_database import SideDatabase, count_sessions
from runbook_helpers.restore.source_bytes import ByteCounter, download, hash_file
from runbook_helpers.restore.tools import PartialCommit, ToolFailed

__all__ = ["RestoreOptions", "RestoreResult", "default_jobs", "restore"]


def restore(source: str, target_url: str, options: RestoreOptions | None = None) -> RestoreResult:
    """Restore ``source`` (path or s3:// URI) into ``target_url``; see the module docstring."""
    opts = options or RestoreOptions()
    stage = opts.on_stage or (lambda _msg: None)
    target = Target.parse(target_url)
    check_not_production(target, production=opts.production)
    check_target_name(target)
    side_db = opts.side_db or opts.swap  # --swap restores into a side database, then swaps
    jobs = opts.jobs or default_jobs()
    started = utc_now()
    stamp = f"{started:%Y%m%d%H%M%S}_{secrets.token_hex(2)}"  # unique within one second
    safe_source = redact_text(source)
    stages: dict[str, float] = {}
    lock = contextlib.ExitStack()

    with lock, open_source(source, client=opts.client) as opened:
        fmt = opened.format
        if opts.on_total:
            opts.on_total(opened.size or 0)
        try:
            head, consumed = decompressed_head(opened)
        except IntegrityError as exc:
            raise IntegrityError(
                str(exc),
                hint=exc.hint or "fetch the backup again; if it persists, use an older backup",
                left=NOTHING_RESTORED,
            ) from None
        archive_format.check_source_content(source, fmt, head, opts.format)
        header = archive_format.header_from_head(fmt, head)
        tool = _pick_tool(fmt, header)
        expected_sha = sidecar_sha256(source, opts.client) if fmt != "directory" else None

        # --- prepare the target (nothing is written before every check has passed)
        if opts.swap or not side_db:  # a side database of its own needs no lock
            lock.enter_context(restore_lock(target, target.dbname))
        dbname = target.dbname
        prior = Prior()
        target_exists = side_db or database_exists(target, dbname)
        sessions = 0
        if not side_db and target_exists:
            with connect(target.url, dbname=dbname) as conn:
                ensure_empty(conn, target.url, allow_non_empty=opts.allow_non_empty)
                prior.tables = len(user_tables(conn))
                prior.comment = read_marker(conn)
                # on the pre-check's own connection: it is never one of them
                sessions = count_sessions(conn, dbname).get(dbname, 0)
        elif not target_exists and not opts.create:
            raise connect_error(target, dbname, Exception(f'database "{dbname}" does not exist'))
        plan = None
        if fmt in ("tar", "tar.gz"):  # the pre-check: parallel or serial, and why
            plan = parallel.choose(
                jobs,
                opts.workdir,
                target_tables=prior.tables,
                target_sessions=sessions,
                client_major=tool_version(tool)[0],
                server_major=parallel.server_major(target),
            )
            stage(plan.reason)
        hidden = plan is not None and plan.parallel and not side_db
        side: SideDatabase | None = None
        if side_db or hidden:
            # hidden: from here until it is renamed, any failure or Ctrl-C drops it
            side = lock.enter_context(SideDatabase(target, stamp, hidden=hidden))
            dbname = side.name
            side.create(stage)
            prior.created = True
        elif not target_exists:
            create_database(target, dbname)
            prior.created = True
            stage(f"created database {dbname}")

        settled: dict[str, TableStats] | None = None  # counted (and analyzed) already
        method, local_file = _plan(fmt, opened, jobs)
        if plan is not None and plan.parallel:
            method = "parallel"
        hasher = hashlib.sha256()
        counter = ByteCounter(opts.on_bytes)
        tar_stats = TarStats() if fmt.startswith("tar") and method != "file" else None
        tmpdir: tempfile.TemporaryDirectory[str] | None = None
        try:
            if method == "file" and local_file is None:
                # custom archive on S3 (or gzip'd): download (and gunzip) to a file, then -j
                tmpdir = tempfile.TemporaryDirectory(prefix="runbook-restore-", dir=opts.workdir)
                t0 = time.perf_counter()
                local_file = download(opened, consumed, Path(tmpdir.name), hasher, counter)
                stages["fetch"] = time.perf_counter() - t0
                stage(f"fetched {counter.total:,} bytes in {stages['fetch']:.1f}s")
                check_sha(expected_sha, hasher.hexdigest(), source, left=NOTHING_RESTORED)
            elif (
                method == "file" and local_file is not None and expected_sha and fmt != "directory"
            ):
                t0 = time.perf_counter()
                hash_file(local_file, hasher, counter)
                stages["checksum"] = time.perf_counter() - t0
                check_sha(expected_sha, hasher.hexdigest(), source, left=NOTHING_RESTORED)

            with connect(target.url, dbname=dbname) as conn:
                set_marker(conn, dbname, MARKER_IN_PROGRESS.format(source=safe_source, at=started))
            conninfo = target.conninfo(dbname, with_password=False)

            def checks() -> None:  # before anything commits: the whole source was read
                check_sha(expected_sha, hasher.hexdigest(), source, left="")

            t0 = time.perf_counter()
            try:
                if method == "parallel":
                    assert plan is not None
                    desc, tar_stats, t0, settled = run_parallel(
                        plan,
                        opened,
                        consumed,
                        hasher,
                        counter,
                        checks,
                        tool,
                        conninfo,
                        target,
                        jobs,
                        stages,
                        stage,
                        dbname,
                        opts.analyze,
                        opts.maintenance_work_mem,
                    )
                    desc += f" (into {dbname})"
                elif method == "file":
                    assert local_file is not None
                    desc = run_file(
                        tool,
                        fmt.removesuffix(".gz"),
                        local_file,
                        conninfo,
                        target,
                        jobs,
                        opts.on_process,
                    )
                else:
                    desc = run_stream(
                        tool,
                        fmt,
                        opened,
                        consumed,
                        conninfo,
                        target,
                        hasher,
                        counter,
                        opts.on_process,
                        checks,
                        tar_stats,
                    )
            except (ToolFailed, RunbookError, KeyboardInterrupt) as exc:
                if side is not None and side.hidden:  # its guard drops it, words the error
                    raise
                if not isinstance(exc, (ToolFailed, IntegrityError, KeyboardInterrupt)):
                    raise
                partial = (method == "file" and is_parallel(fmt, jobs)) or isinstance(
                    exc, PartialCommit
                )
                fail(target, dbname, safe_source, partial, prior, exc)
            stages["restore" if method != "stream" else "stream+restore"] = time.perf_counter() - t0
            stage(f"restored with {desc} in {time.perf_counter() - t0:.1f}s")
        finally:
            if tmpdir is not None:
                tmpdir.cleanup()

        checked, marker, tables = rows.finish(
            target, dbname, safe_source, tar_stats, prior, opts.analyze, stages, stage, settled
        )
        swapped_old = None
        final_db = dbname
        if side is not None and side.hidden:  # every check has passed: it takes the target's name
            side.into_place(stage)
            final_db = target.dbname

    if opts.swap:
        assert side is not None
        t0 = time.perf_counter()
        swapped_old = side.swap_in(stage)
        stages["swap"] = time.perf_counter() - t0
        final_db = target.dbname
    return RestoreResult(
        source=safe_source,
        target=target.display_for(final_db),
        database=final_db,
        format=fmt,
        method=desc,
        archive_version=header.version if header else None,
        tool=str(tool),
        bytes_read=counter.total,
        sha256=hasher.hexdigest() if counter.total else "",
        checksum=("verified" if expected_sha else "no sidecar") if counter.total else "not checked",
        stages=stages,
        tables=tables,
        swapped_old=swapped_old,
        marker=marker,
        checked=checked,
    )


def _pick_tool(fmt: str, header: archive_format.ArchiveHeader | None) -> Path:
    if fmt.startswith("plain"):
        return restricted_psql()
    assert header is not None
    return pg_restore_for(header)


def _plan(fmt: str, opened: OpenedSource, jobs: int) -> tuple[str, Path | None]:
    """``("file", path-or-None-to-download)`` or ``("stream", None)``."""
    local = None if storage.is_s3_uri(opened.source) else Path(opened.source)
    if fmt == "directory" or fmt == "tar":
        return ("file", local) if local else ("stream", None)
    if fmt == "custom":
        return "file", local
    if fmt == "custom.gz" and jobs > 1:
        return "file", None
    return "stream", None
