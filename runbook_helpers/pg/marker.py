"""The restore marker: a ``COMMENT ON DATABASE`` saying how the last restore into it went.

It says "restore IN PROGRESS" until the restore has succeeded, so an interrupted restore is never
mistaken for a good one (``runbook verify`` reads it back with :func:`marker_state`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

MARKER_IN_PROGRESS = "runbook: restore IN PROGRESS from {source} started {at}"
MARKER_DONE = "runbook: restored from {source} at {at}"
MARKER_FAILED = "runbook: restore FAILED from {source} at {at}: {reason}"


def utc_now() -> datetime:
    """Now in UTC, to the second (as markers show it)."""
    return datetime.now(UTC).replace(microsecond=0)


def set_marker(conn: psycopg.Connection[Any], dbname: str, text: str) -> None:
    """Write ``text`` as the comment of database ``dbname``."""
    conn.execute(
        sql.SQL("comment on database {} is {}").format(sql.Identifier(dbname), sql.Literal(text))
    )


def read_marker(conn: psycopg.Connection[Any]) -> str | None:
    """The comment of the connected database, or None."""
    row = conn.execute(
        "select shobj_description(oid, 'pg_database') from pg_database "
        "where datname = current_database()"
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def marker_state(comment: str | None) -> str:
    """``restored`` | ``in_progress`` | ``failed`` | ``none`` for a database comment."""
    if not comment or not comment.startswith("runbook: "):
        return "none"
    if "IN PROGRESS" in comment:
        return "in_progress"
    if "FAILED" in comment:
        return "failed"
    if comment.startswith("runbook: restored from"):
        return "restored"
    return "none"
