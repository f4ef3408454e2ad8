"""Listing backups against the moto R2: order, subfolders, >1,000 objects, CLI output."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runbook_helpers.errors import ExitStatus, NotFound
from runbook_helpers.r2.backups import latest_backup, list_backups
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli


def now() -> datetime:
    """The time when a test runs (not when the module was collected: a long run drifts)."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str]) -> dict[str, str]:
    return sandbox_env


def put(r2: R2Mock, key: str, size: int = 10) -> None:
    r2.client().put_object(Bucket=r2.bucket, Key=key, Body=b"x" * size)


def test_newest_first_by_key_timestamp_not_last_modified(r2_clean: R2Mock) -> None:
    # uploaded newest first, so LastModified order is the reverse of the key order
    keys = [backup_key(now() - timedelta(days=d)) for d in range(3)]
    for key in keys:
        put(r2_clean, key)
    put(r2_clean, keys[2] + ".sha256")  # sidecars and other keys are ignored
    put(r2_clean, keys[2] + ".manifest.json")
    put(r2_clean, "README.txt")
    client = r2_clean.client()
    backups = list_backups(client, r2_clean.bucket)
    assert [b.key for b in backups] == keys
    assert backups[0].last_modified <= backups[2].last_modified
    assert latest_backup(client, r2_clean.bucket).key == keys[0]


def test_subfolder_listing_is_separate(r2_clean: R2Mock) -> None:
    root, sub = backup_key(now()), backup_key(now() - timedelta(hours=1), subfolder="prod")
    put(r2_clean, root)
    put(r2_clean, sub)
    client = r2_clean.client()
    assert [b.key for b in list_backups(client, r2_clean.bucket)] == [root]
    assert [b.key for b in list_backups(client, r2_clean.bucket, "prod")] == [sub]
    assert [b.key for b in list_backups(client, r2_clean.bucket, "/prod/")] == [sub]


def test_more_than_1000_objects(r2_clean: R2Mock, env: dict[str, str]) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    keys = [backup_key(base + timedelta(hours=i), subfolder="many") for i in range(1005)]
    r2_clean.put_many(keys)
    client = r2_clean.client()
    backups = list_backups(client, r2_clean.bucket, "many")
    assert len(backups) == 1005
    assert backups[0].key == keys[-1] and backups[-1].key == keys[0]
    result = run_cli(["backups", "list", "--subfolder", "many", "--json"], env)
    assert result.status == 0
    assert len(json.loads(result.stdout)) == 1005
    result = run_cli(["backups", "list", "--subfolder", "many", "--limit", "3"], env)
    assert len(result.stdout.splitlines()) == 1 + 3
    assert "3 of 1005 backups" in result.stderr


def test_cli_list_human_and_json(r2_clean: R2Mock, env: dict[str, str]) -> None:
    newest = backup_key(now() - timedelta(hours=2))
    older = backup_key(now() - timedelta(days=3))
    put(r2_clean, older, size=5)
    put(r2_clean, newest, size=int(1.5 * 1024 * 1024))
    result = run_cli(["backups", "list"], env)
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["TAKEN", "(UTC)", "AGE"]
    assert "2 h ago" in lines[1] and "1.5 MiB" in lines[1]
    assert lines[1].endswith(f"s3://{r2_clean.bucket}/{newest}")
    assert "3 d ago" in lines[2] and "5 B" in lines[2]
    data: list[dict[str, Any]] = json.loads(run_cli(["backups", "list", "--json"], env).stdout)
    assert [d["key"] for d in data] == [newest, older]
    assert data[0]["size"] == int(1.5 * 1024 * 1024)
    assert data[0]["taken_at"].endswith("Z")
    assert 7100 <= data[0]["age_seconds"] <= 7300


def test_cli_latest_prints_only_the_uri(r2_clean: R2Mock, env: dict[str, str]) -> None:
    newest = backup_key(now() - timedelta(minutes=5))
    put(r2_clean, newest)
    put(r2_clean, backup_key(now() - timedelta(days=1)))
    result = run_cli(["backups", "latest"], env)
    assert result.status == 0
    assert result.stdout == f"s3://{r2_clean.bucket}/{newest}\n"
    assert "min ago" in result.stderr
    data = json.loads(run_cli(["backups", "latest", "--json"], env).stdout)
    assert data["key"] == newest


def test_empty_bucket_is_not_found_with_hint(r2_clean: R2Mock, env: dict[str, str]) -> None:
    with pytest.raises(NotFound):
        latest_backup(r2_clean.client(), r2_clean.bucket)
    result = run_cli(["backups", "latest"], env)
    assert result.status == ExitStatus.NOT_FOUND
    assert (
        result.error_line
        == f"runbook: error: no backups (*.tar.gz named by the backup template) in s3://{r2_clean.bucket}/"
    )
    assert "runbook: hint:" in result.stderr
    assert result.stdout == ""


def test_empty_root_suggests_the_subfolder(r2_clean: R2Mock, env: dict[str, str]) -> None:
    put(r2_clean, backup_key(now(), subfolder="prod"))
    result = run_cli(["backups", "list"], env)
    assert result.status == ExitStatus.NOT_FOUND
    assert "runbook: hint: backups may be in a subfolder: try --subfolder prod" in result.stderr
    assert run_cli(["backups", "list", "--subfolder", "prod"], env).status == 0
    env2 = dict(env, RUNBOOK_SUBFOLDER="prod")
    assert run_cli(["backups", "latest"], env2).status == 0


def test_latest_before_a_moment(r2_clean: R2Mock, env: dict[str, str]) -> None:
    days = [datetime(2026, 1, d, 3, 0, 0, 123000, tzinfo=UTC) for d in (23, 24, 25)]
    for at in days:
        put(r2_clean, backup_key(at))
    client = r2_clean.client()
    assert latest_backup(client, r2_clean.bucket, before=days[1]).taken_at == days[1]
    result = run_cli(["backups", "latest", "--before", "2026-01-24T12:00:00Z"], env)
    assert result.stdout == f"s3://{r2_clean.bucket}/{backup_key(days[1])}\n"
    result = run_cli(["backups", "latest", "--before", "2026-01-24"], env)  # end of that day
    assert result.stdout == f"s3://{r2_clean.bucket}/{backup_key(days[1])}\n"
    result = run_cli(["backups", "latest", "--before", "2026-01-23T02:00:00Z"], env)
    assert result.status == ExitStatus.NOT_FOUND
    assert "no backup taken at or before 2026-01-23T02:00:00+00:00" in result.stderr
    result = run_cli(["backups", "latest", "--before", "yesterday"], env)
    assert result.status == ExitStatus.USAGE
    assert "is not a time" in result.stderr
