"""Swap a restored side database in under the target's name, atomically."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from runbook_helpers.errors import UnsafeTarget
from runbook_helpers.pg.target import Target, derived_name, maintenance_connection
from runbook_helpers.redact import redact_text


def connected_sessions(
    conn: psycopg.Connection[Any], *dbnames: str, settle_s: float = 1.0
) -> dict[str, int]:
    """Sessions connected to each of ``dbnames`` (those with none left out), other than
    ``conn``'s (an autocommit connection: ``pg_stat_activity`` is read once per transaction).
    Autovacuum workers are not counted: they start on a freshly loaded copy within seconds and
    run for a while (VACUUM of 1 GB's largest table: 18 s), and ALTER DATABASE ... RENAME stops
    them itself (waiting up to 5 s for them). A session that has just closed (the pre-checks'
    own, a restore's COPY and pg_restore sessions) stays listed until its backend has exited,
    so a count above zero is asked again, every 50 ms, for up to ``settle_s``."""
    deadline = time.monotonic() + settle_s
    while True:
        rows = conn.execute(
            "select datname, count(*) from pg_stat_activity where datname = any(%s)"
            " and pid <> pg_backend_pid() and backend_type is distinct from 'autovacuum worker'"
            " group by datname",
            (list(dbnames),),
        ).fetchall()
        if not rows or time.monotonic() > deadline:
            return {str(d): int(n) for d, n in rows}
        time.sleep(0.05)


def swap_databases(target: Target, side_db: str, stamp: str) -> str | None:
    """Rename ``target`` -> ``<target>_old_<stamp>`` and ``side_db`` -> ``target`` atomically."""
    name = target.dbname
    old, _ = derived_name(name, f"_old_{stamp}")
    with maintenance_connection(target) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        busy = connected_sessions(conn, name, side_db)  # the target's first, then the copy's
        named = [d for d in (name, side_db) if d in busy] or [name]
        hint = (
            f"the restored copy is ready in {side_db}; stop the services using "
            f"{' and '.join(named)} (or SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname IN ({', '.join(sql.Literal(d).as_string(conn) for d in named)})), "
            f"then: ALTER DATABASE {name} RENAME TO {old}; "
            f"ALTER DATABASE {side_db} RENAME TO {name};"
        )
        if busy:  # named: a session on the restored copy (someone inspecting it) counts too
            where = " and ".join(f"{busy[d]} to {d}" for d in named)
            raise UnsafeTarget(
                f"cannot swap: session(s) are connected ({where}); nothing was renamed",
                hint=hint,
            )
        try:
            with conn.transaction():
                if exists:
                    conn.execute(
                        sql.SQL("alter database {} rename to {}").format(
                            sql.Identifier(name), sql.Identifier(old)
                        )
                    )
                conn.execute(
                    sql.SQL("alter database {} rename to {}").format(
                        sql.Identifier(side_db), sql.Identifier(name)
                    )
                )
        except psycopg.Error as exc:
            raise UnsafeTarget(
                f"cannot swap: {redact_text(str(exc)).strip()}; nothing was renamed", hint=hint
            ) from None
    return old if exists else None


def swap_in(
    target: Target, side_db: str, stamp: str, stages: dict[str, float], stage: Callable[[str], None]
) -> str | None:
    """:func:`swap_databases`, timed as the "swap" stage and told through ``stage``."""
    t0 = time.perf_counter()
    swapped_old = swap_databases(target, side_db, stamp)
    if swapped_old and swapped_old != f"{target.dbname}_old_{stamp}":
        stage(f"previous database name shortened to {swapped_old} (63 bytes)")
    stages["swap"] = time.perf_counter() - t0
    stage(
        f"swapped: {target.dbname} is the restored copy; the previous one is "
        f"{swapped_old or '(none existed)'}"
    )
    return swapped_old
