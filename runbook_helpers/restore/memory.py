"""``maintenance_work_mem`` for the index and constraint builds of a parallel restore.

``CREATE INDEX`` sorts, and the check of ``ADD FOREIGN KEY`` hashes, in ``maintenance_work_mem``
(64 MB unless the server sets more). ``--maintenance-work-mem SIZE`` raises it for the
``pg_restore --section=post-data -j N`` sessions only, through ``PGOPTIONS`` (a session setting:
nothing on the server changes; the rows, count and ANALYZE sessions keep the server's value),
and only ever raises: a server, role, database or ``PGOPTIONS`` setting that is already as large
is kept. The default is the server's own setting: up to 2 GB of VLVT data, 256MB was not
measurably faster (docs/time-estimates.md), and it is memory on the target server, which is
production's during an incident, up to N jobs times SIZE while the indexes build.
"""

from __future__ import annotations

import re

from runbook_helpers.pg.target import Target, connect

#: ``--maintenance-work-mem server`` (the default): the sessions keep the server's own setting
SERVER = "server"
DEFAULT = SERVER

_UNITS = {"kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3}
_SIZE = re.compile(r"\s*(\d+)\s*(kB|MB|GB|TB)\s*")
_MIN_KB = 1024  # PostgreSQL's minimum for maintenance_work_mem
_MAX_KB = 2**31 - 1  # and its maximum (64-bit servers)


def parse_size(text: str) -> int | None:
    """``"256MB"`` -> 262144 (kB, PostgreSQL's units and spelling); ``"server"`` -> None.
    ValueError says what is accepted."""
    if text.strip().lower() == SERVER:
        return None
    match = _SIZE.fullmatch(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a size: write it as PostgreSQL does (64MB, 512MB, 1GB), or "
            f"'{SERVER}' to keep the server's setting"
        )
    kb = int(match[1]) * _UNITS[match[2]]
    if not _MIN_KB <= kb <= _MAX_KB:
        raise ValueError(f"{text!r} is outside what PostgreSQL accepts (1MB to 2TB)")
    return kb


def format_kb(kb: int) -> str:
    """262144 -> ``"256MB"``, 1048576 -> ``"1GB"`` (the largest whole unit)."""
    for unit in ("TB", "GB", "MB"):
        if kb % _UNITS[unit] == 0:
            return f"{kb // _UNITS[unit]}{unit}"
    return f"{kb}kB"


def session_kb(target: Target, dbname: str) -> int:
    """``maintenance_work_mem`` a new session on ``dbname`` gets (server, role, database and
    this process's ``PGOPTIONS`` applied), in kB."""
    with connect(target.url, dbname=dbname) as conn:
        row = conn.execute(
            "select setting::bigint from pg_settings where name = 'maintenance_work_mem'"
        ).fetchone()
    return int(row[0]) if row else 0


def post_data_env(
    env: dict[str, str], have_kb: int, wanted_kb: int | None
) -> tuple[dict[str, str], str]:
    """The environment of the index builds, and what it gives each session (for the stage
    line): ``PGOPTIONS`` gains ``-c maintenance_work_mem=...`` only when that raises it."""
    have = format_kb(have_kb)
    if wanted_kb is None:
        return env, f"maintenance_work_mem {have}, the server's"
    if wanted_kb <= have_kb:
        return env, f"maintenance_work_mem {have}, already at least {format_kb(wanted_kb)}"
    options = f"{env.get('PGOPTIONS', '')} -c maintenance_work_mem={wanted_kb}kB".strip()
    return (
        {**env, "PGOPTIONS": options},
        f"maintenance_work_mem {format_kb(wanted_kb)} per job, raised from {have}",
    )
