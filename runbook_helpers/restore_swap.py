"""Swap a restored side database in under the target's name, atomically."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from runbook_helpers.errors import UnsafeTarget
from runbook_helpers.redact import redact_text
from runbook_helpers.target import Target, derived_name, maintenance_connection

#: Autovacuum works on a freshly loaded copy for a while (VACUUM of 1 GB's largest table: 18 s,
#: starting seconds after the restore); it is not a session to wait for: ALTER DATABASE ...
#: RENAME stops autovacuum workers itself (and waits up to 5 s for them).
NOT_AUTOVACUUM = "backend_type is distinct from 'autovacuum worker'"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def swap_databases(target: Target, side_db: str, stamp: str) -> str | None:
    """Rename ``target`` -> ``<target>_old_<stamp>`` and ``side_db`` -> ``target`` atomically."""
    name = target.dbname
    old, _ = derived_name(name, f"_old_{stamp}")
    with maintenance_connection(target) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        rows = conn.execute(
            "select datname, count(*) from pg_stat_activity where datname in (%s, %s) "
            f"and pid <> pg_backend_pid() and {NOT_AUTOVACUUM} group by datname",
            (name, side_db),
        ).fetchall()
        busy = sorted(((str(d), int(n)) for d, n in rows), key=lambda dn: dn[0] != name)
        hint = (
            f"the restored copy is ready in {side_db}; stop the services using "
            f"{' and '.join(d for d, _ in busy) or name} (or SELECT pg_terminate_backend(pid) "
            "FROM pg_stat_activity WHERE datname IN ("
            f"{', '.join(_literal(d) for d, _ in busy) or _literal(name)})), "
            f"then: ALTER DATABASE {name} RENAME TO {old}; "
            f"ALTER DATABASE {side_db} RENAME TO {name};"
        )
        if busy:  # named: a session on the restored copy (someone inspecting it) counts too
            where = " and ".join(f"{n} to {d}" for d, n in busy)
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
