"""The rows check of a restore: the rows counted from the archive as it streamed
(:func:`runbook_helpers.restore.source_bytes.counted`), compared with the restored database
before DONE."""

from __future__ import annotations

import time

from runbook_helpers.archive.manifest import TableCheck, compare, table_stats
from runbook_helpers.errors import VerifyMismatch
from runbook_helpers.pg.marker import MARKER_DONE, MARKER_FAILED, set_marker, utc_now
from runbook_helpers.pg.target import connect, user_tables
from runbook_helpers.restore.outcome import Prior
from runbook_helpers.restore.run import Restored, RestoreRun


def finish(
    run: RestoreRun, prior: Prior, restored: Restored
) -> tuple[list[TableCheck] | None, str, int]:
    """Compare the rows read from the archive with the restored database, ANALYZE, mark DONE.

    ``restored.settled``: the restored rows, already counted (and ANALYZE done) by the parallel
    restore (:mod:`runbook_helpers.restore.settle`).
    A difference marks the database FAILED and raises VerifyMismatch (exit 10): the DONE mark
    (and, for a parallel restore, the target's name) comes only after every check.
    """
    checked = None
    tar_stats, settled, dbname, safe_source = (
        restored.tar_stats,
        restored.settled,
        run.dbname,
        run.source.safe,
    )
    with connect(run.target.url, dbname=dbname) as conn:
        if tar_stats is not None:
            t0 = time.perf_counter()
            checked = compare(tar_stats.stats, table_stats(conn) if settled is None else settled)
            if settled is None:
                run.timings.add("row check", t0)
            # tables that were there before (--allow-non-empty) are not the archive's to judge
            bad = [
                c for c in checked if c.status not in ("ok", "-", "extra" if prior.tables else "ok")
            ]
            if bad:
                shown = ", ".join(f"{c.table} ({c.status})" for c in bad[:5])
                reason = f"{len(bad)} table(s) differ from the rows in the archive: {shown}"
                set_marker(
                    conn,
                    dbname,
                    MARKER_FAILED.format(source=safe_source, at=utc_now(), reason=reason[:200]),
                )
                raise VerifyMismatch(
                    f"{reason}; {dbname} is marked FAILED",
                    hint="the restore is not a faithful copy of the backup: do not use it; "
                    f"compare with `runbook verify --target URL --archive {safe_source}`",
                )
            run.stage(f"rows of {len(tar_stats.stats)} tables match the archive")
        if run.options.analyze and settled is None:
            t0 = time.perf_counter()
            conn.execute("analyze")
            run.stage(f"analyze took {run.timings.add('analyze', t0):.1f}s")
        tables = len(user_tables(conn))
        marker = MARKER_DONE.format(source=safe_source, at=utc_now())
        set_marker(conn, dbname, marker)
    return checked, marker, tables
