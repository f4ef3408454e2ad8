"""``runbook dev-snapshot``: latest backup -> scratch DB -> scrub + scan -> the dev bucket."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.produce.backup import create_backup
from runbook_helpers.produce.seed import seed
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from runbook_helpers.scrub.scan import EMAIL
from tests.fixtures.dev_snapshots import (
    DEV_PROFILE,
    DEV_WRITE_PROFILE,
    add_profile,
    reset_dev_bucket,
)
from tests.support.cli_runs import run_cli

POLICY = Path(__file__).resolve().parents[1] / "scrub" / "vlvt.yml"
SOURCE = "t_snapshot_source"
SCRATCH = "t_snapshot_scratch"


@pytest.fixture
def job_env(
    pg_server: PostgresServer, r2_clean: R2Mock, sandbox_env: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    """A production-like bucket with one template backup, an empty dev bucket, both profiles."""
    url = pg_server.create_database(SOURCE)
    try:
        seed(url, scale=0.03, seed=3)
        create_backup(url, r2_clean.client(), r2_clean.bucket)
    finally:
        pg_server.drop_database(SOURCE)
    reset_dev_bucket(r2_clean)
    env = dict(sandbox_env)
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env[var] = str(shutil.copy(env[var], tmp_path / Path(env[var]).name))
    add_profile(
        env,
        DEV_WRITE_PROFILE,
        r2_clean.endpoint,
        r2_clean.dev_write_key.access_key_id,
        r2_clean.dev_write_key.secret_access_key,
    )
    add_profile(
        env,
        DEV_PROFILE,
        r2_clean.endpoint,
        r2_clean.dev_read_key.access_key_id,
        r2_clean.dev_read_key.secret_access_key,
    )
    env["AWS_PROFILE"] = r2_clean.profile
    return env


def _dev_keys(r2: R2Mock) -> list[str]:
    listing = r2.client().list_objects_v2(Bucket="vlvt-dev-snapshots")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_dev_snapshot_publishes_only_a_scrubbed_verified_copy(
    pg_server: PostgresServer, r2_clean: R2Mock, job_env: dict[str, str], tmp_path: Path
) -> None:
    argv = ["dev-snapshot", "--policy", str(POLICY), "--scratch", pg_server.url(SCRATCH)]
    res = run_cli(argv, job_env, secrets=[r2_clean.secret_access_key])
    assert res.status == 0, res.stderr
    uri = res.stdout.strip()
    assert re.fullmatch(r"s3://vlvt-dev-snapshots/vlvt_dev_snapshot-[0-9T-]+Z\.tar\.gz", uri)
    assert "dump scan clean" in res.stderr
    assert SCRATCH not in pg_server.list_databases()  # the unscrubbed scratch copy is gone
    key = uri.split("/", 3)[3]
    assert _dev_keys(r2_clean) == [
        key,
        key + ".manifest.json",
        key + ".scrub.json",
        key + ".sha256",
    ]
    record = json.loads(
        r2_clean.client()
        .get_object(Bucket="vlvt-dev-snapshots", Key=key + ".scrub.json")["Body"]
        .read()
    )
    assert record["source"].startswith("s3://vlvt-backups/vlvt_backup_-")
    assert record["policy_sha256"] == hashlib.sha256(POLICY.read_bytes()).hexdigest()
    assert record["columns_rewritten"] == 11 and record["scan_findings"] == 0
    # the published archive itself: no address, photo URL or name from the source
    body = r2_clean.client().get_object(Bucket="vlvt-dev-snapshots", Key=key)["Body"].read()
    text = gzip.decompress(body).decode("utf-8", "replace")
    emails = set(re.findall(EMAIL, text))
    assert emails and all(e.endswith("@example.invalid") for e in emails)
    assert "cdn.vlvt.example" not in text and "Coffee first, then adventures." not in text
    # and developers restore it like any backup, checksum verified
    target = pg_server.url("t_snapshot_restored")
    try:
        res = run_cli(
            [
                "restore",
                "latest",
                "--profile",
                DEV_PROFILE,
                "--bucket",
                "vlvt-dev-snapshots",
                "--target",
                target,
                "--create",
            ],
            job_env,
        )
        assert res.status == 0, res.stderr
        assert "sha256 verified" in res.stdout
        with psycopg.connect(target) as conn:
            row = conn.execute("select count(*) from users").fetchone()
        assert row is not None and row[0] == 60
    finally:
        pg_server.drop_database("t_snapshot_restored")


def test_dev_snapshot_with_an_outdated_policy_publishes_nothing(
    pg_server: PostgresServer, r2_clean: R2Mock, job_env: dict[str, str], tmp_path: Path
) -> None:
    policy = tmp_path / "old.yml"
    policy.write_text(POLICY.read_text().replace("    photos: fake json", ""))
    argv = ["dev-snapshot", "--policy", str(policy), "--scratch", pg_server.url(SCRATCH)]
    res = run_cli(argv, job_env)
    assert res.status == ExitStatus.INCOMPATIBLE, res.stderr
    assert "profiles.photos" in res.error_line
    assert _dev_keys(r2_clean) == []
    assert SCRATCH not in pg_server.list_databases()


def test_dev_snapshot_whose_scan_finds_personal_data_publishes_nothing(
    pg_server: PostgresServer, r2_clean: R2Mock, job_env: dict[str, str], tmp_path: Path
) -> None:
    policy = tmp_path / "leaky.yml"
    policy.write_text(POLICY.read_text().replace("email: fake email", "email: keep"))
    argv = ["dev-snapshot", "--policy", str(policy), "--scratch", pg_server.url(SCRATCH)]
    res = run_cli(argv, job_env)
    assert res.status == ExitStatus.VERIFY_MISMATCH, res.stderr
    assert "runbook: found users: email u***p (" in res.stderr
    assert "@example.vlvt.app" not in res.stderr  # masked
    assert _dev_keys(r2_clean) == []
    assert SCRATCH not in pg_server.list_databases()
