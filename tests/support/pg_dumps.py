"""Helpers for the Postgres-side tests (no tests here): a seeded source and dumps of it."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

from runbook_helpers.archive.header import max_archive_version
from runbook_helpers.produce.seed import seed
from runbook_helpers.sandbox.postgres import PostgresServer

# pg_dump flags and whether the output is gzip'd afterwards, per format name
DUMP_FORMATS: dict[str, tuple[str, bool]] = {
    "tar.gz": ("--format=tar", True),
    "tar": ("--format=tar", False),
    "custom": ("--format=custom", False),
    "custom.gz": ("--format=custom", True),
    "directory": ("--format=directory", False),
    "plain": ("--format=plain", False),
    "plain.gz": ("--format=plain", True),
}
SUFFIX = {
    "tar.gz": ".tar.gz",
    "tar": ".tar",
    "custom": ".dump",
    "custom.gz": ".dump.gz",
    "directory": ".dir",
    "plain": ".sql",
    "plain.gz": ".sql.gz",
}


def written_archive_version(pg_dump_major: int) -> str:
    """The archive version pg_dump of this major writes: 1.14 for 12-15, 1.15 for 16, 1.16 for
    17+ (the newest its own pg_restore reads), so expectations follow the server under test."""
    return max_archive_version(pg_dump_major)


def seed_database(server: PostgresServer, name: str, scale: float) -> str:
    url = server.create_database(name)
    seed(url, scale=scale, seed=7)
    return url


def pg_dump(
    server: PostgresServer,
    dbname: str,
    fmt: str,
    dest_dir: Path,
    *,
    pg_dump_bin: Path | None = None,
    name: str | None = None,
) -> Path:
    """Dump ``dbname`` in ``fmt`` (one of DUMP_FORMATS) into ``dest_dir``."""
    flag, gz = DUMP_FORMATS[fmt]
    tool = pg_dump_bin or (server.bin_dir / "pg_dump" if server.bin_dir else Path("pg_dump"))
    dest = dest_dir / ((name or dbname) + SUFFIX[fmt])
    raw = dest.with_name(dest.name.removesuffix(".gz") + ".raw") if gz else dest
    env = {**os.environ, **server.env()}
    subprocess.run([str(tool), flag, "--file", str(raw), "--dbname", dbname], env=env, check=True)
    if gz:
        with raw.open("rb") as src, gzip.open(dest, "wb", compresslevel=1) as out:
            shutil.copyfileobj(src, out)
        raw.unlink()
    return dest
