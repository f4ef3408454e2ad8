"""``pgserver``: PostgreSQL 16 from the ``pgserver`` wheel (the major Railway runs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runbook_helpers.sandbox.backends.wheel import wheel_cluster
from runbook_helpers.sandbox.server import PostgresServer


@contextmanager
def pgserver_backend(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    """A cluster from the pgserver wheel's binaries."""
    with wheel_cluster("pgserver", "pgserver", workdir, major) as server:
        yield server
