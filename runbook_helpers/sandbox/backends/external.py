"""``external``: an existing server described by ``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg

from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.server import PostgresServer


@contextmanager
def external_backend(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    """Describe the server in ``PG*``; refuse when it is unreachable or not of ``major``."""
    host = os.environ.get("PGHOST", "")
    if not host:
        raise SandboxError(
            "RUNBOOK_PG=external needs PGHOST (and PGPORT, PGUSER, PGPASSWORD) "
            "to describe the server",
            hint="export PGHOST=... PGPORT=5432 PGUSER=postgres PGPASSWORD=...",
        )
    server = PostgresServer(
        "external",
        host,
        int(os.environ.get("PGPORT") or 5432),
        os.environ.get("PGUSER") or "postgres",
        os.environ.get("PGPASSWORD") or None,
        None,
        0,
    )
    try:
        server = replace(server, major=server.server_version_num() // 10000)
    except psycopg.Error as exc:
        raise SandboxError(
            f"cannot connect to the external server {host}:{server.port} as {server.user}: "
            f"{' '.join(str(exc).split())}",
            hint="check PGHOST/PGPORT/PGUSER/PGPASSWORD; the user needs CREATEDB",
        ) from exc
    if major is not None and server.major != major:
        raise SandboxError(
            f"the external server is PostgreSQL {server.major}, not {major}",
            hint="point PG* at a server of that version",
        )
    yield server
