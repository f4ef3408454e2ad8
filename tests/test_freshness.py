"""``runbook freshness``: OK, too old, too small (exit 11 STALE with the numbers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.r2.backups import check_freshness
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli


def now() -> datetime:
    """The time when a test runs (not when the module was collected: a long run drifts)."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str]) -> dict[str, str]:
    return sandbox_env


def daily(r2: R2Mock, sizes: list[int], newest_age: timedelta) -> None:
    """One backup a day, newest first in ``sizes``."""
    s3 = r2.client()
    for i, size in enumerate(sizes):
        key = backup_key(now() - newest_age - timedelta(days=i))
        s3.put_object(Bucket=r2.bucket, Key=key, Body=b"x" * size)


def test_ok(r2_clean: R2Mock, env: dict[str, str]) -> None:
    daily(r2_clean, [1000, 990, 1010, 1000, 980], timedelta(hours=3))
    result = run_cli(["freshness"], env)
    assert result.status == 0, result.stderr
    assert result.stdout.startswith("OK newest ")
    assert "age 3.0 h (max 25 h)" in result.stdout
    assert "ratio 1.01" in result.stdout  # 1000 vs the median 995 of the previous four
    assert len(result.stdout.splitlines()) == 1


def test_too_old(r2_clean: R2Mock, env: dict[str, str]) -> None:
    daily(r2_clean, [1000, 1000], timedelta(hours=30))
    result = run_cli(["freshness"], env)
    assert result.status == ExitStatus.STALE
    assert result.stdout.startswith("STALE newest backup is 30.0 h old (max 25.0 h)")
    assert run_cli(["freshness", "--max-age", "2d"], env).status == 0


def test_too_small(r2_clean: R2Mock, env: dict[str, str]) -> None:
    # the template's failure mode: a 20-byte gzip of nothing after weeks of real backups
    daily(r2_clean, [20, *[100_000] * 9], timedelta(hours=1))
    result = run_cli(["freshness"], env)
    assert result.status == ExitStatus.STALE
    assert "newest backup is 20 bytes, under 0.5 x the median 100000 bytes of the previous 7" in (
        result.stdout
    )
    report = check_freshness(r2_clean.client(), r2_clean.bucket, min_ratio=0.0001)
    assert report.ok and report.ratio == pytest.approx(0.0002)


def test_single_backup_has_no_size_baseline(r2_clean: R2Mock, env: dict[str, str]) -> None:
    daily(r2_clean, [20], timedelta(hours=1))
    result = run_cli(["freshness"], env)
    assert result.status == 0 and "ratio n/a" in result.stdout


def test_no_backups(env: dict[str, str]) -> None:
    result = run_cli(["freshness"], env)
    assert result.status == ExitStatus.NOT_FOUND
    assert "no backups" in result.error_line
