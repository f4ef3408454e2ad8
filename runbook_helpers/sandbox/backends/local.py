"""``local``: this machine's PostgreSQL server binaries (e.g. Debian's 15)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runbook_helpers.sandbox.bin_dirs import local_bin_dir
from runbook_helpers.sandbox.cluster import cluster
from runbook_helpers.sandbox.server import PostgresServer


@contextmanager
def local_backend(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    """A cluster from the newest machine install (or the one of ``major``)."""
    bin_dir, _ = local_bin_dir(major)
    with cluster("local", bin_dir, workdir) as server:
        yield server
