"""Every exit code in docs/troubleshooting.md's table is produced by some fault in tests/faults/.

The remaining codes not reached elsewhere here: 8 (unsafe target), 9 (incomplete restore seen
by verify) and 13 (backup failed).
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.pg.marker import MARKER_IN_PROGRESS, set_marker
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.backup_files import dump_tar_gz, seed_small
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli
from tests.test_backup_producer import fake_pg_dump

HERE = Path(__file__).parent


def test_every_exit_code_has_a_fault_test() -> None:
    used = set()
    for path in HERE.glob("test_*.py"):
        used |= set(re.findall(r"ExitStatus\.([A-Z_]+)", path.read_text(encoding="utf-8")))
    missing = {s.name for s in ExitStatus} - {"OK"} - used
    assert not missing, f"no fault test asserts {sorted(missing)}"


def test_unsafe_target_exit_8(pg_url: str, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    seed_small(pg_url)
    archive = tmp_path / "b.tar.gz"
    dump_tar_gz(pg_url, archive, sandbox_env)
    argv = ["restore", str(archive), "--target", pg_url]
    assert_clean_failure(run_cli(argv, sandbox_env), ExitStatus.UNSAFE_TARGET, argv=argv)


def test_incomplete_restore_exit_9(pg_url: str, sandbox_env: dict[str, str]) -> None:
    seed_small(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        dbname = conn.info.dbname
        marker = MARKER_IN_PROGRESS.format(source="s3://b/k.tar.gz", at="2026-01-25T03:00:00Z")
        set_marker(conn, dbname, marker)
    argv = ["verify", "--target", pg_url]
    result = run_cli(argv, sandbox_env)
    assert_clean_failure(result, ExitStatus.RESTORE_FAILED, argv=argv)
    assert "INCOMPLETE" in result.error_line


@pytest.mark.parametrize("body", ["echo 'pg_dump: error: lost' >&2\nexit 1\n", "exit 0\n"])
def test_backup_failed_exit_13(
    body: str, pg_url: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    seed_small(pg_url)
    fake_pg_dump(tmp_path / "bin", body)  # first on the sandbox's PATH, not the process's
    env = dict(sandbox_env, PATH=f"{tmp_path / 'bin'}:{sandbox_env['PATH']}")
    argv = ["backup", "--source", pg_url]
    result = run_cli(argv, env)
    assert_clean_failure(result, ExitStatus.BACKUP_FAILED, [r2_clean.secret_access_key], argv=argv)
    assert r2_clean.client().list_objects_v2(Bucket=r2_clean.bucket).get("KeyCount", 0) == 0
