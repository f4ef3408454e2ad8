"""The side database of a restore, from creation to rename or drop; and the sessions on a database.

A restore loads into ``<target>_restore_<stamp>`` when it runs in parallel (*hidden*: once every
check has passed the copy takes the target's name, and any failure or Ctrl-C before that drops
it) or when asked to (``--side-db`` leaves it under its own name, ``--swap`` swaps it in).

Renaming needs databases no other session is connected to. Sessions are counted on the
connection that does the work - the restore's pre-check connection to the target, the
connection that renames - never on a second one opened for the count, so the restore's own
session is never among them. The restore's earlier sessions on the copy (its COPY, pg_restore
and check connections) have closed, but a closed session's backend stays listed for a moment;
those, and any other short-lived session, are waited out by one policy (:data:`WAIT_S`) that
the hidden rename and ``--swap`` share.

This is the one module of the restore that counts sessions (``pg_stat_activity``) and renames or
drops databases (tests/test_restore_shape.py checks it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

import psycopg
from psycopg import sql

from runbook_helpers import interrupts
from runbook_helpers.errors import RestoreFailed, RunbookError, UnsafeTarget
from runbook_helpers.pg.target import Target, create_database, derived_name, maintenance_connection
from runbook_helpers.redact import redact_text
from runbook_helpers.restore.outcome import Interrupted

#: how long sessions on the target or its copy are waited out before a rename is refused
WAIT_S = 10.0
_POLL_S = 0.05


def count_sessions(conn: psycopg.Connection[Any], *dbnames: str) -> dict[str, int]:
    """Sessions connected to each of ``dbnames`` (those with none left out), other than
    ``conn``'s own (an autocommit connection: ``pg_stat_activity`` is read afresh per
    statement). Autovacuum workers are not counted: they start on a freshly loaded copy within
    seconds and run for a while (VACUUM of 1 GB's largest table: 18 s), and ALTER DATABASE ...
    RENAME stops them itself (waiting up to 5 s for them)."""
    rows = conn.execute(
        "select datname, count(*) from pg_stat_activity where datname = any(%s)"
        " and pid <> pg_backend_pid() and backend_type is distinct from 'autovacuum worker'"
        " group by datname",
        (list(dbnames),),
    ).fetchall()
    return {str(d): int(n) for d, n in rows}


def drop(target: Target, dbname: str) -> bool:
    """Drop ``dbname`` (ending its sessions); False if that failed."""
    try:
        with maintenance_connection(target) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
            )
        return True
    except (psycopg.Error, Exception):
        return False


def swap(target: Target, side_db: str, stamp: str, *, wait_s: float = WAIT_S) -> str | None:
    """Rename ``target`` -> ``<target>_old_<stamp>`` (when it exists) and ``side_db`` ->
    ``target`` in one transaction, once no other session is connected to either; sessions are
    waited out for ``wait_s``, then UnsafeTarget (exit 8) says nothing was renamed and how to
    finish by hand. Returns the old database's new name (None: there was none)."""
    name = target.dbname
    old, _ = derived_name(name, f"_old_{stamp}")
    deadline = time.monotonic() + wait_s
    with maintenance_connection(target) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        renames = [(name, old)] if exists else []
        renames.append((side_db, name))
        while True:
            busy = count_sessions(conn, name, side_db)
            named = [d for d in (name, side_db) if d in busy] or [name]
            hint = _by_hand(conn, named, (name, old), side_db)
            if busy:  # a session on the restored copy (someone inspecting it) counts too
                where = " and ".join(f"{busy[d]} to {d}" for d in named)
                refused = UnsafeTarget(
                    f"cannot swap: session(s) are connected ({where}); nothing was renamed",
                    hint=hint,
                )
            else:
                try:
                    with conn.transaction():
                        for before, after in renames:
                            conn.execute(
                                sql.SQL("alter database {} rename to {}").format(
                                    sql.Identifier(before), sql.Identifier(after)
                                )
                            )
                    return old if exists else None
                except psycopg.Error as exc:
                    refused = UnsafeTarget(
                        f"cannot swap: {redact_text(str(exc)).strip()}; nothing was renamed",
                        hint=hint,
                    )
                    if not isinstance(exc, psycopg.errors.ObjectInUse):  # not a new session
                        raise refused from None
            if time.monotonic() > deadline:
                raise refused
            time.sleep(_POLL_S)


def _by_hand(
    conn: psycopg.Connection[Any], named: list[str], names: tuple[str, str], side_db: str
) -> str:
    """The hint of a refused rename: stop the sessions, then the two ALTER DATABASE lines."""
    name, old = names
    listed = ", ".join(sql.Literal(d).as_string(conn) for d in named)
    return (
        f"the restored copy is ready in {side_db}; stop the services using "
        f"{' and '.join(named)} (or SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname IN ({listed})), then: ALTER DATABASE {name} RENAME TO {old}; "
        f"ALTER DATABASE {side_db} RENAME TO {name};"
    )


class SideDatabase:
    """A restore's side database. :meth:`create` names and creates it; a *hidden* one (the
    parallel restore's, not asked for) is guarded: until :meth:`into_place`, an exception or
    Ctrl-C leaving the ``with`` block - between two steps of the restore as well as inside one -
    drops it and says the target is untouched."""

    def __init__(self, target: Target, stamp: str, *, hidden: bool) -> None:
        self.target = target
        self.stamp = stamp
        self.hidden = hidden
        self.name, self.shortened = derived_name(target.dbname, f"_restore_{stamp}")
        self._kept = not hidden

    def create(self, stage: Callable[[str], None]) -> None:
        if self.shortened:
            stage(f"side database name shortened to {self.name} (PostgreSQL keeps 63 bytes)")
        create_database(self.target, self.name)
        stage(f"created side database {self.name}")

    def into_place(self, stage: Callable[[str], None]) -> None:
        """Every check has passed: the hidden copy takes the target's name and the empty target
        it replaces is dropped. A refused rename leaves it ready under its side name (exit 8)."""
        interrupts.raise_if_interrupted()  # a Ctrl-C Python dropped: still hidden, so dropped
        self._kept = True
        replaced = swap(self.target, self.name, self.stamp)
        if replaced:
            drop(self.target, replaced)
        stage(f"renamed {self.name} to {self.target.dbname}")

    def swap_in(self, stage: Callable[[str], None]) -> str | None:
        """``--swap``: the copy takes the target's name, the previous one is kept (returned)."""
        interrupts.raise_if_interrupted()
        old = swap(self.target, self.name, self.stamp)
        if old and old != f"{self.target.dbname}_old_{self.stamp}":
            stage(f"previous database name shortened to {old} (63 bytes)")
        stage(
            f"swapped: {self.target.dbname} is the restored copy; the previous one is "
            f"{old or '(none existed)'}"
        )
        return old

    def __enter__(self) -> SideDatabase:
        return self

    def __exit__(self, typ: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None and not self._kept:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> NoReturn:
        """The hidden restore failed: drop the copy, say the target is untouched, keep the type
        (and hint) of the failure."""
        into, side = self.target.dbname, self.name
        left = (
            f"nothing was restored into {into} (the side database {side} was dropped)"
            if drop(self.target, side)
            else f"nothing was restored into {into}; the side database {side} could not be "
            "dropped: drop it by hand"
        )
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(f"interrupted; {left}", hint="re-run the same command") from None
        reason = (exc.reason if isinstance(exc, RunbookError) else str(exc)) or type(exc).__name__
        hint = exc.hint if isinstance(exc, RunbookError) and exc.hint else "fix the cause, re-run"
        error = type(exc) if isinstance(exc, RunbookError) else RestoreFailed
        cause = exc.__cause__
        if error is RestoreFailed and isinstance(cause, RunbookError):
            error = type(cause)
            hint = cause.hint or hint
        raise error(f"{reason}; {left}", hint=hint) from None
