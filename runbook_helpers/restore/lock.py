"""One restore per target at a time: a PostgreSQL advisory lock held for the whole restore.

The lock lives on a connection to the server's maintenance database (advisory locks are per
database) under a key derived from the target's name, so two ``runbook restore`` processes on
any machines that aim at one database exclude each other; the lock goes with the session, so a
killed restore never leaves it behind.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from runbook_helpers.errors import UnsafeTarget
from runbook_helpers.pg.target import Target, maintenance_connection


def lock_key(dbname: str) -> int:
    """A signed 64-bit advisory-lock key for restores into ``dbname``."""
    digest = hashlib.sha256(f"runbook restore {dbname}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def restore_lock(target: Target, dbname: str) -> Iterator[None]:
    """Hold the restore lock for ``dbname``; UnsafeTarget (exit 8) if another restore has it."""
    key = lock_key(dbname)
    with maintenance_connection(target) as conn:
        row = conn.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (row and row[0]):
            holder = conn.execute(
                "select l.pid, a.client_addr, a.backend_start from pg_locks l"
                " left join pg_stat_activity a on a.pid = l.pid"
                " where l.locktype = 'advisory' and l.granted"
                " and l.classid::bigint = %s and l.objid::bigint = %s and l.objsubid = 1",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
            ).fetchone()
            who = f" (server pid {holder[0]}, since {holder[2]:%H:%M:%S})" if holder else ""
            raise UnsafeTarget(
                f"another restore into {dbname} is running{who}; nothing was changed",
                hint="wait for it to end; runbook verify --target URL then shows how it went",
            )
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                conn.execute("select pg_advisory_unlock(%s)", (key,))
