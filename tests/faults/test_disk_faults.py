"""A disk that fills up mid-write (a real tiny tmpfs): exit 12, one line + hint, nothing left.

The backup writes its archive under $TMPDIR; a restore with ``--jobs`` unpacks a gzip'd
custom archive there, and one that compresses far better than the pre-check's 4x guess
passes the pre-check and then meets ENOSPC.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.backup_files import seed_small
from tests.support.cli_checks import assert_clean_failure
from tests.support.small_disk import run_runbook, small_disk

PASSWORD = "Disk-Full-Pw-91"
REPETITIVE = "create table blobs (id int, body text);" + (
    "insert into blobs select g, repeat('a', 2000) from generate_series(1, 1500) g;"
)


@pytest.fixture
def source(pg_url: str) -> str:
    seed_small(pg_url, REPETITIVE)
    return pg_url


def test_backup_on_a_full_disk_uploads_nothing(
    source: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        env = dict(sandbox_env, TMPDIR=str(disk))
        result = run_runbook(["backup", "--source", source], env)
        leftovers = list(disk.rglob("*"))
    assert_clean_failure(
        result,
        ExitStatus.NO_SPACE,
        [r2_clean.secret_access_key],
        argv=["backup", "--source", source],
    )
    assert "nothing was uploaded" in result.stderr and "TMPDIR" in result.stderr
    assert r2_clean.client().list_objects_v2(Bucket=r2_clean.bucket).get("KeyCount", 0) == 0
    assert leftovers == []


def test_restore_of_a_highly_compressible_custom_archive(
    source: str, pg_url: str, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    dump = subprocess.run(
        ["pg_dump", f"--dbname={source}", "--format=custom", "--compress=0"],
        capture_output=True,
        check=True,
        env=sandbox_env,
        timeout=120,
    ).stdout
    archive = tmp_path / "squeezed.dump.gz"
    archive.write_bytes(gzip.compress(dump, compresslevel=9))
    assert len(dump) > 20 * archive.stat().st_size  # far beyond the pre-check's 4x guess
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("create database faults_enospc_target")
    target = source.rsplit("/", 1)[0] + "/faults_enospc_target"
    try:
        with small_disk(tmp_path / "disk", 512) as disk:
            env = dict(sandbox_env, TMPDIR=str(disk))
            result = run_runbook(["restore", str(archive), "--target", target, "--jobs", "2"], env)
            leftovers = list(disk.rglob("*"))
        assert_clean_failure(
            result,
            ExitStatus.NO_SPACE,
            argv=["restore", str(archive), "--target", target, "--jobs", "2"],
        )
        assert leftovers == []
        with psycopg.connect(target) as conn:  # untouched
            tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'")
            assert tables.fetchone() == (0,)
    finally:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("drop database if exists faults_enospc_target with (force)")
