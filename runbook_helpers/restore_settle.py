"""Count the rows and ANALYZE a restored side database while its indexes are being built.

In a parallel restore (:mod:`runbook_helpers.restore_parallel`) the rows are all loaded before
``pg_restore --section=post-data -j N`` starts, and post-data leaves cores idle (a foreign key
is checked by one process). So the row check (exact ``count(*)`` and newest ``created_at``) and
ANALYZE run then, on a connection of their own, in autocommit (ANALYZE takes one transaction
per table): each table's step waits for (and makes wait) only a post-data step on the same
table, never for long. Tables
with an expression index are analyzed once more at the end: ANALYZE gathers statistics for an
index expression only once that index exists.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg import sql

from runbook_helpers.manifest import TableStats, table_stats
from runbook_helpers.target import Target, connect

_EXPRESSION_INDEXED = """
select distinct n.nspname, c.relname
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
where i.indexprs is not null
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
"""


class Settle(threading.Thread):
    """Row counts then ANALYZE of ``dbname``, in the background; :meth:`result` joins."""

    def __init__(self, target: Target, dbname: str, analyze: bool) -> None:
        super().__init__(name="runbook-settle", daemon=True)
        self.url, self.dbname, self.analyze = target.url, dbname, analyze
        self.stats: dict[str, TableStats] = {}
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            with connect(self.url, dbname=self.dbname) as conn:
                self.stats = table_stats(conn)
                if self.analyze:  # outside a transaction block: one transaction per table
                    conn.execute("analyze")
        except BaseException as exc:  # re-raised by result() in the restoring thread
            self.error = exc

    def result(self) -> dict[str, TableStats]:
        """The rows counted (after the expression-indexed tables are analyzed again)."""
        self.join()
        if self.error is not None:
            raise self.error
        if self.analyze:
            with connect(self.url, dbname=self.dbname) as conn:
                _analyze_expression_indexed(conn)
        return self.stats


def _analyze_expression_indexed(conn: psycopg.Connection[Any]) -> None:
    for schema, table in conn.execute(_EXPRESSION_INDEXED).fetchall():
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier(schema, table)))
