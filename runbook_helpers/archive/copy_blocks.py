"""Rows and newest ``created_at`` of COPY blocks in SQL text, and PostgreSQL timestamp order.

Pure functions: what ``pg_restore --data-only -f -`` or a plain dump prints is counted line by
line here (:mod:`runbook_helpers.archive.pg_restore_counts`, :mod:`runbook_helpers.archive.counts`);
a
tar archive's data files are counted in C by :mod:`runbook_helpers.archive.row_counter`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from runbook_helpers.archive.copy_statement import parse_copy
from runbook_helpers.archive.manifest import TableStats, normalize_timestamp, parse_pg_timestamp


def parse_timestamp(text: str) -> datetime | None:
    """A COPY-text timestamp, e.g. ``2026-11-20 03:00:00.123+00``, as an aware datetime.

    None for NULL (``\\N``); ValueError for values Python cannot represent (see
    :func:`timestamp_order`).
    """
    if text == r"\N":
        return None
    return parse_pg_timestamp(text)


def timestamp_order(text: str) -> tuple[Any, ...]:
    """Sort key for PostgreSQL timestamp text: ``-infinity`` < BC < AD < ``infinity``."""
    value = text.strip()
    if value == "-infinity":
        return (0,)
    if value == "infinity":
        return (4,)
    if value.endswith(" BC"):  # larger years are older
        year, _, rest = value.removesuffix(" BC").partition("-")
        return (1, -int(year) if year.isdigit() else 0, rest)
    try:
        return (2, parse_pg_timestamp(value).timestamp())
    except (ValueError, OverflowError):  # year 10000 and later
        year = value.split("-", 1)[0]
        return (3, len(year), value)


def count_copy_blocks(lines: Iterable[str]) -> dict[str, TableStats]:
    """Rows and newest ``created_at`` of every COPY block in SQL text (pure; easy to test)."""
    stats: dict[str, TableStats] = {}
    it = iter(lines)
    for line in it:
        parsed = parse_copy(line.rstrip("\n"))
        if parsed is None:
            continue
        columns = parsed.columns
        created = columns.index("created_at") if "created_at" in columns else None
        rows = 0
        newest: str | None = None
        newest_key: tuple[Any, ...] = ()
        for row in it:
            if row.rstrip("\n") == "\\.":
                break
            rows += 1
            if created is not None:
                value = row.rstrip("\n").split("\t")[created]
                if value != r"\N":
                    key = timestamp_order(value)
                    if newest is None or key > newest_key:
                        newest, newest_key = value, key
        table = parsed.table
        stats[table] = TableStats(rows=rows, newest_created_at=normalize_timestamp(newest))
    return stats
