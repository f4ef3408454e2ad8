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

Once the target is ready, one :class:`~runbook_helpers.restore.run.RestoreRun` is opened - the
source, the plan (:func:`_plan`, the one place the source's kind and place meet the pre-check),
the database, the hasher, the timings - and every later stage reads it.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from datetime import datetime
from pathlib import Path

from runbook_helpers.archive import header as archive_format
from runbook_helpers.archive.inspect import pg_restore_for
from runbook_helpers.archive.source import decompressed_head, open_source
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
from runbook_helpers.restore import parallel, rows
from runbook_helpers.restore.checksum import NOTHING_RESTORED
from runbook_helpers.restore.lock import restore_lock
from runbook_helpers.restore.options import RestoreOptions, RestoreResult, default_jobs
from runbook_helpers.restore.outcome import Prior, fail
from runbook_helpers.restore.run import Method, Plan, Restored, RestoreRun, Source
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
    lock = contextlib.ExitStack()

    with lock, open_source(source, client=opts.client) as opened:
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
        fmt = opened.format
        archive_format.check_source_content(source, fmt, head, opts.format)
        header = archive_format.header_from_head(fmt, head)
        tool = _pick_tool(fmt, header)
        src = Source.of(opened, opts.client)

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
        choice = None
        if fmt in ("tar", "tar.gz"):  # the pre-check: parallel or serial, and why
            choice = parallel.choose(
                jobs,
                target_tables=prior.tables,
                target_sessions=sessions,
                client_major=tool_version(tool)[0],
                server_major=parallel.server_major(target),
            )
            stage(choice.reason)
        plan = _plan(src, jobs, choice)
        hidden = plan.method is Method.PARALLEL and not side_db
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

        run = RestoreRun(
            source=src,
            opened=opened,
            consumed=consumed,
            plan=plan,
            target=target,
            dbname=dbname,
            tool=tool,
            jobs=jobs,
            options=opts,
            counter=ByteCounter(opts.on_bytes),
        )
        restored = _restore_into(run, prior, started, hidden=hidden)
        checked, marker, tables = rows.finish(run, prior, restored)
        swapped_old = None
        final_db = dbname
        if side is not None and side.hidden:  # every check has passed: it takes the target's name
            side.into_place(stage)
            final_db = target.dbname

    if opts.swap:
        assert side is not None
        t0 = time.perf_counter()
        swapped_old = side.swap_in(stage)
        run.timings.add("swap", t0)
        final_db = target.dbname
    read = run.counter.total
    return RestoreResult(
        source=src.safe,
        target=target.display_for(final_db),
        database=final_db,
        format=fmt,
        method=restored.method,
        archive_version=header.version if header else None,
        tool=str(tool),
        bytes_read=read,
        sha256=run.hasher.hexdigest() if read else "",
        checksum=("verified" if src.sidecar else "no sidecar") if read else "not checked",
        stages=run.timings.as_dict(),
        tables=tables,
        swapped_old=swapped_old,
        marker=marker,
        checked=checked,
    )


def _restore_into(run: RestoreRun, prior: Prior, started: datetime, *, hidden: bool) -> Restored:
    """Check a file before it is restored, mark the database IN PROGRESS, run the plan's runner;
    a failure is said exactly (:func:`runbook_helpers.restore.outcome.fail`) - a hidden side
    database's guard says it instead."""
    method, source, target, stage = run.plan.method, run.source, run.target, run.stage
    with contextlib.ExitStack() as tmp:
        path = None if source.format.endswith(".gz") else source.local
        if method is Method.FILE and path is None:
            # custom archive on R2, or gzip'd: download (and gunzip) to a file, then -j
            where = Path(
                tmp.enter_context(
                    tempfile.TemporaryDirectory(prefix="runbook-restore-", dir=run.options.workdir)
                )
            )
            t0 = time.perf_counter()
            path = download(run.opened, run.consumed, where, run.hasher, run.counter)
            took = run.timings.add("fetch", t0)
            stage(f"fetched {run.counter.total:,} bytes in {took:.1f}s")
            run.check_sidecar(left=NOTHING_RESTORED)
        elif method is Method.FILE and path is not None and source.sidecar:
            t0 = time.perf_counter()
            hash_file(path, run.hasher, run.counter)
            run.timings.add("checksum", t0)
            run.check_sidecar(left=NOTHING_RESTORED)

        with connect(target.url, dbname=run.dbname) as conn:
            set_marker(conn, run.dbname, MARKER_IN_PROGRESS.format(source=source.safe, at=started))
        t0 = time.perf_counter()
        try:
            if method is Method.PARALLEL:
                restored = run_parallel(run)
            elif method is Method.FILE:
                assert path is not None
                restored = run_file(run, path)
            else:
                restored = run_stream(run)
        except (ToolFailed, RunbookError, KeyboardInterrupt) as exc:
            if hidden:  # its guard drops the side database, words the error for the target
                raise
            if not isinstance(exc, (ToolFailed, IntegrityError, KeyboardInterrupt)):
                raise
            partial = (
                method is Method.FILE and is_parallel(source.format, run.jobs)
            ) or isinstance(exc, PartialCommit)
            fail(target, run.dbname, source.safe, partial, prior, exc)
        took = run.timings.add("restore" if method is not Method.STREAM else "stream+restore", t0)
        stage(f"restored with {restored.method} in {took:.1f}s")
    return restored


def _pick_tool(fmt: str, header: archive_format.ArchiveHeader | None) -> Path:
    if fmt.startswith("plain"):
        return restricted_psql()
    assert header is not None
    return pg_restore_for(header)


def _plan(source: Source, jobs: int, choice: parallel.Choice | None) -> Plan:
    """How the restore runs, and why: the one place the source's kind, place and the
    pre-check's choice meet."""
    fmt, local = source.format, source.local
    if choice is not None and choice.parallel:
        return Plan(Method.PARALLEL, choice.reason)
    why = choice.reason if choice is not None else ""
    if fmt in ("directory", "tar"):
        if local is not None:
            return Plan(Method.FILE, why or "file: pg_restore -j from the local directory")
        return Plan(Method.STREAM, why)
    if fmt == "custom":
        return Plan(Method.FILE, f"file: pg_restore -j {jobs} from a regular file")
    if fmt == "custom.gz" and jobs > 1:
        return Plan(Method.FILE, f"file: downloaded and gunzipped for pg_restore -j {jobs}")
    return Plan(Method.STREAM, why or "stream: one transaction, committed after the checks")
