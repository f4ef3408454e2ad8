"""A cluster from a wheel that ships PostgreSQL binaries (shared by ``pgserver``/``embedded``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runbook_helpers.pg.tools import tool_version
from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.bin_dirs import wheel_bin_dir
from runbook_helpers.sandbox.cluster import cluster
from runbook_helpers.sandbox.server import PostgresServer


@contextmanager
def wheel_cluster(
    kind: str, package: str, workdir: Path | None, major: int | None
) -> Iterator[PostgresServer]:
    """Start a cluster from ``package``'s binaries; refuse when they are not of ``major``."""
    bin_dir = wheel_bin_dir(package)
    found, _ = tool_version(bin_dir / "postgres")
    if major is not None and found != major:
        raise SandboxError(
            f"the {package} wheel ships PostgreSQL {found}, not {major}",
            hint="RUNBOOK_PG=local (Debian's), pgserver (16), embedded (18) or docker (any)",
        )
    with cluster(kind, bin_dir, workdir) as server:
        yield server
