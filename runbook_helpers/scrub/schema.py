"""What a database holds: every column of every user table, and how it fits a policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from runbook_helpers.scrub.policy import Policy, short

_COLUMNS = """
select n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       coalesce(format_type(nullif(t.typelem, 0), null), format_type(a.atttypid, null)),
       t.typcategory = 'A', a.attnotnull
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
join pg_type t on t.oid = a.atttypid
where c.relkind in ('r', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%'
  and not c.relispartition
order by 1, a.attnum
"""


@dataclass(frozen=True)
class Column:
    table: str  # schema.table
    name: str
    type: str  # format_type, e.g. "text[]", "timestamp with time zone"
    element: str  # the element type of an array, else the type itself
    is_array: bool
    not_null: bool

    @property
    def where(self) -> str:
        return f"{short(self.table)}.{self.name}"


def read_columns(conn: psycopg.Connection[Any]) -> list[Column]:
    """Every column of every ordinary or partitioned table outside the system schemas."""
    return [Column(*row) for row in conn.execute(_COLUMNS).fetchall()]


def by_table(columns: list[Column]) -> dict[str, list[Column]]:
    tables: dict[str, list[Column]] = {}
    for col in columns:
        tables.setdefault(col.table, []).append(col)
    return tables


@dataclass(frozen=True)
class Coverage:
    """How a policy fits a database: what it misses and what it names that is not there."""

    missing: list[Column]
    stale: list[str]  # "table.column" / "table" in the policy but not in the database

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale


def coverage(policy: Policy, columns: list[Column]) -> Coverage:
    present = {(c.table, c.name) for c in columns}
    tables = {c.table for c in columns}
    missing = [c for c in columns if policy.rule(c.table, c.name) is None]
    stale: list[str] = []
    for table, tp in policy.tables.items():
        if table not in tables:
            stale.append(short(table))
            continue
        stale += [f"{short(table)}.{col}" for col in tp.columns if (table, col) not in present]
    return Coverage(missing, stale)
