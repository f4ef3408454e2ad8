"""The ``.manifest.json`` written next to each backup: what a correct restore must contain.

Row counts are exact (``count(*)``), taken inside the same snapshot that pg_dump exports, so
they describe the archive itself and not the live database a moment later.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where it is used: a reader of archives needs no driver (150 ms)
    import psycopg

MANIFEST_FORMAT = "vlvt-runbooks/manifest@1"

_TABLES_QUERY = """
select n.nspname, c.relname,
       exists (select 1 from pg_attribute a
               where a.attrelid = c.oid and a.attname = 'created_at' and not a.attisdropped)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%'
  and not c.relispartition
order by 1, 2
"""


@dataclass(frozen=True)
class TableStats:
    """Exact row count and newest ``created_at`` (ISO text, None if no such column or no rows)."""

    rows: int
    newest_created_at: str | None = None


@dataclass(frozen=True)
class Manifest:
    """Facts about one backup object, stored as ``<key>.manifest.json``."""

    key: str
    created_at: str
    pg_dump_version: str
    server_version: str
    size_bytes: int
    sha256: str
    tables: dict[str, TableStats] = field(default_factory=dict)
    format: str = MANIFEST_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data: dict[str, Any] = json.loads(text)
        tables = {name: TableStats(**stats) for name, stats in data.pop("tables", {}).items()}
        return cls(tables=tables, **data)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls.from_json(path.read_text(encoding="utf-8"))


_OFFSET_HOURS = re.compile(r"([+-]\d\d)$")


def parse_pg_timestamp(text: str) -> datetime:
    """PostgreSQL's text form (``2026-11-20 03:00:00.123+00``, a date, ISO) as an aware datetime.

    ValueError for what Python cannot represent: ``infinity``, ``-infinity``, BC dates,
    years after 9999.
    """
    value = _OFFSET_HOURS.sub(r"\1:00", text.strip())
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalize_timestamp(value: datetime | str | None) -> str | None:
    """One spelling for comparing timestamps from databases, manifests and archives (UTC ISO).

    Values outside Python's range (``infinity``, BC, year 10000+) keep PostgreSQL's spelling.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = parse_pg_timestamp(value)
        except ValueError:
            return str(value).strip()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC).isoformat()
    except OverflowError:  # e.g. 0001-01-01 00:00+01 is before year 1 in UTC
        return value.isoformat()


def table_stats(conn: psycopg.Connection[Any]) -> dict[str, TableStats]:
    """Exact ``count(*)`` and ``max(created_at)`` of every user table, keyed ``schema.table``.

    Runs in the connection's current transaction, so a caller holding a REPEATABLE READ
    snapshot (the one it exported to pg_dump) counts exactly what the dump contains.
    """
    from psycopg import sql

    stats: dict[str, TableStats] = {}
    for schema, table, has_created_at in conn.execute(_TABLES_QUERY).fetchall():
        ident = sql.Identifier(schema, table)
        if has_created_at:
            # as text: 'infinity', BC and year-10000 values have no Python datetime
            query = sql.SQL("select count(*), max(created_at)::text from {}").format(ident)
        else:
            query = sql.SQL("select count(*), null from {}").format(ident)
        row = conn.execute(query).fetchone()
        assert row is not None
        count, newest = row
        stats[f"{schema}.{table}"] = TableStats(
            rows=int(count), newest_created_at=normalize_timestamp(newest)
        )
    return stats


@dataclass(frozen=True)
class TableCheck:
    table: str
    expected_rows: int | None
    actual_rows: int | None
    expected_newest: str | None
    actual_newest: str | None
    status: str  # ok | missing | extra | rows differ | newest differs | (no reference)


def _same_time(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    try:
        return normalize_timestamp(a) == normalize_timestamp(b)
    except ValueError:
        return a == b


def compare(
    expected: dict[str, TableStats] | None, actual: dict[str, TableStats]
) -> list[TableCheck]:
    """Side-by-side rows for every table on either side (pure function)."""
    if expected is None:
        return [
            TableCheck(name, None, s.rows, None, s.newest_created_at, "-")
            for name, s in sorted(actual.items())
        ]
    checks: list[TableCheck] = []
    for name in sorted(set(expected) | set(actual)):
        exp, act = expected.get(name), actual.get(name)
        if act is None:
            assert exp is not None
            checks.append(TableCheck(name, exp.rows, None, exp.newest_created_at, None, "missing"))
            continue
        if exp is None:
            checks.append(TableCheck(name, None, act.rows, None, act.newest_created_at, "extra"))
            continue
        if exp.rows != act.rows:
            status = "rows differ"
        elif not _same_time(exp.newest_created_at, act.newest_created_at):
            status = "newest differs"
        else:
            status = "ok"
        checks.append(
            TableCheck(
                name, exp.rows, act.rows, exp.newest_created_at, act.newest_created_at, status
            )
        )
    return checks
