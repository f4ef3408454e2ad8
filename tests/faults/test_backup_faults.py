"""``runbook backup`` faults: R2 stalls or refuses, the source is unreachable; nothing uploaded,
one error line + hint, no R2 secret or database password in the output."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.backup_files import seed_small
from tests.support.cli_checks import assert_clean_failure
from tests.support.tcp_servers import misbehaving_server
from tests.test_storage_support import auth_checking_moto, free_port, run_cli, write_profile

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PASSWORD = "Backup-Db-Pw-5521"


@pytest.fixture
def source(pg_url: str) -> str:
    seed_small(pg_url)
    return pg_url


@pytest.mark.parametrize("mode", ["stall", "close", "half"])  # half: the HEAD passes, upload stalls
def test_r2_endpoint_stalls_or_closes(
    mode: str, source: str, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    with misbehaving_server(mode) as endpoint:
        env = dict(sandbox_env, RUNBOOK_TIMEOUT="3")
        env.update(write_profile(tmp_path, "r2-vlvt", endpoint, "AKIDFAULT", SECRET))
        argv = ["backup", "--source", source]
        started = time.monotonic()
        result = run_cli(argv, env)
        assert time.monotonic() - started < 30
    assert_clean_failure(result, ExitStatus.UNREACHABLE, [SECRET], argv=argv)
    assert result.stdout == ""


def test_r2_wrong_credentials(source: str, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    with auth_checking_moto(tmp_path) as endpoint:
        env = dict(sandbox_env, **write_profile(tmp_path, "r2-vlvt", endpoint, "AKIDBAD", SECRET))
        argv = ["backup", "--source", source]
        result = run_cli(argv, env)
    assert_clean_failure(result, ExitStatus.ACCESS_DENIED, [SECRET], argv=argv)


def test_missing_bucket(source: str, sandbox_env: dict[str, str], r2_clean: R2Mock) -> None:
    argv = ["backup", "--source", source, "--bucket", "vlvt-backupz"]
    result = run_cli(argv, sandbox_env)
    assert_clean_failure(result, ExitStatus.NOT_FOUND, [r2_clean.secret_access_key], argv=argv)


def test_unreachable_source_hides_its_password(
    sandbox_env: dict[str, str], r2_clean: R2Mock
) -> None:
    argv = ["backup", "--source", f"postgresql://vlvt:{PASSWORD}@127.0.0.1:{free_port()}/db"]
    result = run_cli(argv, sandbox_env)
    assert_clean_failure(
        result, ExitStatus.UNREACHABLE, [PASSWORD, r2_clean.secret_access_key], argv=argv
    )
    assert r2_clean.client().list_objects_v2(Bucket=r2_clean.bucket).get("KeyCount", 0) == 0
