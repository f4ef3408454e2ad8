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

from concurrent.futures import ThreadPoolExecutor

from runbook_helpers.archive.manifest import TableStats, table_stats
from runbook_helpers.pg.target import Target, connect


def _analyze(url: str, dbname: str) -> None:
    with connect(url, dbname=dbname) as conn:
        conn.execute("analyze")  # outside a transaction block: one transaction per table


def _count(url: str, dbname: str) -> dict[str, TableStats]:
    with connect(url, dbname=dbname) as conn:
        return table_stats(conn)


def settle(target: Target, dbname: str, analyze: bool) -> dict[str, TableStats]:
    """The restored rows (exact counts, newest ``created_at``), with ANALYZE alongside; the
    first failure of either is raised."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="runbook-settle") as pool:
        analyzing = pool.submit(_analyze, target.url, dbname) if analyze else None
        stats = pool.submit(_count, target.url, dbname).result()
        if analyzing is not None:
            analyzing.result()
    return stats
