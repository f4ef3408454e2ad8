"""Time faults: keys dated in the future, and timestamps outside Python's range.

A future key (clock fault, hand-made key) is named in a warning and never becomes ``latest``
nor makes ``freshness`` say OK; ``infinity``, BC and year-10000 values in ``created_at`` are
counted and compared, never a traceback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.backup_files import dump_tar_gz, seed_small
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli

FUTURE_KEY = "vlvt_backup_-2099-01-01T03-00-00-000Z.tar.gz"
ODD_TIMES = """
insert into users (email, created_at) values
    ('inf@x', 'infinity'), ('bc@x', '0044-03-15 00:00:00+00 BC'), ('far@x', '10000-01-01 00:00+00');
insert into messages (body, created_at) values ('neg', '-infinity'), ('bc', '4713-01-01 BC');
"""


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str]) -> dict[str, str]:
    return sandbox_env


def put(r2: R2Mock, key: str, size: int = 1000) -> None:
    r2.client().put_object(Bucket=r2.bucket, Key=key, Body=b"x" * size)


def warnings_naming(stderr: str, key: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("runbook: warning:") and key in ln]


def test_future_key_is_never_latest(r2_clean: R2Mock, env: dict[str, str]) -> None:
    real = backup_key(datetime.now(UTC) - timedelta(hours=2))
    put(r2_clean, real)
    put(r2_clean, FUTURE_KEY)
    result = run_cli(["backups", "latest"], env)
    assert result.status == 0, result.stderr
    assert result.stdout.strip() == f"s3://{r2_clean.bucket}/{real}"
    assert len(warnings_naming(result.stderr, FUTURE_KEY)) == 1, result.stderr
    assert "in the future" in result.stderr
    listed = run_cli(["backups", "list"], env)  # still listed, with the same warning
    assert FUTURE_KEY in listed.stdout and warnings_naming(listed.stderr, FUTURE_KEY)


def test_future_key_does_not_make_freshness_ok(r2_clean: R2Mock, env: dict[str, str]) -> None:
    put(r2_clean, backup_key(datetime.now(UTC) - timedelta(days=3)))
    put(r2_clean, FUTURE_KEY)
    result = run_cli(["freshness"], env)
    assert result.status == ExitStatus.STALE, result.stdout + result.stderr
    assert result.stdout.startswith("STALE newest backup is 72.0 h old")
    assert FUTURE_KEY not in result.stdout
    assert len(warnings_naming(result.stderr, FUTURE_KEY)) == 1


def test_fresh_backup_next_to_a_future_key(r2_clean: R2Mock, env: dict[str, str]) -> None:
    real = backup_key(datetime.now(UTC) - timedelta(hours=1))
    put(r2_clean, real)
    put(r2_clean, FUTURE_KEY)
    result = run_cli(["freshness"], env)
    assert result.status == 0 and real in result.stdout, result.stdout + result.stderr
    assert warnings_naming(result.stderr, FUTURE_KEY)


def test_only_future_keys_is_not_found(r2_clean: R2Mock, env: dict[str, str]) -> None:
    put(r2_clean, FUTURE_KEY)
    for argv in (["backups", "latest"], ["freshness"], ["fetch", "latest"]):
        result = run_cli(argv, env)
        assert_clean_failure(result, ExitStatus.NOT_FOUND, [r2_clean.secret_access_key], argv=argv)
        assert "1 key(s) dated in the future were ignored" in result.error_line


def test_a_few_minutes_of_clock_skew_is_tolerated(r2_clean: R2Mock, env: dict[str, str]) -> None:
    soon = backup_key(datetime.now(UTC) + timedelta(minutes=2))
    put(r2_clean, soon)
    result = run_cli(["backups", "latest"], env)
    assert result.status == 0 and soon in result.stdout
    assert "warning" not in result.stderr


@pytest.fixture
def odd_db(pg_url: str) -> str:
    seed_small(pg_url, ODD_TIMES)
    return pg_url


def test_verify_with_infinity_and_bc_timestamps(
    odd_db: str, env: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli(["verify", "--target", odd_db, "--json"], env)
    assert result.status == 0, result.stderr
    tables = {t["table"]: t for t in json.loads(result.stdout)["tables"]}
    assert tables["public.users"]["actual_newest"] == "infinity"
    assert tables["public.messages"]["actual_newest"] == "2026-01-02T00:50:00+00:00"
    assert run_cli(["verify", "--target", odd_db, "--against", odd_db], env).status == 0
    archive = tmp_path / "odd.tar.gz"
    dump_tar_gz(odd_db, archive, env)
    result = run_cli(["verify", "--target", odd_db, "--archive", str(archive)], env)
    assert result.status == 0, result.stdout + result.stderr


def test_verify_notices_a_changed_infinite_timestamp(
    odd_db: str, env: dict[str, str], tmp_path: Path
) -> None:
    archive = tmp_path / "odd.tar.gz"
    dump_tar_gz(odd_db, archive, env)
    with psycopg.connect(odd_db, autocommit=True) as conn:
        conn.execute("update users set created_at = '2026-05-01' where email = 'inf@x'")
    result = run_cli(["verify", "--target", odd_db, "--archive", str(archive)], env)
    assert_clean_failure(
        result,
        ExitStatus.VERIFY_MISMATCH,
        argv=["verify", "--target", odd_db, "--archive", str(archive)],
    )
    assert "public.users (newest differs)" in result.error_line


def test_backup_of_a_database_with_infinity(
    odd_db: str, env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    writer = {**env, **r2_clean.writer_env(tmp_path / "aws")}  # a backup needs the writer token
    result = run_cli(
        ["backup", "--source", odd_db, "--at", "2026-01-25T03:00:00Z"],
        writer,
        secrets=r2_clean.secrets,
    )
    assert result.status == 0, result.stderr
    key = "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz.manifest.json"
    body = r2_clean.client().get_object(Bucket=r2_clean.bucket, Key=key)["Body"].read()
    manifest = json.loads(body)
    assert manifest["tables"]["public.users"] == {"rows": 303, "newest_created_at": "infinity"}


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "2026-13-01", "never"]
)
def test_backup_at_out_of_range(at: str, env: dict[str, str], pg_url: str) -> None:
    result = run_cli(["backup", "--source", pg_url, "--at", at], env)
    assert_clean_failure(result, ExitStatus.USAGE, argv=["backup", "--source", pg_url, "--at", at])
    assert "--at" in result.error_line


@pytest.mark.parametrize(
    "argv",
    [
        ["freshness", "--max-age", "99999999999999d"],
        ["freshness", "--max-age", "9" * 30],
        ["freshness", "--min-ratio", "nan"],
        ["presign", "s3://vlvt-backups/k.tar.gz", "--expires", "99999999999999w"],
        ["backups", "latest", "--before", "10000-01-01"],
        ["backup", "--at", "0000-01-01T00:00:00Z"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_out_of_range_arguments_are_usage_errors(
    argv: list[str], env: dict[str, str], pg_url: str
) -> None:
    argv = [*argv, "--source", pg_url] if argv[0] == "backup" else argv
    result = run_cli(argv, env)
    assert result.status == ExitStatus.USAGE, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_before_far_in_the_past_finds_nothing(r2_clean: R2Mock, env: dict[str, str]) -> None:
    put(r2_clean, backup_key(datetime.now(UTC) - timedelta(hours=1)))
    argv = ["backups", "latest", "--before", "0001-01-01T00:00:00+01:00"]
    assert_clean_failure(run_cli(argv, env), ExitStatus.NOT_FOUND, argv=argv)
