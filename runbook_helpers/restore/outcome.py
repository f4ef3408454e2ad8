"""What a failed restore left, said exactly, and the target marked accordingly.

Rolled back into a database that already held data: it is left as it was (its comment too) and
nothing advises dropping it. Rolled back into an empty or new database: marked FAILED. Partly
restored (``-j``, or a plain dump that committed part of itself): marked FAILED; only a database
this restore created or found empty is called disposable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import psycopg
from psycopg import sql

from runbook_helpers.errors import (
    ExitStatus,
    Incompatible,
    IntegrityError,
    RestoreFailed,
    RunbookError,
)
from runbook_helpers.pg.marker import MARKER_FAILED, set_marker, utc_now
from runbook_helpers.pg.target import Target, connect


class Interrupted(RestoreFailed):
    """Ctrl-C or SIGTERM during the restore: exit 130, with what it left said."""

    status = ExitStatus.INTERRUPTED


@dataclass
class Prior:
    """What the target was before this restore touched it (decides what a failure says)."""

    created: bool = False
    tables: int = 0
    comment: str | None = None


def mark(target: Target, dbname: str, text: str | None) -> None:
    """Set (or, with None, clear) the marker; a failure to do so leaves IN PROGRESS in place,
    which verify reports just the same."""
    try:
        with connect(target.url, dbname=dbname) as conn:
            if text is None:
                conn.execute(
                    sql.SQL("comment on database {} is null").format(sql.Identifier(dbname))
                )
            else:
                set_marker(conn, dbname, text)
    except (RunbookError, psycopg.Error):
        pass


def fail(
    target: Target, dbname: str, source: str, partial: bool, prior: Prior, exc: BaseException
) -> NoReturn:
    """Say exactly what the failed restore left, mark the target accordingly, raise typed.

    A rolled-back restore into a database that already held data leaves it as it was, marker
    included, and never advises dropping it; only a database this restore created (or found
    empty) is called disposable.
    """
    reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc) or type(exc).__name__
    disposable = prior.created or prior.tables == 0
    drop = f"dropdb {dbname} (or DROP DATABASE {dbname}), fix the cause, then re-run the restore"
    if not partial:
        if disposable:
            mark(
                target,
                dbname,
                MARKER_FAILED.format(source=source, at=utc_now(), reason=reason[:200]),
            )
            message = f"{reason}; rolled back: nothing was restored into {dbname} (still empty)"
        else:
            mark(target, dbname, prior.comment)
            message = f"{reason}; rolled back: nothing was restored, {dbname} is as it was"
        hint = "fix the cause, then re-run the same command"
    else:
        mark(target, dbname, MARKER_FAILED.format(source=source, at=utc_now(), reason=reason[:200]))
        if disposable:
            message = (
                f"{reason}; the target database {dbname} is INCOMPLETE (partially restored): "
                "drop it and re-run"
            )
            hint = drop
        else:
            message = (
                f"{reason}; {dbname} already held data and now also holds part of this restore "
                "(INCOMPLETE, marked FAILED)"
            )
            hint = (
                f"{dbname} was not created by this restore: do not drop it; compare it with "
                "runbook verify --target URL and repair it, or restore into a new database"
            )
    if isinstance(exc, KeyboardInterrupt):
        raise Interrupted(message, hint=hint) from None
    cause = exc if isinstance(exc, RunbookError) else exc.__cause__
    if isinstance(cause, IntegrityError):
        raise IntegrityError(message, hint=cause.hint or hint) from None
    if isinstance(cause, Incompatible):
        raise Incompatible(message, hint=cause.hint or hint) from None
    raise RestoreFailed(message, hint=hint) from None
