"""Production known by what it is: its server's system identifier, recorded on this machine.

A host name says production only while the reader uses production's name: through
``railway connect --tunnel-only`` the server is ``localhost``, through an SSH forward or an IP
address it is whatever the reader typed. Every PostgreSQL cluster has a 64-bit *system
identifier*, chosen at ``initdb`` and kept by every physical copy of it (a Railway volume
backup, a point-in-time fork), readable by any role through ``pg_control_system()``.

``runbook`` records a server's identifier in :func:`records_path` (one JSON file) when it has
connected to it under a production host name, or with ``--production`` (the reader saying so).
From then on that server is production under any name. The record can only add refusals: no
entry ever makes a target *less* production than its host name says, so nothing a server or a
file says can switch the guard off. A file that cannot be read is an error, not an empty list.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_helpers.errors import UnsafeTarget

IDENTITY_SQL = "select system_identifier::text from pg_control_system()"
RECORDS_NAME = "production-servers.json"


@dataclass(frozen=True)
class ProductionServer:
    """One recorded production server."""

    system_identifier: str
    seen_as: str  # host:port it was reached as when recorded
    recorded_at: str  # ISO 8601, UTC


def records_path() -> Path:
    """``$XDG_CONFIG_HOME/runbook/production-servers.json`` (default ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "runbook" / RECORDS_NAME


def load_records(path: Path | None = None) -> list[ProductionServer]:
    """The recorded production servers (none when the file does not exist)."""
    path = path or records_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _unreadable(path, str(exc)) from None
    try:
        raw: Any = json.loads(text)
        return [ProductionServer(**entry) for entry in raw["servers"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise _unreadable(path, f"not a list of servers ({exc})") from None


def _unreadable(path: Path, why: str) -> UnsafeTarget:
    return UnsafeTarget(
        f"cannot read the record of production's servers {path}: {why}",
        hint="fix or delete that file; runbook writes it again the next time it reaches "
        "production under its host name or with --production",
    )


def recorded(identifier: str, path: Path | None = None) -> ProductionServer | None:
    """The record of ``identifier``, if it is a recorded production server."""
    for server in load_records(path):
        if server.system_identifier == identifier:
            return server
    return None


def remember(identifier: str, seen_as: str, path: Path | None = None) -> ProductionServer:
    """Record ``identifier`` as production (kept if already there); the file is replaced whole."""
    path = path or records_path()
    servers = load_records(path)
    for server in servers:
        if server.system_identifier == identifier:
            return server
    new = ProductionServer(identifier, seen_as, datetime.now(UTC).isoformat(timespec="seconds"))
    servers.append(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"servers": [asdict(s) for s in servers]}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{RECORDS_NAME}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return new
