"""psql in restricted mode: nothing a dump says can run as a psql meta-command.

psql 13.22+/14.19+/15.14+/16.10+/17.6+ (PostgreSQL's fix for CVE-2025-8714) have
``\\restrict KEY``: after it every backslash command (``\\!``, ``\\connect``, ``\\o``,
``\\copy ... program``, ``\\g FILE``...) is refused until ``\\unrestrict KEY``. The key is random
per restore and never written anywhere a dump could read it back into psql's input, so a backup
cannot lift the restriction. pg_restore of the same releases writes the ``\\restrict`` line itself
when given ``--restrict-key``; for an older pg_restore it is sent to psql first.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import subprocess
from pathlib import Path

from runbook_helpers.errors import Incompatible, NotFound
from runbook_helpers.pg.tools import candidate_bin_dirs, find_tool

RESTRICTED_ERROR = "backslash commands are restricted"
# The first release of each major whose psql has \restrict (18 and later: all of them).
RESTRICT_SINCE: dict[int, int] = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}
RELEASES = ", ".join(f"{m}.{n}" for m, n in RESTRICT_SINCE.items()) + " or any 18"


def restrict_key() -> str:
    """A fresh random key (alphanumeric, as psql and pg_restore require)."""
    return secrets.token_hex(24)


@functools.cache
def _help(tool: Path) -> str:
    proc = subprocess.run(
        [str(tool), "--help=commands" if tool.name == "psql" else "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return proc.stdout


def psql_restricts(psql: Path) -> bool:
    """Whether this psql has ``\\restrict``."""
    return "\\restrict" in _help(psql)


def pg_restore_restricts(pg_restore: Path) -> bool:
    """Whether this pg_restore has ``--restrict-key``."""
    return "--restrict-key" in _help(pg_restore)


def restricted_psql(preferred: Path | None = None) -> Path:
    """A psql with ``\\restrict``: ``preferred`` (e.g. next to pg_restore), PATH, versioned dirs.

    Any psql can run any pg_restore's script (it only sends SQL), so the first one that can be
    restricted is taken. Incompatible (exit 7) names the releases that can when none here can.
    """
    candidates: list[Path] = [preferred] if preferred and preferred.exists() else []
    with contextlib.suppress(NotFound):
        candidates.append(find_tool("psql"))
    candidates += [d / "psql" for d in candidate_bin_dirs() if (d / "psql").exists()]
    for psql in candidates:
        if psql_restricts(psql):
            return psql
    tried = ", ".join(str(p) for p in dict.fromkeys(candidates)) or "none found"
    raise Incompatible(
        f"no psql here has restricted mode (\\restrict), which keeps a backup from running "
        f"psql meta-commands; looked at: {tried}",
        hint=f"install a current PostgreSQL client ({RELEASES}) and put it first on PATH",
    )
