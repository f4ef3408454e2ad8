"""Count the rows of a parallel restore's side database while ANALYZE runs on another session.

Runs once ``pg_restore --section=post-data -j N`` has finished, not during it: ANALYZE's lock
(SHARE UPDATE EXCLUSIVE) conflicts with CREATE INDEX (SHARE) and ADD FOREIGN KEY (SHARE ROW
EXCLUSIVE), and ``count(*)`` waits behind ADD PRIMARY KEY (ACCESS EXCLUSIVE), so running them
alongside post-data made the pg_restore workers queue behind them (measured at 1 GB on 2 cores:
median 29.0 s with them during post-data, 28.0 s after it). The two need no lock of each
other, so the exact ``count(*)`` and newest ``created_at`` of every table are taken on one
connection while ANALYZE (one transaction per table, autocommit) runs on a second; with every
index built, ANALYZE also gathers the statistics of expression indexes.
"""

from __future__ import annotations

import threading

from runbook_helpers.manifest import TableStats, table_stats
from runbook_helpers.target import Target, connect


class _Analyze(threading.Thread):
    """``ANALYZE`` of ``dbname`` on a connection of its own; :meth:`done` joins."""

    def __init__(self, url: str, dbname: str) -> None:
        super().__init__(name="runbook-analyze", daemon=True)
        self.url, self.dbname = url, dbname
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            with connect(self.url, dbname=self.dbname) as conn:
                conn.execute("analyze")  # outside a transaction block: one per table
        except BaseException as exc:  # re-raised by done() in the restoring thread
            self.error = exc

    def done(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


def settle(target: Target, dbname: str, analyze: bool) -> dict[str, TableStats]:
    """The restored rows (exact counts, newest ``created_at``), with ANALYZE alongside."""
    analyzing = _Analyze(target.url, dbname) if analyze else None
    try:
        with connect(target.url, dbname=dbname) as conn:
            stats = table_stats(conn)
    finally:
        if analyzing is not None:
            analyzing.done()
    return stats
